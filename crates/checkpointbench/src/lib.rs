//! The checkpoint benchmark behind `orrery bench checkpoint`: does writing every ship to the store stall a tick?
//!
//! It runs a real sol node ([`orrery_node::start`]) on the in-process bus with its persistence worker
//! ([`orrery_node::spawn_worker`]) on a real store — a SQLite file in a temporary directory, or a scratch
//! database on a PostgreSQL server — and gives it N ships (10,000 by default) in a few systems the way the
//! cluster does when a node takes over a dead node's systems (`HostSystem` carrying the stored ships). Every
//! ship is ordered to orbit its system's star through the same session command a client sends, so every ship
//! moves every tick and every checkpoint writes every ship.
//!
//! Then it measures the node in phases that differ only in the checkpoint interval (by default: off, every
//! 10 s — the production default — and every 1 s), each on a fresh node for a fixed window after a warm-up:
//!
//! - the tick's work, per system, from the node's own profiler ([`orrery_telemetry::Profiler`]);
//! - the interval between consecutive deltas of a system as a subscriber receives them: the node builds a
//!   checkpoint's rows on its tick thread between ticks, so a checkpoint that held a tick up shows here as a
//!   longer interval than the nominal tick;
//! - the node's late ticks (started more than a tick late), from its reports;
//! - the persistence worker's batches, rows, batch duration and ships/s ([`orrery_node::PersistStats`]).
//!
//! The ratio of the tick figures with checkpoints to those without is the answer.

mod fleet;
mod phase;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use orrery_store::Store;
use serde::Serialize;

/// The in-process bus's queue per subscription: the orbit orders of a whole system are published at once.
const BUS_QUEUE: usize = 65_536;
/// A checkpoint interval that never comes round within a phase ("off").
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How often the node checkpoints in one phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Checkpoints {
    /// Never (within the phase).
    Off,
    /// Every this long.
    Every(Duration),
}

impl Checkpoints {
    fn interval(self) -> Duration {
        match self {
            Checkpoints::Off => NEVER,
            Checkpoints::Every(every) => every,
        }
    }

    fn interval_s(self) -> Option<f64> {
        match self {
            Checkpoints::Off => None,
            Checkpoints::Every(every) => Some(every.as_secs_f64()),
        }
    }
}

impl std::fmt::Display for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checkpoints::Off => write!(f, "checkpoints off"),
            Checkpoints::Every(every) => write!(f, "checkpoint every {} s", every.as_secs_f64()),
        }
    }
}

impl std::str::FromStr for Checkpoints {
    type Err = String;

    fn from_str(text: &str) -> Result<Checkpoints, String> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(Checkpoints::Off);
        }
        match text.trim_end_matches('s').parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.05 => {
                Ok(Checkpoints::Every(Duration::from_secs_f64(seconds)))
            }
            _ => Err(format!("`{text}` is neither `off` nor a checkpoint interval in seconds of at least 0.05")),
        }
    }
}

/// `orrery bench checkpoint`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckpointArgs {
    /// Ships in space on the node, all moving.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub ships: usize,
    /// Systems the ships are dealt over (round-robin).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub systems: u32,
    /// The phases, by checkpoint interval: `off` or seconds, separated by commas.
    #[arg(long, value_name = "INTERVALS", value_delimiter = ',', default_value = "off,10,1")]
    pub every: Vec<Checkpoints>,
    /// Seconds measured per phase, after the warm-up.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub seconds: u64,
    /// Seconds between the orbit orders and the measurement (every ship moving, the restore written).
    #[arg(long, value_name = "S", default_value_t = 3)]
    pub warmup: u64,
    /// The systems' tick length, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub tick_ms: u32,
    /// The store: a SQLite file path (default: a file in a temporary directory, removed afterwards), or a
    /// `postgres://…` server URL, on which a scratch database of its own is created and left.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    /// `sqlite` or `postgres`.
    pub store: String,
    /// Ships on the node.
    pub ships: usize,
    /// Systems they are in.
    pub systems: u32,
    /// The systems' tick length, milliseconds.
    pub tick_ms: u32,
    /// Seconds it took to create the ships' characters in the store (not part of any phase).
    pub setup_s: f64,
    /// One per checkpoint interval, in the order asked.
    pub phases: Vec<PhaseReport>,
}

/// One phase's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// The phase, in words ("checkpoint every 1 s").
    pub checkpoints: String,
    /// The checkpoint interval, seconds; `None` when off.
    pub checkpoint_every_s: Option<f64>,
    /// Seconds measured.
    pub window_s: f64,
    /// Ticks the node counted in the window (from its reports, every 250 ms: within a report of the window).
    pub ticks: u64,
    /// Of those, ticks that started more than a whole tick late.
    pub late_ticks: u64,
    /// The tick's work (the node's profiler), the worst system's figures.
    pub tick_work: TickWorkReport,
    /// Time between consecutive deltas of a system, as received.
    pub delta_interval: IntervalReport,
    /// The fewest ships a delta in the window moved (every ship moves: this equals the system's ships).
    pub min_moved_per_delta: usize,
    /// Answers the ships' sessions got: each is a refused orbit order (0 expected).
    pub refused_commands: u64,
    /// The persistence worker's batches in the window.
    pub checkpoint: BatchReport,
    /// Ships the store had in space at the end of the window.
    pub stored_in_space: usize,
    /// Of those, ships stored somewhere else than where they started: written by a checkpoint in this phase.
    pub stored_moved: usize,
}

/// Tick work percentiles.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickWorkReport {
    /// Ticks profiled, all systems.
    pub ticks: u64,
    /// The largest per-system median, milliseconds.
    pub p50_ms: f64,
    /// The largest per-system 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// The longest tick, milliseconds.
    pub max_ms: f64,
}

impl TickWorkReport {
    fn from_profile(rows: &[orrery_telemetry::TimingRow]) -> TickWorkReport {
        rows.iter().fold(TickWorkReport::default(), |worst, row| TickWorkReport {
            ticks: worst.ticks + row.count,
            p50_ms: worst.p50_ms.max(row.p50_us / 1000.0),
            p99_ms: worst.p99_ms.max(row.p99_us / 1000.0),
            max_ms: worst.max_ms.max(row.max_us / 1000.0),
        })
    }
}

/// Percentiles of the intervals between a system's deltas, over all systems.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntervalReport {
    /// Intervals measured.
    pub count: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Longest, milliseconds.
    pub max_ms: f64,
    /// Intervals longer than 1.5 nominal ticks: a tick held up by half a tick or more.
    pub over_1_5_ticks: u64,
}

impl IntervalReport {
    /// From each system's delta arrivals; only intervals that end inside the window count.
    fn from_arrivals(systems: &[Vec<(Instant, usize)>], window_start: Instant, tick_ms: u32) -> IntervalReport {
        let Ok(mut histogram) = hdrhistogram::Histogram::<u64>::new(3) else { return IntervalReport::default() };
        let nominal_us = u64::from(tick_ms) * 1000;
        let mut over = 0;
        for arrivals in systems {
            for pair in arrivals.windows(2) {
                let (earlier, later) = (pair[0].0, pair[1].0);
                if later < window_start {
                    continue;
                }
                let us = later.duration_since(earlier).as_micros() as u64;
                if us * 2 > nominal_us * 3 {
                    over += 1;
                }
                // Cannot fail: the histogram resizes itself.
                let _ = histogram.record(us);
            }
        }
        if histogram.is_empty() {
            return IntervalReport::default();
        }
        IntervalReport {
            count: histogram.len(),
            p50_ms: histogram.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
            max_ms: histogram.max() as f64 / 1000.0,
            over_1_5_ticks: over,
        }
    }
}

/// The persistence worker's batches in a window.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    /// Batches written (each one store transaction).
    pub batches: u64,
    /// Ship rows written.
    pub rows: u64,
    /// Rows written per second of the window (what the store kept up with).
    pub rows_per_s_of_window: f64,
    /// Batches whose duration was read (the worker keeps only the last one's).
    pub batches_timed: u64,
    /// Median duration of a timed batch, milliseconds.
    pub batch_ms_p50: f64,
    /// Longest timed batch, milliseconds.
    pub batch_ms_max: f64,
    /// Rows of the timed batches over their summed duration: the store's throughput while the node ticks.
    pub ships_per_s: f64,
}

/// What [`measure`] runs.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Ships on the node.
    pub ships: usize,
    /// Systems they are dealt over.
    pub systems: u32,
    /// The phases.
    pub phases: Vec<Checkpoints>,
    /// The measured window of each phase.
    pub window: Duration,
    /// The warm-up before each window.
    pub warmup: Duration,
    /// The systems' tick length, milliseconds.
    pub tick_ms: u32,
    /// The store (see [`CheckpointArgs::store`]).
    pub store: Option<String>,
    /// Draw progress bars on the terminal.
    pub progress: bool,
}

impl From<&CheckpointArgs> for BenchConfig {
    fn from(args: &CheckpointArgs) -> BenchConfig {
        BenchConfig {
            ships: args.ships,
            systems: args.systems,
            phases: args.every.clone(),
            window: Duration::from_secs(args.seconds),
            warmup: Duration::from_secs(args.warmup),
            tick_ms: args.tick_ms,
            store: args.store.clone(),
            progress: !args.json,
        }
    }
}

/// `orrery bench checkpoint`: measure, then print a table or JSON.
pub fn run(args: &CheckpointArgs) -> anyhow::Result<()> {
    // Two workers, as many as the persistence worker and the benchmark's listeners need; the node has its own
    // thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the benchmark's runtime")?;
    let report = runtime.block_on(measure(&BenchConfig::from(args)))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Run every phase of `config` and report.
pub async fn measure(config: &BenchConfig) -> anyhow::Result<CheckpointReport> {
    anyhow::ensure!(config.ships > 0, "--ships must be at least 1");
    anyhow::ensure!(!config.phases.is_empty(), "--every names no phase");
    anyhow::ensure!(config.window > Duration::ZERO, "--seconds must be at least 1");
    let (store, store_kind, _dir) = open_store(config.store.as_deref()).await?;

    let bar = |length: u64, template: &str| {
        if !config.progress {
            return indicatif::ProgressBar::hidden();
        }
        let style = indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        indicatif::ProgressBar::new(length).with_style(style)
    };
    let setup_started = Instant::now();
    let creating = bar(config.ships as u64, "{spinner} creating characters {pos}/{len} {elapsed}");
    let fleet = fleet::Fleet::create(&store, config.ships, config.systems, || creating.inc(1)).await?;
    creating.finish_and_clear();
    let setup_s = setup_started.elapsed().as_secs_f64();

    let bus: Arc<dyn orrery_bus::Bus> = Arc::new(orrery_bus::InProcessBus::new(BUS_QUEUE));
    let mut phases = Vec::with_capacity(config.phases.len());
    for (index, &checkpoints) in config.phases.iter().enumerate() {
        let progress = bar(
            config.window.as_millis() as u64,
            &format!("{{spinner}} phase {}/{} {{msg}} {{bar:30}} {{elapsed}}", index + 1, config.phases.len()),
        );
        progress.enable_steady_tick(Duration::from_millis(120));
        let setup = phase::PhaseSetup {
            store: &store,
            bus: &bus,
            fleet: &fleet,
            tick_ms: config.tick_ms,
            warmup: config.warmup,
            window: config.window,
            progress: &progress,
        };
        let report = phase::run(&setup, checkpoints).await.with_context(|| format!("phase {checkpoints}"))?;
        progress.finish_and_clear();
        phases.push(report);
    }
    Ok(CheckpointReport {
        store: store_kind.to_owned(),
        ships: fleet.ship_count(),
        systems: config.systems,
        tick_ms: config.tick_ms,
        setup_s,
        phases,
    })
}

/// The store to checkpoint into, its kind, and the temporary directory to keep while it is used.
async fn open_store(url: Option<&str>) -> anyhow::Result<(Arc<dyn Store>, &'static str, Option<tempfile::TempDir>)> {
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let scratch = orrery_store::create_scratch_database(url, "orrery_checkpointbench")
                .await
                .with_context(|| format!("making a scratch database on {}", orrery_store::redacted_url(url)))?;
            let store = orrery_store::open(&scratch)
                .await
                .with_context(|| format!("opening {}", orrery_store::redacted_url(&scratch)))?;
            Ok((store, "postgres", None))
        }
        Some(path) => {
            let store = orrery_store::open(path).await.with_context(|| format!("opening the SQLite store {path}"))?;
            Ok((store, "sqlite", None))
        }
        None => {
            let dir = tempfile::tempdir().context("making a temporary directory for the SQLite store")?;
            let path = dir.path().join("checkpoint-bench.db");
            let path = path.to_str().context("the temporary directory's path is not UTF-8")?;
            let store = orrery_store::open(path).await.with_context(|| format!("opening the SQLite store {path}"))?;
            Ok((store, "sqlite", Some(dir)))
        }
    }
}

fn print_report(report: &CheckpointReport) {
    println!(
        "{} ships in {} systems on one sol node, {} ms ticks, store: {} (characters created in {:.1} s)",
        report.ships, report.systems, report.tick_ms, report.store, report.setup_s
    );
    println!(
        "{:<24} {:>6} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>6} {:>8} {:>8} {:>9} {:>10}",
        "phase",
        "ticks",
        "late",
        "work p50",
        "work p99",
        "work max",
        "delta p50",
        "delta p99",
        "delta max",
        ">1.5t",
        "batches",
        "rows",
        "batch p50",
        "ships/s"
    );
    for phase in &report.phases {
        println!(
            "{:<24} {:>6} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>8} {:>8} {:>9.1} {:>10.0}",
            phase.checkpoints,
            phase.ticks,
            phase.late_ticks,
            phase.tick_work.p50_ms,
            phase.tick_work.p99_ms,
            phase.tick_work.max_ms,
            phase.delta_interval.p50_ms,
            phase.delta_interval.p99_ms,
            phase.delta_interval.max_ms,
            phase.delta_interval.over_1_5_ticks,
            phase.checkpoint.batches,
            phase.checkpoint.rows,
            phase.checkpoint.batch_ms_p50,
            phase.checkpoint.ships_per_s
        );
    }
    println!("(work: the worst system's tick work, ms; delta: interval between a system's deltas as received, ms)");
    if let Some(baseline) = report.phases.iter().find(|phase| phase.checkpoint_every_s.is_none()) {
        for phase in report.phases.iter().filter(|phase| phase.checkpoint_every_s.is_some()) {
            println!(
                "{}: tick work p99 x{:.2}, delta interval p99 x{:.3} of checkpoints off",
                phase.checkpoints,
                phase.tick_work.p99_ms / baseline.tick_work.p99_ms.max(f64::EPSILON),
                phase.delta_interval.p99_ms / baseline.delta_interval.p99_ms.max(f64::EPSILON)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse_from_off_or_seconds_and_refuse_anything_else() {
        assert_eq!("off".parse::<Checkpoints>(), Ok(Checkpoints::Off));
        assert_eq!("10".parse::<Checkpoints>(), Ok(Checkpoints::Every(Duration::from_secs(10))));
        assert_eq!("0.5s".parse::<Checkpoints>(), Ok(Checkpoints::Every(Duration::from_millis(500))));
        for bad in ["", "never", "0", "-1", "NaN"] {
            let problem = bad.parse::<Checkpoints>().expect_err(bad);
            assert!(problem.contains(&format!("`{bad}`")), "{problem}");
        }
    }

    #[test]
    fn delta_intervals_count_only_the_window_and_flag_held_up_ticks() {
        let start = Instant::now();
        let at = |ms: u64| (start + Duration::from_millis(ms), 10);
        // Before the window: 0 → 1000 is not counted; in it: 1000, then 1600 (held up), then 1000.
        let arrivals = vec![vec![at(0), at(1_000), at(2_000), at(3_600), at(4_600)]];
        let report = IntervalReport::from_arrivals(&arrivals, start + Duration::from_millis(1_500), 1_000);
        assert_eq!(report.count, 3);
        assert_eq!(report.over_1_5_ticks, 1);
        assert!((report.max_ms - 1_600.0).abs() < 2.0, "{report:?}");
        assert!((report.p50_ms - 1_000.0).abs() < 2.0, "{report:?}");
    }
}
