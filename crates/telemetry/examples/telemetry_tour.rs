//! A tour of orrery-telemetry: record cluster metrics and print the `/metrics` text, switch the profiler on,
//! time some fake work and print its report as JSON, then sample the CPU and write a flamegraph SVG.
//!
//! `cargo run -p orrery-telemetry --example telemetry_tour [--release]`

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use orrery_telemetry::{CONTENT_TYPE, Metrics, Profiler, flamegraph};

/// Stands in for a system tick: some arithmetic proportional to the ships in the system.
#[inline(never)]
fn simulate_tick(ships: u64) -> u64 {
    let mut x = ships.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..ships * 2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

fn main() -> Result<(), Box<dyn Error>> {
    // --- Metrics: what the runtime records, what a scrape reads.
    let metrics = Arc::new(Metrics::new());
    let systems = [(30000142_u32, 40_u64), (30002187, 12), (30000001, 1)];
    let profiler = Arc::new(Profiler::new());
    profiler.start();

    for round in 0..5 {
        for &(system, ships) in &systems {
            let started = Instant::now();
            simulate_tick(ships);
            let took = started.elapsed();
            metrics.observe_tick(0, took, Duration::from_micros(40 + round * 10));
            profiler.record_system(system, took);
        }
        for kind in ["approach", "warp_to", "chat"] {
            let started = Instant::now();
            black_box(kind.len());
            metrics.count_command(kind);
            profiler.record_message(kind, started.elapsed());
        }
    }
    metrics.set_sessions(53);
    metrics.set_node_players(0, systems.iter().map(|(_, n)| n).sum());
    metrics.set_system_players(&systems);
    metrics.set_tidi(&[(30000142, 0.6)]);
    metrics.set_bytes_in_total(12_345);
    metrics.set_bytes_out_total(987_654);
    metrics.count_jump();
    metrics.count_handoff();
    metrics.observe_checkpoint(Duration::from_millis(3), 53);

    let text = metrics.encode();
    println!("GET /metrics → Content-Type: {CONTENT_TYPE}, {} bytes; the non-histogram lines:\n", text.len());
    for line in text.lines().filter(|l| !l.contains("_bucket")) {
        println!("  {line}");
    }

    // --- Profiler tables.
    profiler.stop();
    println!("\nProfiler report (JSON):\n{}", serde_json::to_string_pretty(&profiler.report())?);

    // --- CPU flamegraph of the whole process while a thread works.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        thread::Builder::new().name("sol-node-0".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                simulate_tick(40);
            }
        })?
    };
    let started = Instant::now();
    let svg = flamegraph(Duration::from_millis(500), 99);
    stop.store(true, Ordering::Relaxed);
    if worker.join().is_err() {
        return Err("the worker thread panicked".into());
    }
    let svg = svg?;
    let path = std::env::temp_dir().join("orrery-telemetry-tour.svg");
    std::fs::write(&path, &svg)?;
    println!(
        "\nFlamegraph: sampled 500 ms at 99 Hz, done in {:.2?} (sampling + symbolising), {} bytes → {}",
        started.elapsed(),
        svg.len(),
        path.display()
    );
    Ok(())
}
