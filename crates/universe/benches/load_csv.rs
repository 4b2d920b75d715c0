//! How long it takes to get a universe: reading the EVE map's CSV files (5,432 k-space systems of 8,437) and
//! generating the default universe. Run with `cargo bench -p orrery-universe`.
//!
//! The EVE data lives outside the repository (`ORRERY_EVE_DATA`, by default `../shared/data/eve` beside it; see
//! `orrery_testdata`); without it the CSV benchmark says so and only the generator is measured.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use criterion::{Criterion, criterion_group, criterion_main};
use orrery_universe::{ActivityWeights, GeneratorConfig, LoadProfile, SystemKind, generate, load_universe_paths};

fn bench_load(c: &mut Criterion) {
    match orrery_testdata::eve_data_dir() {
        Ok(dir) => bench_load_eve(c, &dir),
        Err(missing) => eprintln!("CSV loading NOT measured: {missing}"),
    }
    c.bench_function("generate default universe (5,000 systems)", |b| b.iter(|| generate(&GeneratorConfig::default())));
}

/// Reading the EVE map in `dir`.
fn bench_load_eve(c: &mut Criterion, dir: &std::path::Path) {
    c.bench_function("load EVE map (systems, jumps, constellations, regions)", |b| {
        b.iter(|| load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).expect("EVE map loads"));
    });
    let full = load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).expect("EVE map loads");
    c.bench_function("select k-space", |b| b.iter(|| full.select(|s| s.kind == SystemKind::KSpace)));
    c.bench_function("load fingerprint from activity.csv", |b| {
        b.iter(|| {
            LoadProfile::from_activity_path(&dir.join("activity.csv"), &full, &ActivityWeights::default())
                .expect("activity loads")
        });
    });
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
