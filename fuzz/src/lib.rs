//! orrery's fuzz targets share their checks and seeds with the stable regression test
//! (`crates/proto/tests/fuzz_regressions.rs`), which includes `checks.rs` and `seeds.rs` by path. See
//! `docs/fuzzing.md`.

pub mod checks;
pub mod seeds;
