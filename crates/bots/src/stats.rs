//! What a run measured: counters shared by all bots while it runs, and the [`Summary`] it ends with.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

use crate::config::Scenario;

/// Latencies are recorded in microseconds, from 1 µs to one hour, to three significant figures: exact enough
/// for milliseconds, and one fixed-size histogram (a few hundred KiB) for the whole run however many bots.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// A latency histogram shared by all bots. Samples are rare (one per command), so one mutex is no contention.
#[derive(Debug)]
pub struct LatencyRecorder {
    histogram: Mutex<Option<Histogram<u64>>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder { histogram: Mutex::new(Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).ok()) }
    }
}

impl LatencyRecorder {
    /// Records one sample (clamped to the histogram's range).
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, LATENCY_MAX_US);
        if let Some(histogram) = self.histogram.lock().as_mut() {
            histogram.saturating_record(micros);
        }
    }

    /// p50, p99 and max so far, in milliseconds (zeros when there is no sample).
    pub fn summary(&self) -> LatencySummary {
        match self.histogram.lock().as_ref() {
            Some(h) if !h.is_empty() => LatencySummary {
                samples: h.len(),
                p50: micros_to_ms(h.value_at_quantile(0.50)),
                p99: micros_to_ms(h.value_at_quantile(0.99)),
                max: micros_to_ms(h.max()),
            },
            _ => LatencySummary::default(),
        }
    }
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// How many samples.
    pub samples: u64,
}

/// The end result of a run. Serialises to the JSON object `orrery bots --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The scenario that ran.
    pub scenario: Scenario,
    /// Bots started.
    pub clients: u64,
    /// Bots that reached space (got their undock snapshot) at least once.
    pub connected: u64,
    /// Unexpected error answers, plus bots that could not get in at all (connect, login or undock failed
    /// until the end of the run). `error_codes` breaks the error answers down.
    pub errors: u64,
    /// Connections lost while in space (each followed by a reconnect attempt).
    pub disconnects: u64,
    /// Jumps completed (a snapshot of another system after a `Jump`).
    pub jumps: u64,
    /// Jumps that landed on another sol node (the snapshot's `node_id` differs from the previous one's).
    pub cross_node_jumps: u64,
    /// Chat lines sent.
    pub chat_sent: u64,
    /// Chat lines received (one's own included).
    pub chat_received: u64,
    /// Command latency: `Approach`/`WarpTo` sent → first delta with the own ship in `moved` (or the error
    /// answer); `Chat` sent → own line seen in a delta.
    pub latency_ms: LatencySummary,
    /// `Jump` sent → the destination's snapshot, for jumps that stayed on one sol node.
    pub jump_ms: LatencySummary,
    /// The same for jumps to another sol node (a handoff over the bus between nodes).
    pub cross_node_jump_ms: LatencySummary,
    /// The nominal tick length the bots saw (the last snapshot's), to read the jump latencies in ticks.
    pub tick_ms: u32,
    /// The lowest time-dilation factor seen in any snapshot or delta (1.0 = full speed, 0.1 = the floor);
    /// `null` when no bot got into space.
    pub tidi_min: Option<f64>,
    /// Wall time of the run in seconds, from the start to the last bot done (the logout grace included).
    pub duration_s: f64,
    /// Deltas received, all bots together.
    pub deltas_received: u64,
    /// `Pong`s received (idle bots ping every 10 s).
    pub pongs: u64,
    /// Every error answer seen, by code name (expected ones such as `UNAVAILABLE` during a move included).
    pub error_codes: BTreeMap<String, u64>,
    /// The fight scenario's figures (absent for the other scenarios).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fight: Option<crate::fight::FightSummary>,
}

impl Summary {
    /// The summary as one line of JSON (what `--json` prints last).
    pub fn to_json_line(&self) -> String {
        // Serialising plain numbers, strings and maps cannot fail; an empty object is a safe fallback anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario {}: {} bots for {:.1} s", self.scenario, self.clients, self.duration_s)?;
        writeln!(f, "  connected        {:>10}", self.connected)?;
        writeln!(f, "  errors           {:>10}", self.errors)?;
        writeln!(f, "  disconnects      {:>10}", self.disconnects)?;
        writeln!(f, "  jumps            {:>10}  ({} to another node)", self.jumps, self.cross_node_jumps)?;
        writeln!(f, "  chat sent        {:>10}", self.chat_sent)?;
        writeln!(f, "  chat received    {:>10}", self.chat_received)?;
        writeln!(f, "  deltas received  {:>10}", self.deltas_received)?;
        writeln!(f, "  pongs            {:>10}", self.pongs)?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "  latency (ms)     p50 {:.1}  p99 {:.1}  max {:.1}  ({} samples)",
            l.p50, l.p99, l.max, l.samples
        )?;
        for (what, l) in [("jump", &self.jump_ms), ("cross-node jump", &self.cross_node_jump_ms)] {
            if l.samples > 0 {
                let ticks = |ms: f64| if self.tick_ms > 0 { ms / f64::from(self.tick_ms) } else { f64::NAN };
                writeln!(
                    f,
                    "  {what:<16} p50 {:.1}  p99 {:.1}  max {:.1} ms = p99 {:.2} ticks  ({} samples)",
                    l.p50,
                    l.p99,
                    l.max,
                    ticks(l.p99),
                    l.samples
                )?;
            }
        }
        match self.tidi_min {
            Some(tidi) => write!(f, "  time dilation    lowest {:.0} %", tidi * 100.0)?,
            None => write!(f, "  time dilation    not seen")?,
        }
        if !self.error_codes.is_empty() {
            let codes: Vec<String> = self.error_codes.iter().map(|(code, n)| format!("{code} {n}")).collect();
            write!(f, "\n  error answers    {}", codes.join(", "))?;
        }
        if let Some(fight) = &self.fight {
            let factor = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            write!(
                f,
                "\n  kills seen       {:>10} ({} by both sides), {} respawns, {} hits\
                 \n  tidi fight       median {} min {}; quiet system median {} min {}\
                 \n  latency (ticks)  p50 {} p99 {} ({} samples)\
                 \n  bytes/s per bot  {:>10}",
                fight.kills_seen,
                fight.kills_seen_by_both_sides,
                fight.respawns,
                fight.hits,
                factor(fight.tidi_fight_median),
                factor(fight.tidi_fight_min),
                factor(fight.tidi_quiet_median),
                factor(fight.tidi_quiet_min),
                fight.latency_ticks_p50.map_or_else(|| "-".into(), |t| t.to_string()),
                fight.latency_ticks_p99.map_or_else(|| "-".into(), |t| t.to_string()),
                fight.latency_samples,
                fight.bytes_per_s_per_bot,
            )?;
        }
        Ok(())
    }
}

/// Counters every bot adds to while the run goes on; the progress display reads them ~5 times a second.
#[derive(Debug)]
pub(crate) struct Shared {
    pub connected: AtomicU64,
    pub in_space: AtomicU64,
    pub errors: AtomicU64,
    pub disconnects: AtomicU64,
    pub jumps: AtomicU64,
    pub cross_node_jumps: AtomicU64,
    pub chat_sent: AtomicU64,
    pub chat_received: AtomicU64,
    pub deltas: AtomicU64,
    pub pongs: AtomicU64,
    /// Lowest tidi in permille; `u32::MAX` until one is seen.
    pub tidi_min_permille: AtomicU32,
    pub latency: LatencyRecorder,
    pub jump_latency: LatencyRecorder,
    pub cross_node_jump_latency: LatencyRecorder,
    pub tick_ms: AtomicU32,
    pub error_codes: Mutex<BTreeMap<String, u64>>,
    /// Whether a bot giving up has been logged at warn level already.
    pub fatal_reported: AtomicBool,
    /// The fight scenario's measurements.
    pub fight: crate::fight::FightShared,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            connected: AtomicU64::new(0),
            in_space: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            jumps: AtomicU64::new(0),
            cross_node_jumps: AtomicU64::new(0),
            chat_sent: AtomicU64::new(0),
            chat_received: AtomicU64::new(0),
            deltas: AtomicU64::new(0),
            pongs: AtomicU64::new(0),
            tidi_min_permille: AtomicU32::new(u32::MAX),
            latency: LatencyRecorder::default(),
            jump_latency: LatencyRecorder::default(),
            cross_node_jump_latency: LatencyRecorder::default(),
            tick_ms: AtomicU32::new(0),
            error_codes: Mutex::new(BTreeMap::new()),
            fatal_reported: AtomicBool::new(false),
            fight: crate::fight::FightShared::default(),
        }
    }
}

impl Shared {
    /// Moves a bot's local tally into the shared counters and empties it.
    pub fn absorb(&self, tally: &mut Tally) {
        let t = std::mem::take(tally);
        let add = |counter: &AtomicU64, n: u64| {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
            }
        };
        add(&self.errors, t.errors);
        add(&self.jumps, t.jumps);
        add(&self.cross_node_jumps, t.cross_node_jumps);
        add(&self.chat_sent, t.chat_sent);
        add(&self.chat_received, t.chat_received);
        add(&self.deltas, t.deltas);
        add(&self.pongs, t.pongs);
        if let Some(tidi) = t.tidi_min_permille {
            self.tidi_min_permille.fetch_min(tidi, Relaxed);
        }
        for latency in t.latencies {
            self.latency.record(latency);
        }
        for (latency, cross_node) in t.jump_latencies {
            if cross_node { &self.cross_node_jump_latency } else { &self.jump_latency }.record(latency);
        }
        if t.tick_ms > 0 {
            self.tick_ms.store(t.tick_ms, Relaxed);
        }
        if !t.error_codes.is_empty() {
            let mut codes = self.error_codes.lock();
            for code in t.error_codes {
                *codes.entry(code.as_str_name().trim_start_matches("ERROR_CODE_").to_string()).or_default() += 1;
            }
        }
    }

    /// Counts one error answer (by code) and, if unexpected, one error.
    pub fn count_error(&self, code: orrery_proto::v1::ErrorCode, unexpected: bool) {
        let mut tally = Tally::default();
        tally.note_error(code, unexpected);
        self.absorb(&mut tally);
    }

    pub fn summary(&self, scenario: Scenario, clients: usize, elapsed: Duration) -> Summary {
        let tidi = self.tidi_min_permille.load(Relaxed);
        Summary {
            scenario,
            clients: clients as u64,
            connected: self.connected.load(Relaxed),
            errors: self.errors.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            jumps: self.jumps.load(Relaxed),
            cross_node_jumps: self.cross_node_jumps.load(Relaxed),
            chat_sent: self.chat_sent.load(Relaxed),
            chat_received: self.chat_received.load(Relaxed),
            latency_ms: self.latency.summary(),
            jump_ms: self.jump_latency.summary(),
            cross_node_jump_ms: self.cross_node_jump_latency.summary(),
            tick_ms: self.tick_ms.load(Relaxed),
            tidi_min: (tidi != u32::MAX).then(|| f64::from(tidi) / 1000.0),
            duration_s: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            deltas_received: self.deltas.load(Relaxed),
            pongs: self.pongs.load(Relaxed),
            error_codes: self.error_codes.lock().clone(),
            fight: (scenario == Scenario::Fight).then(|| self.fight.summary()),
        }
    }
}

/// What one bot counted since its tally was last absorbed: plain fields, so the per-event path touches no
/// shared memory.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub errors: u64,
    pub jumps: u64,
    pub cross_node_jumps: u64,
    pub chat_sent: u64,
    pub chat_received: u64,
    pub deltas: u64,
    pub pongs: u64,
    pub tidi_min_permille: Option<u32>,
    pub latencies: Vec<Duration>,
    /// Jump latencies, and whether each landed on another node.
    pub jump_latencies: Vec<(Duration, bool)>,
    /// The tick length of the last snapshot seen (0: none).
    pub tick_ms: u32,
    pub error_codes: Vec<orrery_proto::v1::ErrorCode>,
}

impl Tally {
    /// Notes a time-dilation factor; 0 (field absent) is ignored.
    pub fn note_tidi(&mut self, permille: u32) {
        if permille > 0 {
            self.tidi_min_permille = Some(self.tidi_min_permille.map_or(permille, |min| min.min(permille)));
        }
    }

    /// Notes an error answer.
    pub fn note_error(&mut self, code: orrery_proto::v1::ErrorCode, unexpected: bool) {
        self.error_codes.push(code);
        if unexpected {
            self.errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use orrery_proto::v1::ErrorCode;

    use super::*;

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let recorder = LatencyRecorder::default();
        for ms in 1..=100 {
            recorder.record(Duration::from_millis(ms));
        }
        let summary = recorder.summary();
        assert_eq!(summary.samples, 100);
        assert!((summary.p50 - 50.0).abs() < 0.1, "p50 {}", summary.p50);
        assert!((summary.p99 - 99.0).abs() < 0.1, "p99 {}", summary.p99);
        assert!((summary.max - 100.0).abs() < 0.1, "max {}", summary.max);
    }

    #[test]
    fn no_samples_give_zeros_and_extremes_are_clamped() {
        let recorder = LatencyRecorder::default();
        assert_eq!(recorder.summary(), LatencySummary::default());
        recorder.record(Duration::ZERO);
        recorder.record(Duration::from_secs(10 * 3600));
        let summary = recorder.summary();
        assert_eq!(summary.samples, 2);
        assert!(summary.max >= 3_599_000.0 && summary.max <= 3_601_000.0, "max {}", summary.max);
    }

    #[test]
    fn absorbing_tallies_adds_up_and_keeps_the_lowest_tidi() {
        let shared = Shared::default();
        let mut a = Tally { jumps: 2, chat_sent: 1, deltas: 10, ..Tally::default() };
        a.note_tidi(800);
        a.note_tidi(0);
        a.note_error(ErrorCode::OutOfRange, true);
        a.latencies.push(Duration::from_millis(20));
        let mut b = Tally { jumps: 1, cross_node_jumps: 1, ..Tally::default() };
        b.note_tidi(350);
        b.note_error(ErrorCode::Unavailable, false);
        shared.absorb(&mut a);
        shared.absorb(&mut b);
        assert_eq!(a.jumps, 0, "absorbing empties the tally");
        let summary = shared.summary(Scenario::Travel, 2, Duration::from_millis(1500));
        assert_eq!((summary.jumps, summary.cross_node_jumps, summary.chat_sent), (3, 1, 1));
        assert_eq!(summary.errors, 1, "UNAVAILABLE is expected, OUT_OF_RANGE is not");
        assert_eq!(summary.tidi_min, Some(0.35));
        assert_eq!(summary.latency_ms.samples, 1);
        assert_eq!(summary.error_codes.get("OUT_OF_RANGE"), Some(&1));
        assert_eq!(summary.error_codes.get("UNAVAILABLE"), Some(&1));
    }

    #[test]
    fn summary_json_has_the_documented_shape() {
        let shared = Shared::default();
        shared.latency.record(Duration::from_millis(12));
        let summary = shared.summary(Scenario::Mixed, 10, Duration::from_secs(3));
        let line = summary.to_json_line();
        assert!(!line.contains('\n'), "one line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let object = value.as_object().expect("an object");
        for key in [
            "scenario",
            "clients",
            "connected",
            "errors",
            "disconnects",
            "jumps",
            "cross_node_jumps",
            "chat_sent",
            "chat_received",
            "latency_ms",
            "tidi_min",
            "duration_s",
            "deltas_received",
            "pongs",
            "error_codes",
        ] {
            assert!(object.contains_key(key), "missing {key}");
        }
        assert_eq!(value["scenario"], "mixed");
        assert_eq!(value["clients"], 10);
        assert_eq!(value["tidi_min"], serde_json::Value::Null);
        assert_eq!(value["duration_s"], 3.0);
        for key in ["p50", "p99", "max", "samples"] {
            assert!(value["latency_ms"].get(key).is_some(), "latency_ms.{key}");
        }
        assert!((value["latency_ms"]["p50"].as_f64().unwrap_or(0.0) - 12.0).abs() < 0.05);
    }

    #[test]
    fn human_summary_names_the_numbers() {
        let shared = Shared::default();
        shared.count_error(ErrorCode::RateLimited, true);
        let text = shared.summary(Scenario::Idle, 1, Duration::from_secs(1)).to_string();
        assert!(text.contains("scenario idle: 1 bots"));
        assert!(text.contains("RATE_LIMITED 1"));
    }
}
