//! Errors of the loaders: each names the file, the line and, where there is one, the column.

use std::fmt;

/// Where in an input file something was wrong. Lines count from 1 and include the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the operator named it (or a label such as `universe` for a check across files), so the
    /// message points where they can look.
    pub file: String,
    /// The line, counting the header as line 1; `None` when the problem is with the file as a whole.
    pub line: Option<u64>,
    /// The header name of the offending column, when one cell (not the whole row) is at fault.
    pub column: Option<String>,
}

impl Location {
    /// A problem with the file as a whole (unreadable, empty, inconsistent with another file).
    pub fn file(file: &str) -> Self {
        Location { file: file.to_owned(), line: None, column: None }
    }

    /// A problem with one row (a malformed record, a repeated id).
    pub fn line(file: &str, line: u64) -> Self {
        Location { file: file.to_owned(), line: Some(line), column: None }
    }

    /// A problem with one value: the row and the column together, the most precise place to point at.
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
    /// The file could not be opened or read (missing, unreadable, not UTF-8 text).
    #[error("{at}: cannot read the file")]
    Io {
        /// The file that failed.
        at: Location,
        /// What the operating system said, kept as the error's source so the chain reaches the user.
        #[source]
        source: std::io::Error,
    },
    /// The file has not even a header line, so there is nothing to say which column is which.
    #[error("{at}: the file is empty (expected a header line)")]
    Empty {
        /// The empty file.
        at: Location,
    },
    /// A column the loader needs is not in the header (columns are found by name, not position).
    #[error("{at}: the header has no column `{column}` (it has: {found})")]
    MissingColumn {
        /// The header line of the file.
        at: Location,
        /// The name the loader looked for.
        column: String,
        /// The header's columns, comma-separated, so a misspelling is easy to spot.
        found: String,
    },
    /// A value, row or file that was read but makes no sense (not a number, a repeated id, a dangling
    /// reference).
    #[error("{at}: {problem}")]
    Invalid {
        /// As precisely as known: the cell, else the row, else the file.
        at: Location,
        /// What is wrong, in words the operator can act on.
        problem: String,
    },
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
