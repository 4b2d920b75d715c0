//! One phase of the benchmark: a fresh sol node with one checkpoint interval, the fleet handed to it, every
//! ship set orbiting, a warm-up, then a measured window: the node's tick work (its profiler), the intervals
//! between each system's deltas as a subscriber receives them (a tick held up by a checkpoint arrives late),
//! the node's own count of late ticks (its reports), and the persistence worker's batches ([`PersistStats`]).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use orrery_bus::{Bus, Subscription};
use orrery_node::{NodeConfig, NodeReport, PersistStats};
use orrery_proto::v1;
use orrery_store::Store;
use orrery_telemetry::Profiler;
use prost::Message;

use crate::fleet::Fleet;
use crate::{BatchReport, Checkpoints, IntervalReport, PhaseReport, TickWorkReport};

/// The node under test.
const NODE_ID: u32 = 1;
/// The proxy the ships' sessions are routed to (nothing but the benchmark listens there).
const PROXY_ID: u32 = 900;
/// How long the node may take to restore the fleet before the phase gives up.
const HOST_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the persistence worker's counters are read during the window (a batch takes milliseconds at
/// least, so each one is seen on its own).
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// What a phase needs.
pub struct PhaseSetup<'a> {
    pub store: &'a Arc<dyn Store>,
    pub bus: &'a Arc<dyn Bus>,
    pub fleet: &'a Fleet,
    pub tick_ms: u32,
    pub warmup: Duration,
    pub window: Duration,
    pub progress: &'a indicatif::ProgressBar,
}

/// Run one phase with `checkpoints` and measure it.
pub async fn run(setup: &PhaseSetup<'_>, checkpoints: Checkpoints) -> anyhow::Result<PhaseReport> {
    let PhaseSetup { store, bus, fleet, tick_ms, warmup, window, progress } = *setup;
    let stats = Arc::new(PersistStats::default());
    let profiler = Arc::new(Profiler::new());
    let (persister, worker) = orrery_node::spawn_worker(store.clone(), bus.clone(), stats.clone(), None);
    let mut config = NodeConfig::new(NODE_ID, tick_ms);
    config.checkpoint_every = checkpoints.interval();
    config.profiler = Some(profiler.clone());
    config.persist_stats = Some(stats.clone());

    let mut reports = bus.subscribe(&orrery_proto::node_report_subject(NODE_ID)).await?;
    let mut refusals = bus.subscribe(&orrery_proto::proxy_subject(PROXY_ID)).await?;
    let node = orrery_node::start(config, bus.clone(), Vec::new(), persister).await.context("starting the sol node")?;

    progress.set_message(format!("{checkpoints}: restoring {} ships", fleet.ship_count()));
    for system in &fleet.systems {
        let message = Bytes::from(system.host_message().encode_to_vec());
        bus.publish(&orrery_proto::node_subject(NODE_ID), message).await.context("handing a system to the node")?;
    }
    let mut latest = wait_for_fleet(&mut reports, fleet).await?;
    // The restore writes every ship once: let it land before the warm-up, so that no phase's window holds it.
    let give_up = Instant::now() + HOST_TIMEOUT;
    while stats.rows.load(Relaxed) < fleet.ship_count() as u64 {
        anyhow::ensure!(Instant::now() < give_up, "the restored ships were not written within {HOST_TIMEOUT:?}");
        tokio::time::sleep(SAMPLE_EVERY).await;
    }

    // Listen to every system's deltas from now on, then set every ship orbiting.
    let deadline = Instant::now() + warmup + window;
    let mut listeners = Vec::with_capacity(fleet.systems.len());
    for system in &fleet.systems {
        let deltas = bus.subscribe(&orrery_proto::delta_subject(system.system_id)).await?;
        listeners.push(tokio::spawn(listen(deltas, deadline)));
    }
    let stamper = orrery_proto::Stamper::random();
    for system in &fleet.systems {
        let subject = orrery_proto::system_subject(system.system_id);
        for command in system.orbit_commands(PROXY_ID) {
            bus.publish(&subject, stamper.encode(command)).await.context("sending an orbit order")?;
        }
    }

    progress.set_message(format!("{checkpoints}: warming up"));
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    let warm = Instant::now() + warmup;
    // Refused orbit orders are answered during the warm-up: counted from the start.
    let mut refused = 0u64;
    while Instant::now() < warm {
        ticker.tick().await;
        newest_report(&mut reports, &mut latest);
        refused += drain(&mut refusals);
    }
    let window_start = Instant::now();
    profiler.start();
    let before = Counters::read(&stats, &latest);
    progress.set_message(format!("{checkpoints}: measuring"));
    let mut batches = BatchSampler::new(&stats);
    while Instant::now() < deadline {
        ticker.tick().await;
        batches.sample(&stats);
        newest_report(&mut reports, &mut latest);
        refused += drain(&mut refusals);
        progress.set_position(progress.position().max(window_start.elapsed().as_millis() as u64));
    }
    profiler.stop();
    let after = Counters::read(&stats, &latest);
    let window_s = window_start.elapsed().as_secs_f64();
    // What the store holds while the node still runs: have the checkpoints reached it?
    let stored = store.ships_in_space().await.context("reading the checkpointed ships back")?;
    let started_at: std::collections::HashMap<u64, [f64; 3]> =
        fleet.systems.iter().flat_map(|system| system.ships.iter().map(|row| (row.ship_id, row.position))).collect();
    let stored_moved =
        stored.iter().filter(|row| started_at.get(&row.ship_id).is_some_and(|at| *at != row.position)).count();

    progress.set_message(format!("{checkpoints}: stopping the node"));
    node.stop().await;
    let _ = tokio::time::timeout(Duration::from_secs(60), worker).await;

    let mut arrivals = Vec::with_capacity(listeners.len());
    for listener in listeners {
        arrivals.push(listener.await.context("a delta listener failed")?);
    }
    let profile = profiler.report();
    Ok(PhaseReport {
        checkpoints: checkpoints.to_string(),
        checkpoint_every_s: checkpoints.interval_s(),
        window_s,
        ticks: after.ticks.saturating_sub(before.ticks),
        late_ticks: after.late_ticks.saturating_sub(before.late_ticks),
        tick_work: TickWorkReport::from_profile(&profile.by_system),
        delta_interval: IntervalReport::from_arrivals(&arrivals, window_start, tick_ms),
        min_moved_per_delta: arrivals
            .iter()
            .flatten()
            .filter(|(at, _)| *at >= window_start)
            .map(|(_, moved)| *moved)
            .min()
            .unwrap_or(0),
        refused_commands: refused,
        checkpoint: batches.report(after.batches - before.batches, after.rows - before.rows, window_s),
        stored_in_space: stored.len(),
        stored_moved,
    })
}

/// Wait until the node reports every system hosted with all its ships; the last report.
async fn wait_for_fleet(reports: &mut Subscription, fleet: &Fleet) -> anyhow::Result<NodeReport> {
    let expected = fleet.ship_count();
    let give_up = Instant::now() + HOST_TIMEOUT;
    loop {
        let message = tokio::time::timeout_at(give_up.into(), reports.next())
            .await
            .map_err(|_| anyhow::anyhow!("the node did not host the {expected} ships within {HOST_TIMEOUT:?}"))?
            .context("the node's reports ended")?;
        let Ok(message) = v1::NodeReport::decode(message) else { continue };
        let report = NodeReport::from_message(&message);
        let ships: usize = report.systems.iter().map(|system| system.ships).sum();
        if report.systems.len() == fleet.systems.len() && ships == expected {
            return Ok(report);
        }
    }
}

/// Take every report the node published since the last call; `latest` becomes the newest.
fn newest_report(reports: &mut Subscription, latest: &mut NodeReport) {
    while let Some(report) = reports.try_next() {
        if let Ok(report) = v1::NodeReport::decode(report) {
            *latest = NodeReport::from_message(&report);
        }
    }
}

/// Take every message waiting on `subscription`; how many there were.
/// The refusals among what the ships' sessions got: error answers forwarded by the node. (A restored ship's
/// first order also sends its session the system's snapshot, an `Entered`: not a refusal.)
fn drain(subscription: &mut Subscription) -> u64 {
    std::iter::from_fn(|| subscription.try_next())
        .filter(|payload| {
            let Ok(message) = v1::ProxyInbox::decode(&payload[..]) else { return true };
            match message.body {
                Some(v1::proxy_inbox::Body::Forward(envelope)) => v1::ServerEnvelope::decode(&envelope[..])
                    .map_or(true, |envelope| matches!(envelope.body, Some(v1::server_envelope::Body::Error(_)))),
                Some(v1::proxy_inbox::Body::Entered(_)) => false,
                _ => true,
            }
        })
        .count() as u64
}

/// Every delta of one system until `deadline`: when it arrived and how many ships it moved.
async fn listen(mut deltas: Subscription, deadline: Instant) -> Vec<(Instant, usize)> {
    let mut arrivals = Vec::new();
    while let Ok(Some(payload)) = tokio::time::timeout_at(deadline.into(), deltas.next()).await {
        let at = Instant::now();
        // Deltas are framed server envelopes (a 4-byte length, then the envelope); notices are not counted.
        let Some(envelope) = payload.get(4..).and_then(|body| v1::ServerEnvelope::decode(body).ok()) else {
            continue;
        };
        if let Some(v1::server_envelope::Body::Delta(delta)) = envelope.body {
            arrivals.push((at, delta.moved.len()));
        }
    }
    arrivals
}

/// The node's and the worker's running totals at one moment.
struct Counters {
    ticks: u64,
    late_ticks: u64,
    batches: u64,
    rows: u64,
}

impl Counters {
    fn read(stats: &PersistStats, report: &NodeReport) -> Counters {
        Counters {
            ticks: report.ticks,
            late_ticks: report.late_ticks,
            batches: stats.batches.load(Relaxed),
            rows: stats.rows.load(Relaxed),
        }
    }
}

/// Times each checkpoint batch from [`PersistStats::last_batch_us`], read whenever the batch count moves by one
/// (a move by more between two reads leaves those batches untimed; they are still counted).
struct BatchSampler {
    batches: u64,
    rows: u64,
    /// Per timed batch: (microseconds, rows).
    timed: Vec<(u64, u64)>,
}

impl BatchSampler {
    fn new(stats: &PersistStats) -> BatchSampler {
        BatchSampler { batches: stats.batches.load(Relaxed), rows: stats.rows.load(Relaxed), timed: Vec::new() }
    }

    fn sample(&mut self, stats: &PersistStats) {
        let (batches, rows, last_us) =
            (stats.batches.load(Relaxed), stats.rows.load(Relaxed), stats.last_batch_us.load(Relaxed));
        if batches == self.batches + 1 {
            self.timed.push((last_us, rows.saturating_sub(self.rows)));
        }
        (self.batches, self.rows) = (batches, rows);
    }

    fn report(&self, batches: u64, rows: u64, window_s: f64) -> BatchReport {
        let mut micros: Vec<u64> = self.timed.iter().map(|(us, _)| *us).collect();
        micros.sort_unstable();
        let (timed_us, timed_rows) = self
            .timed
            .iter()
            .fold((0u64, 0u64), |(us, rows), (batch_us, batch_rows)| (us + batch_us, rows + batch_rows));
        BatchReport {
            batches,
            rows,
            rows_per_s_of_window: rows as f64 / window_s.max(f64::EPSILON),
            batches_timed: micros.len() as u64,
            batch_ms_p50: micros.get(micros.len() / 2).map_or(0.0, |us| *us as f64 / 1000.0),
            batch_ms_max: micros.last().map_or(0.0, |us| *us as f64 / 1000.0),
            ships_per_s: if timed_us == 0 { 0.0 } else { timed_rows as f64 / (timed_us as f64 / 1e6) },
        }
    }
}
