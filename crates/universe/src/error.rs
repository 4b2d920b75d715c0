//! Errors of the loaders: each names the file, the line and, where there is one, the column.

use std::fmt;

/// Where in an input file something was wrong. Lines count from 1 and include the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: &str) -> Self {
        Location { file: file.to_owned(), line: None, column: None }
    }

    pub fn line(file: &str, line: u64) -> Self {
        Location { file: file.to_owned(), line: Some(line), column: None }
    }

    pub fn cell(file: &str, line: u64, column: &str) -> Self {
        Location { file: file.to_owned(), line: Some(line), column: Some(column.to_owned()) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        Ok(())
    }
}

/// Why an input file could not be turned into a universe or a load profile.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{at}: cannot read the file")]
    Io {
        at: Location,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: the file is empty (expected a header line)")]
    Empty { at: Location },
    #[error("{at}: the header has no column `{column}` (it has: {found})")]
    MissingColumn { at: Location, column: String, found: String },
    #[error("{at}: {problem}")]
    Invalid { at: Location, problem: String },
}

impl LoadError {
    /// Where the problem is, for callers that want to point at it.
    pub fn location(&self) -> &Location {
        match self {
            LoadError::Io { at, .. }
            | LoadError::Empty { at }
            | LoadError::MissingColumn { at, .. }
            | LoadError::Invalid { at, .. } => at,
        }
    }

    /// A value that is wrong where it stands, with what is wrong about it.
    pub fn invalid(at: Location, problem: impl Into<String>) -> Self {
        LoadError::Invalid { at, problem: problem.into() }
    }
}
