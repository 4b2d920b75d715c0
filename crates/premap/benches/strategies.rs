//! Premapping time on the EVE k-space map (5,432 systems, load derived from its activity snapshot) and on the
//! generated default universe. Run with `cargo bench -p orrery-premap`; the targets are `best` onto
//! 250 nodes under 100 ms and `rcb` under 20 ms, on one core.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use orrery_premap::{Strategy, premap};
use orrery_universe::{GeneratorConfig, LoadProfile, generate};

#[path = "../tests/common/eve.rs"]
mod eve;

fn bench_strategies(c: &mut Criterion) {
    let mut group = c.benchmark_group("premap EVE k-space");
    group.sample_size(20);
    let eve = orrery_testdata::eve_data_dir().map_err(|e| e.to_string()).and_then(|dir| {
        eve::eve_kspace(&dir).map_err(|e| format!("the EVE map in {} does not load: {e}", dir.display()))
    });
    match eve {
        Ok((universe, load)) => {
            for nodes in [24, 250] {
                // At 24 nodes `best` searches for fewer cut gates for about 25 s (kicks and regions, steps 10
                // and 11 of docs/premap.md): criterion's fewest samples keep that group within minutes.
                group.sample_size(if nodes == 24 { 10 } else { 20 });
                for strategy in Strategy::ALL.into_iter().filter(|s| s.is_available()) {
                    group.bench_with_input(BenchmarkId::new(strategy.name(), nodes), &nodes, |b, &nodes| {
                        b.iter(|| premap(black_box(&universe), black_box(&load), nodes, strategy).expect("premaps"));
                    });
                }
            }
        }
        Err(why) => eprintln!("the EVE benchmarks are NOT measured: {why}"),
    }
    group.finish();

    let universe = generate(&GeneratorConfig::default());
    let load = LoadProfile::synthesise(&universe, 1).cpu(&universe);
    let mut group = c.benchmark_group("premap generated");
    group.sample_size(20);
    for strategy in [Strategy::Rcb, Strategy::Best] {
        group.bench_with_input(BenchmarkId::new(strategy.name(), 250), &250, |b, &nodes| {
            b.iter(|| premap(black_box(&universe), black_box(&load), nodes, strategy).expect("premaps"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_strategies);
criterion_main!(benches);
