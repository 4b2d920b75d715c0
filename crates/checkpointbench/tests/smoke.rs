//! The benchmark run tiny end to end (200 ships, two 2-second phases on a SQLite file): the report has its
//! shape, every ship moved every tick, and the checkpoints reached the store. No timing is asserted.

use std::time::Duration;

use orrery_checkpointbench::{BenchConfig, Checkpoints, measure};

const SHIPS: usize = 200;
const SYSTEMS: u32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_run_reports_every_phase_and_its_checkpoints_reach_the_store() {
    let config = BenchConfig {
        ships: SHIPS,
        systems: SYSTEMS,
        phases: vec![Checkpoints::Off, Checkpoints::Every(Duration::from_secs(1))],
        window: Duration::from_secs(2),
        warmup: Duration::from_secs(1),
        tick_ms: 200,
        store: None,
        progress: false,
    };
    let report = measure(&config).await.expect("the benchmark runs");
    assert_eq!((report.store.as_str(), report.ships, report.systems), ("sqlite", SHIPS, SYSTEMS));
    assert_eq!(report.phases.len(), 2);
    for phase in &report.phases {
        let name = &phase.checkpoints;
        assert!(phase.tick_work.ticks > 0, "{name}: no tick profiled");
        assert!(phase.delta_interval.count > 0, "{name}: no delta interval measured");
        assert_eq!(phase.min_moved_per_delta, SHIPS / SYSTEMS as usize, "{name}: a delta did not move every ship");
        assert_eq!(phase.refused_commands, 0, "{name}: an orbit order was refused");
        assert_eq!(phase.stored_in_space, SHIPS, "{name}: the store lost ships in space");
    }

    let off = &report.phases[0];
    assert_eq!(off.checkpoint_every_s, None);
    assert_eq!((off.checkpoint.batches, off.checkpoint.rows), (0, 0), "checkpoints off wrote rows");
    assert_eq!(off.stored_moved, 0, "with checkpoints off the store still has the ships where they started");

    let every = &report.phases[1];
    assert_eq!(every.checkpoint_every_s, Some(1.0));
    assert!(every.checkpoint.batches > 0 && every.checkpoint.rows > 0, "no checkpoint in 2 s: {every:?}");
    assert_eq!(every.checkpoint.rows % SHIPS as u64, 0, "a checkpoint writes every ship: {every:?}");
    assert_eq!(every.stored_moved, SHIPS, "every ship's checkpoint reached the store, where it had moved to");
    assert!(every.checkpoint.batches_timed <= every.checkpoint.batches);

    let json = serde_json::to_value(&report).expect("the report serialises");
    for key in ["tick_work", "delta_interval", "checkpoint", "late_ticks", "ticks"] {
        assert!(json["phases"][1].get(key).is_some(), "the JSON report lacks phases[].{key}: {json}");
    }
    for key in ["p50_ms", "p99_ms", "max_ms"] {
        assert!(json["phases"][1]["tick_work"][key].is_number(), "tick_work.{key} is not a number: {json}");
    }
    assert!(json["phases"][1]["checkpoint"]["ships_per_s"].is_number());
}
