//! A thin layer over the `csv` crate that turns every problem into a [`LoadError`] naming file, line and
//! column, and finds columns by header name so that extra columns and any column order are accepted.

use std::io::Read;
use std::str::FromStr;

use crate::{LoadError, Location};

/// A named input: the name is what error messages show (usually the path).
pub struct Input<'a> {
    pub name: &'a str,
    pub reader: &'a mut dyn Read,
}

impl<'a> Input<'a> {
    pub fn new(name: &'a str, reader: &'a mut dyn Read) -> Self {
        Input { name, reader }
    }
}

pub(crate) struct CsvTable<'a> {
    file: &'a str,
    reader: csv::Reader<&'a mut dyn Read>,
    header: Vec<String>,
}

impl<'a> CsvTable<'a> {
    pub(crate) fn open(input: Input<'a>) -> Result<Self, LoadError> {
        let file = input.name;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(input.reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(file, e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(LoadError::Empty { at: Location::file(file) });
        }
        Ok(CsvTable { file, reader, header })
    }

    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// The position of a required column.
    pub(crate) fn column(&self, name: &str) -> Result<usize, LoadError> {
        self.optional_column(name).ok_or_else(|| LoadError::MissingColumn {
            at: Location::line(self.file, 1),
            column: name.to_owned(),
            found: self.header.join(","),
        })
    }

    pub(crate) fn optional_column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Calls `each` for every data row, stopping at the first error.
    pub(crate) fn for_each_row(
        &mut self,
        mut each: impl FnMut(&Row<'_>) -> Result<(), LoadError>,
    ) -> Result<(), LoadError> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    // Lines that are entirely blank carry no data.
                    if record.iter().all(str::is_empty) {
                        continue;
                    }
                    each(&Row { file: self.file, line, record: &record, header: &self.header })?;
                }
                Err(e) => return Err(csv_error(self.file, e)),
            }
        }
    }
}

/// One data row with its line number, for typed access with located errors.
pub(crate) struct Row<'a> {
    file: &'a str,
    pub(crate) line: u64,
    record: &'a csv::StringRecord,
    header: &'a [String],
}

impl Row<'_> {
    pub(crate) fn at(&self, column: usize) -> Location {
        Location::cell(self.file, self.line, &self.header[column])
    }

    pub(crate) fn text(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    /// Parses a cell, naming the expected kind of value when it fails.
    pub(crate) fn parse<T: FromStr>(&self, column: usize, expected: &str) -> Result<T, LoadError> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(LoadError::invalid(self.at(column), format!("empty cell, expected {expected}")));
        }
        text.parse().map_err(|_| LoadError::invalid(self.at(column), format!("`{text}` is not {expected}")))
    }

    /// A finite floating-point number (NaN and infinities are refused).
    pub(crate) fn finite(&self, column: usize) -> Result<f64, LoadError> {
        let value: f64 = self.parse(column, "a number")?;
        if !value.is_finite() {
            return Err(LoadError::invalid(self.at(column), format!("`{}` is not a finite number", self.text(column))));
        }
        Ok(value)
    }

    /// A finite number that is zero or more.
    pub(crate) fn non_negative(&self, column: usize) -> Result<f64, LoadError> {
        let value = self.finite(column)?;
        if value < 0.0 {
            return Err(LoadError::invalid(self.at(column), format!("{value} is negative; loads must be ≥ 0")));
        }
        Ok(value)
    }
}

/// Opens a file for reading, with the error naming it.
pub(crate) fn open_file(path: &std::path::Path, name: &str) -> Result<std::io::BufReader<std::fs::File>, LoadError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| LoadError::Io { at: Location::file(name), source })
}

fn csv_error(file: &str, error: csv::Error) -> LoadError {
    let line = error.position().map(|p| p.line());
    let at = Location { file: file.to_owned(), line, column: None };
    match error.into_kind() {
        csv::ErrorKind::Io(source) => LoadError::Io { at, source },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            LoadError::invalid(at, format!("the row has {len} fields but the header has {expected_len}"))
        }
        csv::ErrorKind::Utf8 { .. } => LoadError::invalid(at, "the text is not valid UTF-8"),
        other => LoadError::invalid(at, format!("{other:?}")),
    }
}
