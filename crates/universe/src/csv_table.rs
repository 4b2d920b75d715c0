//! A thin layer over the `csv` crate that turns every problem into a [`LoadError`] naming file, line and
//! column, and finds columns by header name so that extra columns and any column order are accepted.
//!
//! Every loader of a per-system file reads through it — the universe's own and, in other crates, the
//! premapper's mapping files — so that all of them report bad input the same way.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::io::Read;
use std::str::FromStr;

use crate::{LoadError, Location, SystemId, Universe};

/// A named input: the name is what error messages show (usually the path).
pub struct Input<'a> {
    /// What error messages call the input: the path for a file, a label for text built in memory.
    pub name: &'a str,
    /// Where the CSV text comes from; any reader, so tests and callers can load from memory.
    pub reader: &'a mut dyn Read,
}

impl<'a> Input<'a> {
    /// Names a reader so that every problem found in it can say where it was.
    pub fn new(name: &'a str, reader: &'a mut dyn Read) -> Self {
        Input { name, reader }
    }
}

/// A CSV file with a header line, read row by row with every problem located.
///
/// ```
/// use orrery_universe::{CsvTable, Input};
///
/// let mut text = "system_id,cpu\n1,2.5\n2,-1\n".as_bytes();
/// let mut table = CsvTable::open(Input::new("load.csv", &mut text))?;
/// let cpu = table.column("cpu")?;
/// let error = table.for_each_row(|row| row.non_negative(cpu).map(drop)).unwrap_err();
/// assert_eq!(error.to_string(), "load.csv, line 3, column `cpu`: -1 is negative; loads must be ≥ 0");
/// # Ok::<(), orrery_universe::LoadError>(())
/// ```
pub struct CsvTable<'a> {
    file: &'a str,
    reader: csv::Reader<&'a mut dyn Read>,
    header: Vec<String>,
}

impl<'a> CsvTable<'a> {
    /// Reads the header line; an input without one is [`LoadError::Empty`].
    pub fn open(input: Input<'a>) -> Result<Self, LoadError> {
        let file = input.name;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(input.reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(file, e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(LoadError::Empty { at: Location::file(file) });
        }
        Ok(CsvTable { file, reader, header })
    }

    /// The name errors show.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// The position of a required column.
    pub fn column(&self, name: &str) -> Result<usize, LoadError> {
        self.optional_column(name).ok_or_else(|| LoadError::MissingColumn {
            at: Location::line(self.file, 1),
            column: name.to_owned(),
            found: self.header.join(","),
        })
    }

    /// The position of a column the file may leave out.
    pub fn optional_column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Calls `each` for every data row, stopping at the first error.
    pub fn for_each_row(&mut self, mut each: impl FnMut(&Row<'_>) -> Result<(), LoadError>) -> Result<(), LoadError> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let line = record.position().map_or(0, csv::Position::line);
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
pub struct Row<'a> {
    file: &'a str,
    /// The line of the file the row is on (the header is line 1).
    pub line: u64,
    record: &'a csv::StringRecord,
    header: &'a [String],
}

impl Row<'_> {
    /// Where a cell of this row is, for an error about it.
    pub fn at(&self, column: usize) -> Location {
        Location::cell(self.file, self.line, self.header.get(column).map_or("?", String::as_str))
    }

    /// A cell's text, trimmed; empty if the row is short.
    pub fn text(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    /// Parses a cell, naming the expected kind of value when it fails.
    pub fn parse<T: FromStr>(&self, column: usize, expected: &str) -> Result<T, LoadError> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(LoadError::invalid(self.at(column), format!("empty cell, expected {expected}")));
        }
        text.parse().map_err(|_| LoadError::invalid(self.at(column), format!("`{text}` is not {expected}")))
    }

    /// A finite floating-point number (NaN and infinities are refused).
    pub fn finite(&self, column: usize) -> Result<f64, LoadError> {
        let value: f64 = self.parse(column, "a number")?;
        if !value.is_finite() {
            return Err(LoadError::invalid(self.at(column), format!("`{}` is not a finite number", self.text(column))));
        }
        Ok(value)
    }

    /// A system id that names a system of `universe`.
    pub fn system(&self, column: usize, universe: &Universe) -> Result<SystemId, LoadError> {
        let id = SystemId(self.parse(column, "a system id (a whole number)")?);
        if universe.index_of(id).is_none() {
            return Err(LoadError::invalid(self.at(column), format!("system {id} is not in the universe")));
        }
        Ok(id)
    }

    /// Records that `id`, read from `column` of this row, is keyed here; if it was already read, an error naming
    /// the line it first appeared on. `what` names the kind of id in the message ("system", "region"). Every
    /// table keyed by an id reports a repeated one this way.
    pub fn first_time<K: Eq + Hash + Display + Copy>(
        &self,
        seen: &mut HashMap<K, u64>,
        column: usize,
        what: &str,
        id: K,
    ) -> Result<(), LoadError> {
        match seen.insert(id, self.line) {
            Some(first) => {
                Err(LoadError::invalid(self.at(column), format!("{what} {id} appears again (first on line {first})")))
            }
            None => Ok(()),
        }
    }

    /// A finite number that is zero or more.
    pub fn non_negative(&self, column: usize) -> Result<f64, LoadError> {
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
    let line = error.position().map(csv::Position::line);
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
