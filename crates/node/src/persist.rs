//! Checkpoints leave the tick thread: sol nodes queue ship rows here, and one worker on the multi-threaded
//! runtime writes everything queued in one store transaction, then sends the answers that waited for it
//! (a logout is confirmed only once the ship is stored).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orrery_bus::Bus;
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

/// Where nodes send their checkpoints. Unbounded on purpose: a checkpoint is never dropped; its size is
/// bounded by the ships in the cluster.
pub type Persister = mpsc::UnboundedSender<PersistJob>;

/// Counters of the persistence worker.
#[derive(Debug, Default)]
pub struct PersistStats {
    /// Batches written.
    pub batches: std::sync::atomic::AtomicU64,
    /// Ship rows written.
    pub rows: std::sync::atomic::AtomicU64,
    /// Batches given up on after five failed retries (their rows were not stored).
    pub failures: std::sync::atomic::AtomicU64,
    /// Kill reports stored.
    pub kills: std::sync::atomic::AtomicU64,
    /// Kill writes given up on after five failed retries (their ticks were published without the reports).
    pub kill_failures: std::sync::atomic::AtomicU64,
    /// Duration of the last batch, microseconds.
    pub last_batch_us: std::sync::atomic::AtomicU64,
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

async fn worker(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    mut queue: mpsc::UnboundedReceiver<PersistJob>,
    stats: Arc<PersistStats>,
    metrics: Option<Arc<orrery_telemetry::Metrics>>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut jobs = Vec::new();
    while queue.recv_many(&mut jobs, 4096).await > 0 {
        let rows: Vec<ShipRow> = jobs.iter().flat_map(|job| job.rows.iter().copied()).collect();
        let started = std::time::Instant::now();
        if !rows.is_empty() && !with_retries("checkpoint", || store.save_ships(&rows)).await {
            stats.failures.fetch_add(1, Relaxed);
        }
        for job in &mut jobs {
            let Some((kills, hulls)) = job.kills.take() else { continue };
            if with_retries("kill reports", || store.save_kills(&kills, hulls)).await {
                stats.kills.fetch_add(kills.len() as u64, Relaxed);
            } else {
                // Not stored: the tick waiting for it hears so by its `done` being dropped.
                stats.kill_failures.fetch_add(1, Relaxed);
                job.done = None;
            }
        }
        stats.batches.fetch_add(1, Relaxed);
        stats.rows.fetch_add(rows.len() as u64, Relaxed);
        stats.last_batch_us.store(started.elapsed().as_micros() as u64, Relaxed);
        if let Some(metrics) = &metrics {
            metrics.observe_checkpoint(started.elapsed(), rows.len() as u64);
        }
        for job in jobs.drain(..) {
            if let Some((subject, payload)) = job.then_publish
                && let Err(problem) = bus.publish(&subject, payload).await
            {
                tracing::error!(%problem, subject, "could not send a checkpoint answer");
            }
            if let Some(done) = job.done {
                let _ = done.send(());
            }
        }
    }
}

/// Runs a store write, retrying five times with a growing pause; true once it succeeded.
async fn with_retries<T, F>(what: &str, mut write: impl FnMut() -> F) -> bool
where
    F: std::future::Future<Output = Result<T, orrery_store::StoreError>>,
{
    let mut attempt = 0;
    loop {
        match write().await {
            Ok(_) => return true,
            Err(problem) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(%problem, attempt, what, "store write failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(problem) => {
                tracing::error!(%problem, what, "store write failed; giving up on this batch");
                return false;
            }
        }
    }
}
