//! Checkpoints leave the tick thread: sol nodes queue ship rows here, and one worker on the multi-threaded
//! runtime writes everything queued in one store transaction, then sends the answers that waited for it
//! (a logout is confirmed only once the ship is stored).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use orrery_bus::{Bus, BusError};
use orrery_store::{KillRecord, LossHulls, ShipRow, Store};
use tokio::sync::{mpsc, oneshot};

/// Rows to store, and a bus message to publish once they are.
#[derive(Debug, Default)]
pub struct PersistJob {
    /// The ships to write, in one transaction with the other jobs of the batch.
    pub rows: Vec<ShipRow>,
    /// A bus subject and message to publish after the rows are stored (e.g. a handoff that must not be seen
    /// before the ship is written).
    pub then_publish: Option<(String, Bytes)>,
    /// Kill reports to store after the rows (so a checkpoint queued before a loss cannot put a lost capsule
    /// back in space), with the hulls their pilots are left in.
    pub kills: Option<(Vec<KillRecord>, LossHulls)>,
    /// Completed once written (used by shutdown to wait for the last checkpoint, and by a tick with losses to
    /// publish only once its kill reports are stored); dropped without completing if the kill reports could not
    /// be stored.
    pub done: Option<oneshot::Sender<()>>,
}

impl PersistJob {
    /// A job that only stores rows.
    #[must_use]
    pub fn rows(rows: Vec<ShipRow>) -> PersistJob {
        PersistJob { rows, ..PersistJob::default() }
    }
}

/// Where nodes send their checkpoints. Unbounded on purpose: a checkpoint is never dropped. What waits is
/// bounded all the same: while the store is down the worker keeps only the newest row of each ship (so at most
/// one row per ship the process hosts) and the answers that wait for a write (a jump's handoff or a logout's
/// confirmation: at most one per ship, since a ship in handoff or logged out does not produce another).
pub type Persister = mpsc::UnboundedSender<PersistJob>;

/// How long the worker waits between attempts while the store fails: doubling from 100 ms up to this.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// How long one write may take before it counts as an outage (a server that stopped answering without closing
/// its connections: a frozen host, a partition). Ten thousand rows take a few seconds on PostgreSQL.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at a write that fails for a reason other than an outage (bad data) before its rows are given up.
const ATTEMPTS_ON_ERROR: u32 = 5;

/// How long an answer that must follow a write (a handoff) is retried while the bus is down, before the
/// worker gives up on it (logged; the ship is stored at its destination and restored from there).
const PUBLISH_RETRY_FOR: Duration = Duration::from_secs(60);

/// How long a worker whose senders are all gone (the process is stopping) keeps trying a store that is down.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(30);

/// Counters of the persistence worker.
#[derive(Debug, Default)]
pub struct PersistStats {
    /// Batches written.
    pub batches: AtomicU64,
    /// Ship rows written.
    pub rows: AtomicU64,
    /// Batches given up on after five failed attempts for a reason other than an outage (their rows were not
    /// stored).
    pub failures: AtomicU64,
    /// Kill reports stored.
    pub kills: AtomicU64,
    /// Kill writes given up on after five failed attempts for a reason other than an outage (their ticks were
    /// published without the reports).
    pub kill_failures: AtomicU64,
    /// Duration of the last batch, microseconds.
    pub last_batch_us: AtomicU64,
    /// Rows waiting to be written now (one per ship at most while the store is down).
    pub queued_rows: AtomicU64,
    /// The most rows that ever waited at once.
    pub peak_queued_rows: AtomicU64,
    /// Milliseconds since the Unix epoch when the store stopped answering; 0 while it answers.
    pub down_since_ms: AtomicU64,
    /// Store outages seen since start.
    pub outages: AtomicU64,
    /// Milliseconds since the Unix epoch of the last write that landed (0: none yet). What a crash of this
    /// process loses is the simulation since then.
    pub last_written_ms: AtomicU64,
}

impl PersistStats {
    /// How long the current store outage has lasted (zero while the store answers).
    #[must_use]
    pub fn down_for(&self) -> Duration {
        match self.down_since_ms.load(Relaxed) {
            0 => Duration::ZERO,
            since => Duration::from_millis(unix_ms().saturating_sub(since)),
        }
    }

    fn outage(&self, down: bool) {
        if down {
            if self.down_since_ms.compare_exchange(0, unix_ms().max(1), Relaxed, Relaxed).is_ok() {
                self.outages.fetch_add(1, Relaxed);
            }
        } else {
            self.down_since_ms.store(0, Relaxed);
        }
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// Start the worker; it ends when every [`Persister`] is dropped and the queue is drained.
pub fn spawn_worker(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    stats: Arc<PersistStats>,
    metrics: Option<Arc<orrery_telemetry::Metrics>>,
) -> (Persister, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (sender, tokio::spawn(worker(store, bus, receiver, stats, metrics)))
}

/// What waits for the store: the newest row of each ship, and the answers to send once they are written, in
/// the order they came.
#[derive(Default)]
struct Pending {
    rows: HashMap<u64, ShipRow>,
    answers: Vec<Answer>,
}

/// What a job asked for once its rows are written, in order: kill reports to store, a message to publish, a
/// waiter to wake.
struct Answer {
    kills: Option<(Vec<KillRecord>, LossHulls)>,
    publish: Option<(String, Bytes)>,
    done: Option<oneshot::Sender<()>>,
}

impl Pending {
    fn add(&mut self, job: PersistJob) {
        for row in job.rows {
            // A later checkpoint of a ship supersedes an earlier one, unless the earlier one is from a later
            // handoff (the system the ship left, checkpointing late).
            match self.rows.get(&row.ship_id) {
                Some(kept) if kept.handoff_seq > row.handoff_seq => {}
                _ => {
                    self.rows.insert(row.ship_id, row);
                }
            }
        }
        if job.then_publish.is_some() || job.done.is_some() || job.kills.is_some() {
            self.answers.push(Answer { kills: job.kills, publish: job.then_publish, done: job.done });
        }
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.answers.is_empty()
    }

    fn count(&self, stats: &PersistStats) {
        let queued = self.rows.len() as u64;
        stats.queued_rows.store(queued, Relaxed);
        stats.peak_queued_rows.fetch_max(queued, Relaxed);
    }
}

async fn worker(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    mut queue: mpsc::UnboundedReceiver<PersistJob>,
    stats: Arc<PersistStats>,
    metrics: Option<Arc<orrery_telemetry::Metrics>>,
) {
    let mut jobs = Vec::new();
    let mut pending = Pending::default();
    let mut open = true;
    while open || !pending.is_empty() {
        if pending.is_empty() {
            if queue.recv_many(&mut jobs, 4096).await == 0 {
                break;
            }
        } else {
            // Take whatever else arrived without waiting.
            while let Ok(job) = queue.try_recv() {
                jobs.push(job);
            }
        }
        jobs.drain(..).for_each(|job| pending.add(job));
        pending.count(&stats);
        let mut rows: Vec<ShipRow> = pending.rows.values().copied().collect();
        rows.sort_unstable_by_key(|row| row.ship_id);
        let started = std::time::Instant::now();
        match write(store.as_ref(), &rows, &stats).await {
            Written::Yes => {}
            Written::Later => {
                // The store is down: wait, taking in what arrives meanwhile (coalesced), then try again.
                let deadline = tokio::time::Instant::now() + retry_wait(stats.down_for());
                loop {
                    match tokio::time::timeout_at(deadline, queue.recv()).await {
                        Ok(Some(job)) => pending.add(job),
                        Ok(None) => {
                            open = false;
                            tokio::time::sleep_until(deadline).await;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                pending.count(&stats);
                if !open && stats.down_for() > SHUTDOWN_PATIENCE {
                    tracing::error!(
                        rows = pending.rows.len(),
                        "shutting down with the store still unreachable: these checkpoints are not written (the ships are restored from their previous checkpoint)"
                    );
                    return;
                }
                continue;
            }
            Written::GivenUp => {}
        }
        let answers = std::mem::take(&mut pending.answers);
        pending.rows.clear();
        pending.count(&stats);
        stats.batches.fetch_add(1, Relaxed);
        stats.rows.fetch_add(rows.len() as u64, Relaxed);
        stats.last_batch_us.store(started.elapsed().as_micros() as u64, Relaxed);
        if let Some(metrics) = &metrics {
            metrics.observe_checkpoint(started.elapsed(), rows.len() as u64);
        }
        for Answer { kills, publish, mut done } in answers {
            if let Some((kills, hulls)) = kills {
                if write_kills(store.as_ref(), &kills, hulls, &stats).await {
                    stats.kills.fetch_add(kills.len() as u64, Relaxed);
                } else {
                    // Not stored: the tick waiting for it hears so by its `done` being dropped.
                    stats.kill_failures.fetch_add(1, Relaxed);
                    done = None;
                }
            }
            if let Some((subject, payload)) = publish {
                publish_when_up(bus.as_ref(), &subject, payload).await;
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    }
}

enum Written {
    Yes,
    /// The store is unreachable or busy: keep the rows and try again.
    Later,
    /// The rows were refused a few times for what they are: given up (logged, counted).
    GivenUp,
}

async fn write(store: &dyn Store, rows: &[ShipRow], stats: &PersistStats) -> Written {
    let mut attempt = 0;
    loop {
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(WRITE_TIMEOUT, store.save_ships(rows)).await {
            Ok(result) => result,
            Err(_) => Err(orrery_store::StoreError::Unreachable {
                url: "the store".into(),
                reason: format!(
                    "no answer to a checkpoint of {} rows within {} s",
                    rows.len(),
                    WRITE_TIMEOUT.as_secs()
                ),
            }),
        };
        match result {
            Ok(_) => {
                let outage = stats.down_for();
                if outage > Duration::ZERO {
                    tracing::warn!(
                        rows = rows.len(),
                        outage_ms = outage.as_millis() as u64,
                        peak_queued_rows = stats.peak_queued_rows.load(Relaxed),
                        write_ms = started.elapsed().as_millis() as u64,
                        "the store answers again: queued checkpoints written"
                    );
                }
                stats.outage(false);
                stats.last_written_ms.store(unix_ms(), Relaxed);
                return Written::Yes;
            }
            Err(problem) if problem.is_transient() => {
                if stats.down_for() == Duration::ZERO {
                    tracing::error!(
                        problem = format!("{problem:#}"),
                        rows = rows.len(),
                        "the store is unreachable: checkpoints wait (newest row per ship) and the nodes tick on"
                    );
                }
                stats.outage(true);
                return Written::Later;
            }
            Err(problem) if attempt < ATTEMPTS_ON_ERROR => {
                attempt += 1;
                tracing::warn!(%problem, attempt, rows = rows.len(), "checkpoint failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(problem) => {
                stats.failures.fetch_add(1, Relaxed);
                tracing::error!(%problem, rows = rows.len(), "checkpoint failed; giving up on this batch");
                return Written::GivenUp;
            }
        }
    }
}

/// Store kill reports after the rows before them: through an outage (retried until the store answers, like the
/// rows), and up to five attempts when the store refuses them; true once stored.
async fn write_kills(store: &dyn Store, kills: &[KillRecord], hulls: LossHulls, stats: &PersistStats) -> bool {
    let mut attempt = 0;
    loop {
        let result = match tokio::time::timeout(WRITE_TIMEOUT, store.save_kills(kills, hulls)).await {
            Ok(result) => result,
            Err(_) => Err(orrery_store::StoreError::Unreachable {
                url: "the store".into(),
                reason: format!("no answer to {} kill reports within {} s", kills.len(), WRITE_TIMEOUT.as_secs()),
            }),
        };
        match result {
            Ok(_) => {
                stats.outage(false);
                return true;
            }
            Err(problem) if problem.is_transient() => {
                if stats.down_for() == Duration::ZERO {
                    tracing::error!(problem = format!("{problem:#}"), "the store is unreachable: kill reports wait");
                }
                stats.outage(true);
                tokio::time::sleep(retry_wait(stats.down_for())).await;
            }
            Err(problem) if attempt < ATTEMPTS_ON_ERROR => {
                attempt += 1;
                tracing::warn!(%problem, attempt, "kill reports not stored; retrying");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(problem) => {
                tracing::error!(%problem, kills = kills.len(), "kill reports not stored; giving up");
                return false;
            }
        }
    }
}

/// The wait before the next attempt, growing with the outage: 100 ms at first, then up to [`MAX_RETRY_WAIT`].
fn retry_wait(down_for: Duration) -> Duration {
    (Duration::from_millis(100) + down_for / 4).min(MAX_RETRY_WAIT)
}

/// Publish an answer that must follow a write (a handoff must reach the destination); while the bus is down,
/// try again for up to [`PUBLISH_RETRY_FOR`].
async fn publish_when_up(bus: &dyn Bus, subject: &str, payload: Bytes) {
    let give_up = tokio::time::Instant::now() + PUBLISH_RETRY_FOR;
    loop {
        match bus.publish(subject, payload.clone()).await {
            Ok(()) => return,
            Err(BusError::Disconnected { .. }) if tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(problem) => {
                tracing::error!(%problem, subject, "could not send a checkpoint answer");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ship_id: u64, handoff_seq: u64, z: f64) -> ShipRow {
        ShipRow {
            ship_id,
            character_id: ship_id,
            system_id: 1,
            position: [0.0, 0.0, z],
            velocity: [0.0; 3],
            handoff_seq,
            in_space: true,
            hull: None,
        }
    }

    #[test]
    fn waiting_checkpoints_keep_the_newest_row_of_each_ship_and_every_answer_in_order() {
        let mut pending = Pending::default();
        for z in 0..1000 {
            pending.add(PersistJob::rows(vec![row(1, 0, f64::from(z)), row(2, 3, f64::from(z))]));
        }
        // A late checkpoint from the system ship 2 left (an older handoff) does not move it back.
        pending.add(PersistJob::rows(vec![row(2, 2, -1.0)]));
        pending.add(PersistJob {
            rows: vec![row(3, 1, 5.0)],
            then_publish: Some(("system.9".into(), Bytes::from_static(b"first"))),
            ..PersistJob::default()
        });
        pending.add(PersistJob {
            rows: vec![],
            then_publish: Some(("system.9".into(), Bytes::from_static(b"second"))),
            ..PersistJob::default()
        });
        assert_eq!(pending.rows.len(), 3, "one row per ship, however many checkpoints waited");
        assert_eq!(pending.rows[&1].position[2], 999.0);
        assert_eq!((pending.rows[&2].handoff_seq, pending.rows[&2].position[2]), (3, 999.0));
        let order: Vec<&[u8]> =
            pending.answers.iter().filter_map(|answer| answer.publish.as_ref().map(|(_, p)| &p[..])).collect();
        assert_eq!(order, [&b"first"[..], &b"second"[..]]);
        let stats = PersistStats::default();
        pending.count(&stats);
        assert_eq!((stats.queued_rows.load(Relaxed), stats.peak_queued_rows.load(Relaxed)), (3, 3));
    }

    #[test]
    fn an_outage_is_timed_from_its_first_failure_and_ends_with_a_write() {
        let stats = PersistStats::default();
        assert_eq!(stats.down_for(), Duration::ZERO);
        stats.outage(true);
        stats.outage(true);
        assert_eq!(stats.outages.load(Relaxed), 1, "one outage however many failures");
        assert!(stats.down_since_ms.load(Relaxed) > 0);
        stats.outage(false);
        assert_eq!(stats.down_for(), Duration::ZERO);
        assert!(retry_wait(Duration::ZERO) >= Duration::from_millis(100));
        assert_eq!(retry_wait(Duration::from_secs(600)), MAX_RETRY_WAIT);
    }
}
