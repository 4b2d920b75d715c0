//! Prometheus metrics for a running cluster.
//!
//! Operators scrape `/metrics` and graph the cluster from it: how many sessions are open, how many ships are in
//! space per node and per system, how long ticks take and how late they start, which systems are dilated and by
//! how much, which commands clients send, the traffic in and out, and how the store keeps up.
//!
//! [`Metrics`] owns one [`prometheus_client::registry::Registry`] holding every `orrery_*` family. The runtime
//! shares it as `Arc<Metrics>`; every recording method takes `&self`, plain values, and costs a few atomic
//! operations (labelled families add a hash lookup under a read lock: [`Family::get_or_create`]). The HTTP layer
//! calls [`Metrics::encode`] and serves the text with [`CONTENT_TYPE`].
//!
//! Names follow OpenMetrics: a counter family `orrery_ticks` is exposed as the sample `orrery_ticks_total`, a
//! family registered with a unit (seconds) carries it as a suffix and a `# UNIT` line.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` to serve [`Metrics::encode`]'s text with: OpenMetrics 1.0, which Prometheus negotiates and
/// parses (it also accepts the text under `text/plain; version=0.0.4`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a system that recovered to a Time Dilation factor of 1.0 keeps being exported (at 1.0) by
/// [`Metrics::set_tidi`], so a graph shows the recovery instead of a line that simply stops at 0.6.
pub const DEFAULT_TIDI_LINGER: Duration = Duration::from_secs(300);

/// Upper bounds (seconds) for tick durations: a quiet system ticks in tens of microseconds, a system in trouble
/// takes most of a second. A 1–2.5–5 series keeps every decade readable.
const TICK_BUCKETS: [f64; 16] =
    [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0];

/// Upper bounds (seconds) for tick lateness: timer jitter is microseconds, an overloaded node falls seconds behind.
const LATENESS_BUCKETS: [f64; 18] = [
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0,
    2.5, 5.0,
];

/// Upper bounds (seconds) for store checkpoints: a SQLite transaction in WAL mode is about a millisecond, a
/// stalled disk many seconds.
const CHECKPOINT_BUCKETS: [f64; 15] =
    [100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 10.0];

/// Label set `node="<id>"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: u32,
}

/// Label set `system="<id>"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabel {
    system: u32,
}

/// Label set `type="<command>"`. Kinds are `&'static str` so a label lookup never allocates and a client cannot
/// invent label values (cardinality stays what the code names).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    r#type: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn tick_histogram() -> Histogram {
    Histogram::new(TICK_BUCKETS)
}

fn lateness_histogram() -> Histogram {
    Histogram::new(LATENESS_BUCKETS)
}

/// Errors from [`Metrics::try_encode`].
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The text encoder refused a metric. Writing into a `String` cannot fail and every family here is
    /// text-encodable, so this would be a bug in a dependency, reported instead of a panic.
    #[error("encoding the metrics as OpenMetrics text failed")]
    Encode(#[from] std::fmt::Error),
}

/// Every `orrery_*` metric family, registered once, recorded from any thread.
///
/// Cheap to record into (atomics; labelled families look their child up under a read lock), `Send + Sync`;
/// share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sessions: Gauge,
    players: Family<NodeLabel, Gauge>,
    system_players: Family<SystemLabel, Gauge>,
    ticks: Family<NodeLabel, Counter>,
    tick_duration: HistogramFamily<NodeLabel>,
    tick_lateness: HistogramFamily<NodeLabel>,
    tidi_factor: Family<SystemLabel, Gauge<f64, AtomicU64>>,
    commands: Family<CommandLabel, Counter>,
    bytes_in: Counter,
    bytes_out: Counter,
    slow_clients_dropped: Counter,
    jumps: Counter,
    handoffs: Counter,
    checkpoint_seconds: Histogram,
    checkpoint_rows: Counter,
    /// Systems whose `orrery_system_players` series exists, so the next refresh can remove the stale ones
    /// (the family cannot list its label sets). The lock also serialises concurrent refreshes.
    system_players_present: Mutex<HashSet<u32>>,
    /// Per exported `orrery_tidi_factor` system: when it was last below 1.0.
    tidi_state: Mutex<HashMap<u32, Instant>>,
    tidi_linger: Duration,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every family, with [`DEFAULT_TIDI_LINGER`].
    pub fn new() -> Metrics {
        Self::with_tidi_linger(DEFAULT_TIDI_LINGER)
    }

    /// Registers every family; a system that recovered from Time Dilation stays exported at 1.0 for `linger`.
    pub fn with_tidi_linger(linger: Duration) -> Metrics {
        let mut registry = Registry::default();
        let sessions = Gauge::default();
        registry.register("orrery_sessions", "Open client sessions on the proxy", sessions.clone());
        let players = Family::<NodeLabel, Gauge>::default();
        registry.register("orrery_players", "Ships in space per sol node", players.clone());
        let system_players = Family::<SystemLabel, Gauge>::default();
        registry.register(
            "orrery_system_players",
            "Ships in space per solar system (only systems with ships)",
            system_players.clone(),
        );
        let ticks = Family::<NodeLabel, Counter>::default();
        registry.register("orrery_ticks", "System ticks run per sol node", ticks.clone());
        let tick_duration: HistogramFamily<NodeLabel> = Family::new_with_constructor(tick_histogram);
        registry.register_with_unit(
            "orrery_tick_duration",
            "Wall time of one system tick per sol node",
            Unit::Seconds,
            tick_duration.clone(),
        );
        let tick_lateness: HistogramFamily<NodeLabel> = Family::new_with_constructor(lateness_histogram);
        registry.register_with_unit(
            "orrery_tick_lateness",
            "How late a tick started versus its schedule per sol node (timer jitter and overload)",
            Unit::Seconds,
            tick_lateness.clone(),
        );
        let tidi_factor = Family::<SystemLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "orrery_tidi_factor",
            "Time Dilation factor per solar system (only systems below 1.0 and those recently below)",
            tidi_factor.clone(),
        );
        let commands = Family::<CommandLabel, Counter>::default();
        registry.register("orrery_commands", "Client commands received, by type", commands.clone());
        let bytes_in = Counter::default();
        registry.register("orrery_bytes_in", "Bytes received from clients", bytes_in.clone());
        let bytes_out = Counter::default();
        registry.register("orrery_bytes_out", "Bytes sent to clients", bytes_out.clone());
        let slow_clients_dropped = Counter::default();
        registry.register(
            "orrery_slow_clients_dropped",
            "Clients disconnected because they stopped reading (outbound queue full)",
            slow_clients_dropped.clone(),
        );
        let jumps = Counter::default();
        registry.register("orrery_jumps", "Stargate jumps", jumps.clone());
        let handoffs = Counter::default();
        registry.register("orrery_handoffs", "Ships handed to a system on another sol node", handoffs.clone());
        let checkpoint_seconds = Histogram::new(CHECKPOINT_BUCKETS);
        registry.register_with_unit(
            "orrery_checkpoint",
            "Latency of one store checkpoint write",
            Unit::Seconds,
            checkpoint_seconds.clone(),
        );
        let checkpoint_rows = Counter::default();
        registry.register("orrery_checkpoint_rows", "Rows written by store checkpoints", checkpoint_rows.clone());
        Metrics {
            registry,
            sessions,
            players,
            system_players,
            ticks,
            tick_duration,
            tick_lateness,
            tidi_factor,
            commands,
            bytes_in,
            bytes_out,
            slow_clients_dropped,
            jumps,
            handoffs,
            checkpoint_seconds,
            checkpoint_rows,
            system_players_present: Mutex::new(HashSet::new()),
            tidi_state: Mutex::new(HashMap::new()),
            tidi_linger: linger,
        }
    }

    /// Sets `orrery_sessions` to the proxy's own count of open sessions.
    pub fn set_sessions(&self, open: u64) {
        self.sessions.set(saturating_i64(open));
    }

    /// One more open session (`orrery_sessions` + 1), for callers that track opens and closes rather than a count.
    pub fn session_opened(&self) {
        self.sessions.inc();
    }

    /// One session fewer (`orrery_sessions` − 1).
    pub fn session_closed(&self) {
        self.sessions.dec();
    }

    /// Sets `orrery_players{node}`: ships in space on that sol node.
    pub fn set_node_players(&self, node: u32, ships: u64) {
        self.players.get_or_create(&NodeLabel { node }).set(saturating_i64(ships));
    }

    /// Replaces `orrery_system_players` with `systems` (`(system id, ships)`): every system given is set, every
    /// system exported before but absent now is removed, so the family lists only systems with ships. A system
    /// given with 0 ships is removed too. The caller passes the whole picture at each refresh.
    pub fn set_system_players(&self, systems: &[(u32, u64)]) {
        let mut present = self.system_players_present.lock();
        let now: HashSet<u32> = systems.iter().filter(|(_, ships)| *ships > 0).map(|(id, _)| *id).collect();
        for &(system, ships) in systems {
            if ships > 0 {
                self.system_players.get_or_create(&SystemLabel { system }).set(saturating_i64(ships));
            }
        }
        for &system in present.difference(&now) {
            self.system_players.remove(&SystemLabel { system });
        }
        *present = now;
    }

    /// Records one tick of a system on `node`: `orrery_ticks_total` + 1, its wall time into
    /// `orrery_tick_duration_seconds`, and how late it started versus its schedule into
    /// `orrery_tick_lateness_seconds`.
    pub fn observe_tick(&self, node: u32, duration: Duration, lateness: Duration) {
        let label = NodeLabel { node };
        self.ticks.get_or_create(&label).inc();
        self.tick_duration.get_or_create(&label).observe(duration.as_secs_f64());
        self.tick_lateness.get_or_create(&label).observe(lateness.as_secs_f64());
    }

    /// Refreshes `orrery_tidi_factor` from `factors` (`(system id, factor)`), now. See [`Metrics::set_tidi_at`].
    pub fn set_tidi(&self, factors: &[(u32, f64)]) {
        self.set_tidi_at(factors, Instant::now());
    }

    /// Refreshes `orrery_tidi_factor` as of `now`: a system with a factor below 1.0 is exported with it; a system
    /// that was below 1.0 within the linger period (and is now at 1.0, or absent from `factors`) is exported at
    /// 1.0; any other series is removed. The caller may pass every system or only the dilated ones: an absent
    /// system counts as 1.0. A NaN factor counts as 1.0 (it is not a dilation). `now` is a parameter so tests and
    /// replays need no clock.
    pub fn set_tidi_at(&self, factors: &[(u32, f64)], now: Instant) {
        let mut state = self.tidi_state.lock();
        let mut dilated: HashSet<u32> = HashSet::new();
        for &(system, factor) in factors {
            if factor < 1.0 {
                state.insert(system, now);
                dilated.insert(system);
                self.tidi_factor.get_or_create(&SystemLabel { system }).set(factor);
            }
        }
        let linger = self.tidi_linger;
        state.retain(|&system, last_dilated| {
            if dilated.contains(&system) {
                return true;
            }
            let label = SystemLabel { system };
            if now.saturating_duration_since(*last_dilated) <= linger {
                self.tidi_factor.get_or_create(&label).set(1.0);
                true
            } else {
                self.tidi_factor.remove(&label);
                false
            }
        });
    }

    /// Counts one client command of `kind` (`approach`, `stop`, `warp_to`, `jump`, `chat`, `login`, …) in
    /// `orrery_commands_total{type}`.
    pub fn count_command(&self, kind: &'static str) {
        self.commands.get_or_create(&CommandLabel { r#type: kind }).inc();
    }

    /// Adds `n` received bytes to `orrery_bytes_in_total`.
    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.inc_by(n);
    }

    /// Adds `n` sent bytes to `orrery_bytes_out_total`.
    pub fn add_bytes_out(&self, n: u64) {
        self.bytes_out.inc_by(n);
    }

    /// Sets `orrery_bytes_in_total` to a total the runtime already keeps (so it need not compute deltas).
    ///
    /// The family stays a counter (so `rate()` works); the value is raised with an atomic `fetch_max`, never
    /// lowered: a counter must not go down, and a stale total racing a newer one is ignored. Use either this or
    /// [`Metrics::add_bytes_in`] for one counter, not both.
    pub fn set_bytes_in_total(&self, total: u64) {
        self.bytes_in.inner().fetch_max(total, Ordering::Relaxed);
    }

    /// Sets `orrery_bytes_out_total` to a total the runtime keeps; same rule as [`Metrics::set_bytes_in_total`].
    pub fn set_bytes_out_total(&self, total: u64) {
        self.bytes_out.inner().fetch_max(total, Ordering::Relaxed);
    }

    /// Counts one client disconnected for not reading (`orrery_slow_clients_dropped_total`).
    pub fn count_slow_client_dropped(&self) {
        self.slow_clients_dropped.inc();
    }

    /// Counts one stargate jump (`orrery_jumps_total`).
    pub fn count_jump(&self) {
        self.jumps.inc();
    }

    /// Counts one handoff of a ship to a system on another node (`orrery_handoffs_total`).
    pub fn count_handoff(&self) {
        self.handoffs.inc();
    }

    /// Records one store checkpoint: its latency into `orrery_checkpoint_seconds` and its rows into
    /// `orrery_checkpoint_rows_total`.
    pub fn observe_checkpoint(&self, latency: Duration, rows: u64) {
        self.checkpoint_seconds.observe(latency.as_secs_f64());
        self.checkpoint_rows.inc_by(rows);
    }

    /// The OpenMetrics text of every family, ending in `# EOF`, to serve with [`CONTENT_TYPE`].
    pub fn try_encode(&self) -> Result<String, MetricsError> {
        let mut out = String::with_capacity(4096);
        text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The OpenMetrics text of every family, ending in `# EOF`, to serve with [`CONTENT_TYPE`].
    ///
    /// [`Metrics::try_encode`] cannot fail in practice (see [`MetricsError::Encode`]); should it, this returns a
    /// comment saying so and `# EOF`, which a scraper accepts as an empty exposition, rather than panicking.
    pub fn encode(&self) -> String {
        self.try_encode().unwrap_or_else(|error| format!("# orrery: {error}\n# EOF\n"))
    }
}

/// A count as a gauge value: gauges are `i64`, counts `u64`; a count past `i64::MAX` is not a real case.
fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// `Arc<Metrics>` is shared by every runtime thread.
const _: () = {
    const fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Metrics>();
};
