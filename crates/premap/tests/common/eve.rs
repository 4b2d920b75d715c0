//! The EVE k-space map (5,432 systems) with the load derived from its activity snapshot: what the EVE-map
//! tests, the benchmark and the `eve_best` example premap. They include this file (the benchmark and the
//! example by `#[path]`) so that all of them map the same systems with the same load.

use std::path::Path;

use orrery_universe::{ActivityWeights, LoadError, LoadProfile, SystemKind, Universe, load_universe_paths};

/// The k-space systems of the map in `dir` (see `orrery_testdata`) and their CPU load from `activity.csv`.
pub fn eve_kspace(dir: &Path) -> Result<(Universe, Vec<f64>), LoadError> {
    let full = load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv")))?;
    let profile = LoadProfile::from_activity_path(&dir.join("activity.csv"), &full, &ActivityWeights::default())?;
    let kspace = full.select(|s| s.kind == SystemKind::KSpace);
    let load = profile.cpu(&kspace);
    Ok((kspace, load))
}
