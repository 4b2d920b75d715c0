//! How long it takes to get a universe: reading the EVE map's CSV files (5,432 k-space systems of 8,437) and
//! generating the default universe. Run with `cargo bench -p orrery-universe`.
//!
//! The EVE data lives outside the repository (`../shared/data/eve`, see its README); without it the CSV
//! benchmark says so and only the generator is measured.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use orrery_universe::{ActivityWeights, GeneratorConfig, LoadProfile, SystemKind, generate, load_universe_paths};

fn eve_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/eve")
}

fn bench_load(c: &mut Criterion) {
    let dir = eve_dir();
    if dir.join("systems.csv").is_file() {
        c.bench_function("load EVE map (systems, jumps, constellations, regions)", |b| {
            b.iter(|| {
                load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).expect("EVE map loads")
            });
        });
        let full = load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).expect("EVE map loads");
        c.bench_function("select k-space", |b| b.iter(|| full.select(|s| s.kind == SystemKind::KSpace)));
        c.bench_function("load fingerprint from activity.csv", |b| {
            b.iter(|| {
                LoadProfile::from_activity_path(&dir.join("activity.csv"), &full, &ActivityWeights::default())
                    .expect("activity loads")
            });
        });
    } else {
        eprintln!("EVE map not found at {}: CSV loading NOT measured", dir.display());
    }
    c.bench_function("generate default universe (5,000 systems)", |b| b.iter(|| generate(&GeneratorConfig::default())));
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
