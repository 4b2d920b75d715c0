//! A profiler operators switch on and off at runtime.
//!
//! Two tools, for two questions:
//!
//! - [`Profiler`]: *which messages and which systems cost the time?* The runtime calls
//!   [`Profiler::record_message`] after handling each message and [`Profiler::record_system`] after each system
//!   tick, always. While the profiler is off that is one relaxed atomic load and a return: no lock, no
//!   allocation, nothing measurable (see `BENCHMARKS.md`). While it is on, each record goes into a per-key
//!   HdrHistogram; [`Profiler::report`] turns them into tables sorted by total time.
//! - [`flamegraph`]: *where inside the code does the CPU go?* It samples the stacks of every thread of the process
//!   for a while and renders a flamegraph SVG.
//!
//! Both are safe to call from any thread at any time.

use std::collections::HashMap;
use std::hash::Hash;
use std::string::FromUtf8Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// How many shards each timing table is split into. Each thread records into one shard (threads are assigned
/// round-robin on first use), so threads rarely wait for each other; a report merges the shards.
const SHARDS: usize = 8;

/// Durations are recorded in nanoseconds, clamped to one hour (a longer "message" is a hang, not a timing).
const MAX_RECORD_NS: u64 = 3_600 * 1_000_000_000;

/// Two significant figures: percentiles within 1%, and a histogram stays a few KiB even with thousands of systems.
const SIGNIFICANT_FIGURES: u8 = 2;

/// The highest sampling frequency [`flamegraph`] accepts: the interval timer cannot do much better, and the
/// unwinding in the signal handler would itself become the profile.
pub const MAX_FREQUENCY_HZ: i32 = 1_000;

/// The longest [`flamegraph`] sampling window: the samples are held in memory until the end.
pub const MAX_FLAMEGRAPH_DURATION: Duration = Duration::from_secs(600);

/// The shortest [`flamegraph`] sampling window.
pub const MIN_FLAMEGRAPH_DURATION: Duration = Duration::from_millis(10);

/// Errors of the CPU sampling profiler ([`flamegraph`]).
#[derive(Debug, thiserror::Error)]
pub enum ProfilerError {
    /// Another flamegraph is being sampled (the sampler is process-wide: one at a time).
    #[error("a CPU profile is already being taken")]
    AlreadyRunning,
    /// The sampling frequency is outside 1..=[`MAX_FREQUENCY_HZ`].
    #[error("sampling frequency {hz} Hz is outside 1..={MAX_FREQUENCY_HZ} Hz")]
    InvalidFrequency {
        /// The frequency asked for.
        hz: i32,
    },
    /// The sampling window is outside [`MIN_FLAMEGRAPH_DURATION`]..=[`MAX_FLAMEGRAPH_DURATION`].
    #[error("sampling duration {duration:?} is outside {MIN_FLAMEGRAPH_DURATION:?}..={MAX_FLAMEGRAPH_DURATION:?}")]
    InvalidDuration {
        /// The duration asked for.
        duration: Duration,
    },
    /// The process used no CPU while sampling (samples are taken on CPU time, so an idle process gives none).
    #[error("no CPU samples in {duration:?} at {hz} Hz: the process was idle")]
    NoSamples {
        /// The sampling window.
        duration: Duration,
        /// The sampling frequency.
        hz: i32,
    },
    /// The sampler (pprof) failed to start or to build its report.
    #[error("CPU sampler failed")]
    Pprof(#[source] pprof::Error),
    /// Rendering the samples as an SVG failed.
    #[error("rendering the flamegraph failed: {0}")]
    Render(String),
    /// The renderer produced bytes that are not UTF-8.
    #[error("the flamegraph SVG is not UTF-8")]
    NotUtf8(#[from] FromUtf8Error),
}

/// One line of a [`ProfileReport`] table: the timings of one message type or one system since the profiler
/// started. Percentiles come from an HdrHistogram (within 1%); count, total, mean and max are exact.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimingRow {
    /// The message type, or the system id in decimal.
    pub name: String,
    /// How many were recorded.
    pub count: u64,
    /// Their summed duration, milliseconds.
    pub total_ms: f64,
    /// Mean duration, microseconds.
    pub mean_us: f64,
    /// Median duration, microseconds.
    pub p50_us: f64,
    /// 99th percentile duration, microseconds.
    pub p99_us: f64,
    /// Longest duration, microseconds.
    pub max_us: f64,
}

/// What [`Profiler::report`] returns; serialises to JSON for the admin API.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileReport {
    /// Whether the profiler is recording now.
    pub running: bool,
    /// When the tables started (the last start or reset while running), Unix milliseconds; `None` if never.
    pub since_unix_ms: Option<u64>,
    /// Seconds the tables cover: from `since` to now while running, to the stop otherwise.
    pub elapsed_s: f64,
    /// Per message type, by total time, largest first.
    pub by_message: Vec<TimingRow>,
    /// Per solar system, by total time, largest first.
    pub by_system: Vec<TimingRow>,
}

/// Timings of one key in one shard.
#[derive(Clone)]
struct Stats {
    count: u64,
    total_ns: u64,
    max_ns: u64,
    /// `None` only if the histogram could not be created, which constant valid bounds rule out; the row then
    /// reports the mean as its percentiles rather than failing.
    histogram: Option<Histogram<u64>>,
}

impl Stats {
    fn new() -> Stats {
        // Auto-resizing from 1 ms: a histogram grows only as far as the longest value it sees.
        let histogram = Histogram::new_with_bounds(1, 1_000_000, SIGNIFICANT_FIGURES).ok().map(|mut h| {
            h.auto(true);
            h
        });
        Stats { count: 0, total_ns: 0, max_ns: 0, histogram }
    }

    fn record(&mut self, ns: u64) {
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
        if let Some(histogram) = &mut self.histogram {
            // Cannot fail: the value is clamped and the histogram resizes itself.
            let _ = histogram.record(ns);
        }
    }

    fn merge(&mut self, other: &Stats) {
        self.count += other.count;
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        match (&mut self.histogram, &other.histogram) {
            (Some(mine), Some(theirs)) => {
                // Cannot fail: both auto-resize and share their precision.
                let _ = mine.add(theirs);
            }
            (None, Some(theirs)) => self.histogram = Some(theirs.clone()),
            _ => {}
        }
    }

    fn row(&self, name: String) -> TimingRow {
        let mean_ns = if self.count == 0 { 0.0 } else { self.total_ns as f64 / self.count as f64 };
        let quantile_ns = |q: f64| match &self.histogram {
            Some(h) if !h.is_empty() => h.median_equivalent(h.value_at_quantile(q)).min(self.max_ns) as f64,
            _ => mean_ns,
        };
        TimingRow {
            name,
            count: self.count,
            total_ms: self.total_ns as f64 / 1e6,
            mean_us: mean_ns / 1e3,
            p50_us: quantile_ns(0.5) / 1e3,
            p99_us: quantile_ns(0.99) / 1e3,
            max_us: self.max_ns as f64 / 1e3,
        }
    }
}

/// One shard of both tables, on its own cache lines so shards used by different threads do not false-share.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    messages: Mutex<HashMap<&'static str, Stats>>,
    systems: Mutex<HashMap<u32, Stats>>,
}

/// When the tables started and, once stopped, when they stopped.
#[derive(Default)]
struct Clock {
    since: Option<(SystemTime, Instant)>,
    stopped_at: Option<Instant>,
}

/// Per-message-type and per-system timing tables, switched on and off at runtime.
///
/// Share it as `Arc<Profiler>` (or a `static`); every method takes `&self` and is safe from any thread. Recording
/// while off costs one relaxed atomic load.
pub struct Profiler {
    enabled: AtomicBool,
    clock: Mutex<Clock>,
    shards: [Shard; SHARDS],
}

impl Default for Profiler {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Profiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiler").field("running", &self.is_running()).finish_non_exhaustive()
    }
}

impl Profiler {
    /// A stopped profiler with empty tables.
    pub fn new() -> Profiler {
        Profiler {
            enabled: AtomicBool::new(false),
            clock: Mutex::new(Clock::default()),
            shards: std::array::from_fn(|_| Shard::default()),
        }
    }

    /// Clears the tables and starts recording. Starting a running profiler restarts it (tables cleared).
    pub fn start(&self) {
        let mut clock = self.clock.lock();
        self.clear_tables();
        clock.since = Some((SystemTime::now(), Instant::now()));
        clock.stopped_at = None;
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Stops recording; the tables are kept for [`Profiler::report`] until the next start or reset.
    pub fn stop(&self) {
        let mut clock = self.clock.lock();
        if self.enabled.swap(false, Ordering::Relaxed) {
            clock.stopped_at = Some(Instant::now());
        }
    }

    /// Whether the profiler is recording (one relaxed atomic load).
    #[inline]
    pub fn is_running(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Records one handled message of type `kind` that took `elapsed`.
    /// When off: returns after one atomic load, no allocation, no lock.
    #[inline]
    pub fn record_message(&self, kind: &'static str, elapsed: Duration) {
        if self.is_running() {
            self.record_message_slow(kind, elapsed);
        }
    }

    /// Records one tick of `system` that took `elapsed`.
    /// When off: returns after one atomic load, no allocation, no lock.
    #[inline]
    pub fn record_system(&self, system: u32, elapsed: Duration) {
        if self.is_running() {
            self.record_system_slow(system, elapsed);
        }
    }

    #[cold]
    #[inline(never)]
    fn record_message_slow(&self, kind: &'static str, elapsed: Duration) {
        record_into(&self.shard().messages, kind, elapsed);
    }

    #[cold]
    #[inline(never)]
    fn record_system_slow(&self, system: u32, elapsed: Duration) {
        record_into(&self.shard().systems, system, elapsed);
    }

    fn shard(&self) -> &Shard {
        // A thread being torn down has no thread-local any more: it records into shard 0.
        let index = THREAD_SHARD.try_with(|index| *index).unwrap_or(0);
        &self.shards[index % SHARDS]
    }

    /// The timing tables since start: per message type and per system, count, total, mean, p50, p99 and max,
    /// sorted by total time, largest first.
    pub fn report(&self) -> ProfileReport {
        let clock = self.clock.lock();
        let running = self.is_running();
        let mut messages: HashMap<&'static str, Stats> = HashMap::new();
        let mut systems: HashMap<u32, Stats> = HashMap::new();
        for shard in &self.shards {
            merge_from(&mut messages, &shard.messages.lock());
            merge_from(&mut systems, &shard.systems.lock());
        }
        let (since_unix_ms, elapsed_s) = match clock.since {
            None => (None, 0.0),
            Some((wall, started)) => {
                let unix_ms = wall.duration_since(UNIX_EPOCH).ok().map(|d| u64::try_from(d.as_millis()).unwrap_or(0));
                let end = if running { Instant::now() } else { clock.stopped_at.unwrap_or_else(Instant::now) };
                (unix_ms, end.saturating_duration_since(started).as_secs_f64())
            }
        };
        drop(clock);
        ProfileReport {
            running,
            since_unix_ms,
            elapsed_s,
            by_message: table(messages.into_iter().map(|(kind, stats)| (kind.to_owned(), stats))),
            by_system: table(systems.into_iter().map(|(system, stats)| (system.to_string(), stats))),
        }
    }

    /// Clears the tables ([`Profiler::start`] does it too). While running, the tables restart from now; while
    /// stopped, the report is empty until the next start. A record racing the reset lands on either side.
    pub fn reset(&self) {
        let mut clock = self.clock.lock();
        self.clear_tables();
        if self.is_running() {
            clock.since = Some((SystemTime::now(), Instant::now()));
        } else {
            *clock = Clock::default();
        }
    }

    fn clear_tables(&self) {
        for shard in &self.shards {
            shard.messages.lock().clear();
            shard.systems.lock().clear();
        }
    }
}

/// Which shard the current thread records into, assigned round-robin at its first record.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

fn record_into<K: Eq + Hash>(table: &Mutex<HashMap<K, Stats>>, key: K, elapsed: Duration) {
    let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).min(MAX_RECORD_NS);
    table.lock().entry(key).or_insert_with(Stats::new).record(ns);
}

fn merge_from<K: Eq + Hash + Copy>(into: &mut HashMap<K, Stats>, from: &HashMap<K, Stats>) {
    for (key, stats) in from {
        match into.get_mut(key) {
            Some(merged) => merged.merge(stats),
            None => {
                into.insert(*key, stats.clone());
            }
        }
    }
}

/// Rows sorted by total time, largest first; equal totals by name, so the order is stable.
fn table(entries: impl Iterator<Item = (String, Stats)>) -> Vec<TimingRow> {
    let mut entries: Vec<(String, Stats)> = entries.collect();
    entries.sort_by(|(a_name, a), (b_name, b)| b.total_ns.cmp(&a.total_ns).then_with(|| a_name.cmp(b_name)));
    entries.into_iter().map(|(name, stats)| stats.row(name)).collect()
}

/// Set while a [`flamegraph`] is sampling: the sampler is process-wide.
static FLAMEGRAPH_BUSY: AtomicBool = AtomicBool::new(false);

/// Clears [`FLAMEGRAPH_BUSY`] when the sampling ends, however it ends.
struct BusyGuard;

impl Drop for BusyGuard {
    fn drop(&mut self) {
        FLAMEGRAPH_BUSY.store(false, Ordering::Release);
    }
}

/// Samples the CPU stacks of the whole process for `duration` at `frequency_hz` (99 is customary: it avoids
/// beating with 100 Hz timers) and renders them as a flamegraph SVG (one tower per thread name).
///
/// Blocking for `duration`: run it on a blocking thread (`spawn_blocking`), never on an async worker or a tick
/// thread. One at a time per process ([`ProfilerError::AlreadyRunning`]). Samples are taken on CPU time
/// (`ITIMER_PROF`), so an idle process yields [`ProfilerError::NoSamples`].
///
/// The stacks are unwound in a signal handler (pprof); libc, libgcc, pthread and the vDSO are on its blocklist,
/// as pprof recommends, so a sample landing inside them is not unwound.
pub fn flamegraph(duration: Duration, frequency_hz: i32) -> Result<String, ProfilerError> {
    if !(1..=MAX_FREQUENCY_HZ).contains(&frequency_hz) {
        return Err(ProfilerError::InvalidFrequency { hz: frequency_hz });
    }
    if !(MIN_FLAMEGRAPH_DURATION..=MAX_FLAMEGRAPH_DURATION).contains(&duration) {
        return Err(ProfilerError::InvalidDuration { duration });
    }
    if FLAMEGRAPH_BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return Err(ProfilerError::AlreadyRunning);
    }
    let _busy = BusyGuard;

    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency_hz)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|error| match error {
            // Someone else in the process drives pprof directly.
            pprof::Error::Running => ProfilerError::AlreadyRunning,
            other => ProfilerError::Pprof(other),
        })?;
    std::thread::sleep(duration);
    let report = guard.report().build().map_err(ProfilerError::Pprof)?;
    drop(guard);

    let lines = folded_stacks(&report);
    if lines.is_empty() {
        return Err(ProfilerError::NoSamples { duration, hz: frequency_hz });
    }
    let samples: i64 = report.data.values().map(|&n| i64::try_from(n).unwrap_or(0)).sum();
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!("orrery CPU profile: {samples} samples at {frequency_hz} Hz over {duration:.1?}");
    options.count_name = "samples".to_owned();
    let mut svg = Vec::with_capacity(64 * 1024);
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .map_err(|error| ProfilerError::Render(error.to_string()))?;
    Ok(String::from_utf8(svg)?)
}

/// The samples in the "folded" format inferno reads: `thread;outermost;...;innermost count`, one stack a line.
/// pprof's own renderer does the same but panics on a render error; this returns it instead.
fn folded_stacks(report: &pprof::Report) -> Vec<String> {
    let mut lines = Vec::with_capacity(report.data.len());
    for (frames, &count) in &report.data {
        if count <= 0 {
            continue;
        }
        let mut line = sanitize(&frames.thread_name_or_id());
        // Innermost first; pprof drops its signal handler's frame but not those of the unwinder it calls.
        let sampler = frames.frames.iter().take_while(|frame| frame.iter().any(is_sampler_frame)).count();
        for frame in frames.frames.iter().skip(sampler).rev() {
            for symbol in frame.iter().rev() {
                line.push(';');
                line.push_str(&sanitize(&symbol.name()));
            }
        }
        line.push(' ');
        line.push_str(&count.to_string());
        lines.push(line);
    }
    lines
}

/// Whether `symbol` is the sampler's own unwinding code (seen in unoptimised builds, inlined away in release).
fn is_sampler_frame(symbol: &pprof::Symbol) -> bool {
    let name = symbol.name();
    ["backtrace::", "<backtrace::", "pprof::", "<pprof::", "_Unwind_"].iter().any(|prefix| name.starts_with(prefix))
}

/// `;` separates frames in the folded format and a line break ends a stack: neither may appear inside a name.
fn sanitize(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}
