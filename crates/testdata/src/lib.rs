//! Where the tests, benchmarks and examples find the data they read from outside the repository.
//!
//! The EVE map (`systems.csv`, `jumps.csv`, `activity.csv` and the files beside them, described in
//! `shared/data/eve/README.md`) is too large to live in the repository. Whoever runs the tests that need it
//! points [`EVE_DATA_VAR`] (`ORRERY_EVE_DATA`) at the directory holding it; without the variable the directory
//! `shared/data/eve` beside the repository is used (`<repo>/../shared/data/eve`), where CI and the project's
//! machines keep it. Every test that reads the map has `eve_map` in its name or lives in a test binary named
//! `eve_map`, so a run without the data can leave exactly those out (`cargo nextest run -E 'not
//! (binary(=eve_map) | test(/eve_map/))'`).
//!
//! Tests call [`require_eve_data`], which fails the test with a message naming the variable, the directory
//! tried and the README; benchmarks and examples that can do without the map call [`eve_data_dir`] and say
//! what they leave out.

use std::path::{Path, PathBuf};

/// The environment variable naming the directory of the EVE map.
pub const EVE_DATA_VAR: &str = "ORRERY_EVE_DATA";

/// The files of the EVE map every user of it reads.
pub const EVE_FILES: [&str; 3] = ["systems.csv", "jumps.csv", "activity.csv"];

/// Why the EVE map was not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the EVE map is needed here but {missing} is missing in {dir} ({source_of_dir}); set {var} to the directory \
     holding {files} (see shared/data/eve/README.md)",
    dir = .dir.display(),
    var = EVE_DATA_VAR,
    files = EVE_FILES.join(", ")
)]
pub struct MissingEveData {
    /// The directory looked in.
    pub dir: PathBuf,
    /// The first of [`EVE_FILES`] not found there.
    pub missing: &'static str,
    /// Where the directory came from: the variable, or the default beside the repository.
    pub source_of_dir: String,
}

/// The repository's root: two levels above this crate's manifest.
fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

/// The directory used when [`EVE_DATA_VAR`] is not set: `shared/data/eve` beside the repository.
pub fn default_eve_data_dir() -> PathBuf {
    repository_root().join("../shared/data/eve")
}

/// The directory [`EVE_DATA_VAR`] names (a relative path is taken from the repository's root, since tests run
/// in their crate's directory), or the default when it is unset or empty; with where it came from.
fn chosen_dir(value: Option<std::ffi::OsString>) -> (PathBuf, String) {
    match value.filter(|v| !v.is_empty()) {
        Some(value) => (repository_root().join(value), format!("from {EVE_DATA_VAR}")),
        None => (default_eve_data_dir(), format!("the default beside the repository, {EVE_DATA_VAR} being unset")),
    }
}

/// The directory of the EVE map, checked to hold [`EVE_FILES`].
pub fn eve_data_dir() -> Result<PathBuf, MissingEveData> {
    eve_data_dir_from(std::env::var_os(EVE_DATA_VAR))
}

fn eve_data_dir_from(value: Option<std::ffi::OsString>) -> Result<PathBuf, MissingEveData> {
    let (dir, source_of_dir) = chosen_dir(value);
    match EVE_FILES.into_iter().find(|file| !dir.join(file).is_file()) {
        Some(missing) => Err(MissingEveData { dir, missing, source_of_dir }),
        None => Ok(dir),
    }
}

/// The directory of the EVE map, for a test that cannot run without it: panics (fails the test) with the
/// [`MissingEveData`] message when the map is missing, rather than letting the test pass unrun.
#[track_caller]
pub fn require_eve_data() -> PathBuf {
    match eve_data_dir() {
        Ok(dir) => dir,
        Err(missing) => panic!("{missing}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_map_names_the_variable_the_directory_and_the_readme() {
        let error = eve_data_dir_from(Some("/nonexistent/eve-data".into())).expect_err("nothing is there");
        let message = error.to_string();
        for part in [EVE_DATA_VAR, "/nonexistent/eve-data", "systems.csv", "shared/data/eve/README.md"] {
            assert!(message.contains(part), "`{part}` missing from: {message}");
        }
        assert_eq!(error.missing, "systems.csv");
    }

    #[test]
    fn without_the_variable_the_default_beside_the_repository_is_tried() {
        for unset in [None, Some("".into())] {
            let error = match eve_data_dir_from(unset) {
                Ok(dir) => {
                    assert_eq!(dir, default_eve_data_dir());
                    continue;
                }
                Err(error) => error,
            };
            assert_eq!(error.dir, default_eve_data_dir());
            assert!(error.to_string().contains("unset"), "{error}");
        }
        assert!(default_eve_data_dir().ends_with("../shared/data/eve"));
        assert_eq!(
            default_eve_data_dir().parent().map(Path::to_path_buf),
            Some(repository_root().join("../shared/data"))
        );
    }

    #[test]
    fn a_directory_holding_every_file_is_found_and_a_relative_one_is_read_from_the_root() {
        let dir = std::env::temp_dir().join(format!("orrery-testdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        for (i, file) in EVE_FILES.iter().enumerate() {
            assert!(eve_data_dir_from(Some(dir.clone().into())).is_err(), "found before {file} exists");
            assert_eq!(eve_data_dir_from(Some(dir.clone().into())).unwrap_err().missing, EVE_FILES[i]);
            std::fs::write(dir.join(file), "").expect("a scratch file");
        }
        assert_eq!(eve_data_dir_from(Some(dir.clone().into())), Ok(dir.clone()));
        std::fs::remove_dir_all(&dir).expect("scratch removed");
        let (relative, _) = chosen_dir(Some("data/eve".into()));
        assert_eq!(relative, repository_root().join("data/eve"));
    }
}
