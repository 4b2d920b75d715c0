//! `Metrics`: the text a Prometheus scrape gets parses, lists every family, and carries what was recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orrery_telemetry::Metrics;

/// What the hand-written OpenMetrics check found.
#[derive(Debug, Default)]
struct Parsed {
    /// Family name → type (from `# TYPE`).
    types: HashMap<String, String>,
    /// Family name → help (from `# HELP`).
    helps: HashMap<String, String>,
    /// `name{sorted labels}` → value.
    samples: BTreeMap<String, f64>,
}

impl Parsed {
    fn get(&self, key: &str) -> Option<f64> {
        self.samples.get(key).copied()
    }

    fn keys_starting(&self, prefix: &str) -> Vec<&str> {
        self.samples.keys().filter(|k| k.starts_with(prefix)).map(String::as_str).collect()
    }
}

/// Checks the OpenMetrics text rules this exposition relies on, returning what it read or the first broken rule:
/// every sample line is `name{labels} value` (labels optional, `key="value"` comma-separated), belongs to a family
/// declared above it with both `# HELP` and `# TYPE`, has a suffix its type allows, and the text ends in `# EOF`.
fn parse_openmetrics(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let body = text.strip_suffix("# EOF\n").ok_or("does not end with `# EOF`")?;
    if body.contains("# EOF") {
        return Err("`# EOF` before the end".into());
    }
    for (number, line) in body.lines().enumerate() {
        let number = number + 1;
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let keyword = parts.next().unwrap_or_default();
            let name = parts.next().ok_or(format!("line {number}: comment without a name"))?;
            let rest = parts.next().ok_or(format!("line {number}: comment without text"))?;
            match keyword {
                "HELP" => {
                    parsed.helps.insert(name.to_owned(), rest.to_owned());
                }
                "TYPE" => {
                    if !parsed.helps.contains_key(name) {
                        return Err(format!("line {number}: TYPE of {name} before its HELP"));
                    }
                    parsed.types.insert(name.to_owned(), rest.to_owned());
                }
                "UNIT" => {
                    if !name.ends_with(&format!("_{rest}")) {
                        return Err(format!("line {number}: {name} does not end in its unit {rest}"));
                    }
                }
                other => return Err(format!("line {number}: unknown comment {other}")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("line {number}: no value: {line}"))?;
        let value: f64 = value.parse().map_err(|_| format!("line {number}: bad value {value}"))?;
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').ok_or(format!("line {number}: unclosed labels"))?;
                let mut pairs = Vec::new();
                for pair in labels.split(',') {
                    let (key, quoted) = pair.split_once('=').ok_or(format!("line {number}: bad label {pair}"))?;
                    let inner = quoted
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .ok_or(format!("line {number}: unquoted label value {quoted}"))?;
                    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(format!("line {number}: bad label name {key}"));
                    }
                    pairs.push(format!("{key}=\"{inner}\""));
                }
                pairs.sort();
                (name, pairs)
            }
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            return Err(format!("line {number}: bad metric name {name}"));
        }
        let family = parsed
            .types
            .iter()
            .filter(|(family, kind)| {
                let suffixes: &[&str] = match kind.as_str() {
                    "counter" => &["_total", "_created"],
                    "histogram" => &["_bucket", "_sum", "_count", "_created"],
                    _ => &[""],
                };
                suffixes.iter().any(|suffix| name == format!("{family}{suffix}"))
            })
            .map(|(family, _)| family.clone())
            .next();
        if family.is_none() {
            return Err(format!("line {number}: sample {name} of no declared family (or a wrong suffix)"));
        }
        let key = if labels.is_empty() { name.to_owned() } else { format!("{name}{{{}}}", labels.join(",")) };
        if parsed.samples.insert(key.clone(), value).is_some() {
            return Err(format!("line {number}: duplicate series {key}"));
        }
    }
    Ok(parsed)
}

fn recorded() -> Metrics {
    let metrics = Metrics::new();
    metrics.set_sessions(12);
    metrics.session_opened();
    metrics.set_node_players(0, 40);
    metrics.set_node_players(1, 2);
    metrics.set_system_players(&[(30000142, 35), (30002187, 5), (30000001, 2)]);
    metrics.observe_tick(0, Duration::from_micros(30), Duration::from_micros(5));
    metrics.observe_tick(0, Duration::from_millis(3), Duration::from_millis(2));
    metrics.observe_tick(1, Duration::from_millis(700), Duration::from_secs(3));
    metrics.set_tidi(&[(30000142, 0.25), (30002187, 1.0)]);
    for _ in 0..3 {
        metrics.count_command("approach");
    }
    metrics.count_command("warp_to");
    metrics.count_command("login");
    metrics.add_bytes_in(100);
    metrics.add_bytes_in(23);
    metrics.add_bytes_out(4096);
    metrics.count_slow_client_dropped();
    metrics.count_jump();
    metrics.count_jump();
    metrics.count_handoff();
    metrics.observe_checkpoint(Duration::from_millis(4), 250);
    metrics.observe_checkpoint(Duration::from_millis(1), 10);
    metrics
}

const FAMILIES: [(&str, &str); 15] = [
    ("orrery_sessions", "gauge"),
    ("orrery_players", "gauge"),
    ("orrery_system_players", "gauge"),
    ("orrery_ticks", "counter"),
    ("orrery_tick_duration_seconds", "histogram"),
    ("orrery_tick_lateness_seconds", "histogram"),
    ("orrery_tidi_factor", "gauge"),
    ("orrery_commands", "counter"),
    ("orrery_bytes_in", "counter"),
    ("orrery_bytes_out", "counter"),
    ("orrery_slow_clients_dropped", "counter"),
    ("orrery_jumps", "counter"),
    ("orrery_handoffs", "counter"),
    ("orrery_checkpoint_seconds", "histogram"),
    ("orrery_checkpoint_rows", "counter"),
];

#[test]
fn text_parses_and_lists_every_family_with_help_and_type() {
    let text = recorded().encode();
    let parsed = parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for (family, kind) in FAMILIES {
        assert_eq!(parsed.types.get(family).map(String::as_str), Some(kind), "{family} in\n{text}");
        assert!(parsed.helps.contains_key(family), "{family} has HELP");
    }
    assert_eq!(parsed.types.len(), FAMILIES.len(), "no other family: {:?}", parsed.types);
}

#[test]
fn an_empty_registry_still_parses() {
    let text = Metrics::new().encode();
    let parsed = parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.get("orrery_sessions"), Some(0.0));
    assert_eq!(parsed.get("orrery_jumps_total"), Some(0.0));
    assert!(parsed.keys_starting("orrery_players").is_empty());
}

#[test]
fn text_carries_the_recorded_values() {
    let text = recorded().encode();
    let p = parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let expect = |key: &str, value: f64| assert_eq!(p.get(key), Some(value), "{key} in\n{text}");
    expect("orrery_sessions", 13.0);
    expect("orrery_players{node=\"0\"}", 40.0);
    expect("orrery_players{node=\"1\"}", 2.0);
    expect("orrery_system_players{system=\"30000142\"}", 35.0);
    expect("orrery_system_players{system=\"30002187\"}", 5.0);
    expect("orrery_ticks_total{node=\"0\"}", 2.0);
    expect("orrery_ticks_total{node=\"1\"}", 1.0);
    expect("orrery_tick_duration_seconds_count{node=\"0\"}", 2.0);
    expect("orrery_tick_duration_seconds_bucket{le=\"0.00005\",node=\"0\"}", 1.0);
    expect("orrery_tick_duration_seconds_bucket{le=\"0.005\",node=\"0\"}", 2.0);
    expect("orrery_tick_duration_seconds_bucket{le=\"0.5\",node=\"1\"}", 0.0);
    expect("orrery_tick_duration_seconds_bucket{le=\"1.0\",node=\"1\"}", 1.0);
    expect("orrery_tick_duration_seconds_bucket{le=\"+Inf\",node=\"1\"}", 1.0);
    expect("orrery_tick_lateness_seconds_bucket{le=\"2.5\",node=\"1\"}", 0.0);
    expect("orrery_tick_lateness_seconds_bucket{le=\"5.0\",node=\"1\"}", 1.0);
    expect("orrery_tick_lateness_seconds_sum{node=\"1\"}", 3.0);
    expect("orrery_tidi_factor{system=\"30000142\"}", 0.25);
    assert!(p.get("orrery_tidi_factor{system=\"30002187\"}").is_none(), "never dilated: not exported");
    expect("orrery_commands_total{type=\"approach\"}", 3.0);
    expect("orrery_commands_total{type=\"warp_to\"}", 1.0);
    expect("orrery_commands_total{type=\"login\"}", 1.0);
    expect("orrery_bytes_in_total", 123.0);
    expect("orrery_bytes_out_total", 4096.0);
    expect("orrery_slow_clients_dropped_total", 1.0);
    expect("orrery_jumps_total", 2.0);
    expect("orrery_handoffs_total", 1.0);
    expect("orrery_checkpoint_seconds_count", 2.0);
    expect("orrery_checkpoint_seconds_bucket{le=\"0.001\"}", 1.0);
    expect("orrery_checkpoint_seconds_bucket{le=\"0.005\"}", 2.0);
    expect("orrery_checkpoint_rows_total", 260.0);
}

#[test]
fn tick_buckets_cover_ten_microseconds_to_one_second() {
    let m = Metrics::new();
    m.observe_tick(7, Duration::ZERO, Duration::ZERO);
    let p = parse_openmetrics(&m.encode()).unwrap_or_else(|e| panic!("{e}"));
    let bounds: Vec<f64> = p
        .keys_starting("orrery_tick_duration_seconds_bucket")
        .iter()
        .filter_map(|k| k.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
        .filter(|b: &f64| b.is_finite())
        .collect();
    let lowest = bounds.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = bounds.iter().copied().fold(0.0, f64::max);
    assert_eq!((lowest, highest), (10e-6, 1.0));
}

#[test]
fn system_players_drops_systems_no_longer_given() {
    let metrics = Metrics::new();
    metrics.set_system_players(&[(1, 10), (2, 20), (3, 30)]);
    metrics.set_system_players(&[(2, 21), (3, 0), (4, 4)]);
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.keys_starting("orrery_system_players"),
        vec!["orrery_system_players{system=\"2\"}", "orrery_system_players{system=\"4\"}"]
    );
    assert_eq!(p.get("orrery_system_players{system=\"2\"}"), Some(21.0));
    metrics.set_system_players(&[]);
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.keys_starting("orrery_system_players{").is_empty());
}

#[test]
fn tidi_keeps_recovered_systems_at_one_for_the_linger_then_drops_them() {
    let metrics = Metrics::with_tidi_linger(Duration::from_secs(60));
    let t0 = Instant::now();
    metrics.set_tidi_at(&[(1, 0.5), (2, 0.9), (3, 1.0)], t0);
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.keys_starting("orrery_tidi_factor{").len(), 2);
    assert_eq!(p.get("orrery_tidi_factor{system=\"1\"}"), Some(0.5));

    // System 1 recovers (given at 1.0), system 2 is simply no longer given: both stay, at 1.0.
    metrics.set_tidi_at(&[(1, 1.0), (5, 0.3)], t0 + Duration::from_secs(30));
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.get("orrery_tidi_factor{system=\"1\"}"), Some(1.0));
    assert_eq!(p.get("orrery_tidi_factor{system=\"2\"}"), Some(1.0));
    assert_eq!(p.get("orrery_tidi_factor{system=\"5\"}"), Some(0.3));
    assert!(p.get("orrery_tidi_factor{system=\"3\"}").is_none());

    // 61 s after their last dilation 1 and 2 are gone; 5 (dilated at 30 s) lingers.
    metrics.set_tidi_at(&[], t0 + Duration::from_secs(61));
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.keys_starting("orrery_tidi_factor{"), vec!["orrery_tidi_factor{system=\"5\"}"]);
    assert_eq!(p.get("orrery_tidi_factor{system=\"5\"}"), Some(1.0));

    metrics.set_tidi_at(&[], t0 + Duration::from_secs(100));
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.keys_starting("orrery_tidi_factor{").is_empty());
}

#[test]
fn absolute_totals_never_lower_a_counter() {
    let metrics = Metrics::new();
    metrics.set_bytes_in_total(1_000);
    metrics.set_bytes_in_total(400); // stale: ignored
    metrics.set_bytes_out_total(50);
    metrics.set_bytes_out_total(75);
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.get("orrery_bytes_in_total"), Some(1_000.0));
    assert_eq!(p.get("orrery_bytes_out_total"), Some(75.0));
}

#[test]
fn sessions_count_opens_and_closes() {
    let metrics = Metrics::new();
    metrics.session_opened();
    metrics.session_opened();
    metrics.session_closed();
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.get("orrery_sessions"), Some(1.0));
}

#[test]
fn concurrent_recording_from_four_threads_sums() {
    let metrics = Arc::new(Metrics::new());
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let metrics = Arc::clone(&metrics);
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    metrics.count_command("chat");
                    metrics.add_bytes_out(3);
                    metrics.observe_tick(t % 2, Duration::from_micros(100), Duration::ZERO);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("recording thread");
    }
    let p = parse_openmetrics(&metrics.encode()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.get("orrery_commands_total{type=\"chat\"}"), Some(40_000.0));
    assert_eq!(p.get("orrery_bytes_out_total"), Some(120_000.0));
    assert_eq!(p.get("orrery_ticks_total{node=\"0\"}"), Some(20_000.0));
    assert_eq!(p.get("orrery_tick_duration_seconds_count{node=\"1\"}"), Some(20_000.0));
}

/// The `prometheus-parse` crate reads the Prometheus 0.0.4 text format. It reads this OpenMetrics text too: it
/// ignores `# UNIT` and `# EOF`, types gauges and histograms, and leaves counters untyped (their samples carry
/// `_total`, their `# TYPE` line does not, which 0.0.4 did not know) — the values are all there.
#[test]
fn prometheus_parse_reads_the_text() {
    use prometheus_parse::{Scrape, Value};
    let text = recorded().encode();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("prometheus-parse reads it");
    let find = |metric: &str, label: Option<(&str, &str)>| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{metric} {label:?} in {:#?}", scrape.samples))
    };
    assert_eq!(find("orrery_sessions", None).value, Value::Gauge(13.0));
    assert_eq!(find("orrery_players", Some(("node", "0"))).value, Value::Gauge(40.0));
    assert_eq!(find("orrery_tidi_factor", Some(("system", "30000142"))).value, Value::Gauge(0.25));
    assert_eq!(find("orrery_commands_total", Some(("type", "approach"))).value, Value::Untyped(3.0));
    assert_eq!(find("orrery_bytes_in_total", None).value, Value::Untyped(123.0));
    match &find("orrery_tick_duration_seconds", Some(("node", "0"))).value {
        Value::Histogram(buckets) => {
            let at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
            assert_eq!(at(5e-5), Some(1.0));
            assert_eq!(at(f64::INFINITY), Some(2.0));
        }
        other => panic!("histogram expected, got {other:?}"),
    }
    assert!(scrape.docs.contains_key("orrery_checkpoint_seconds"));
}

#[test]
fn metrics_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Metrics>();
    is::<Arc<Metrics>>();
}
