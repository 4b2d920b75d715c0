//! `Profiler`: off records nothing, on records exact counts and percentiles within 1%, start and reset clear,
//! concurrent recording sums, the report serialises.

use std::sync::Arc;
use std::time::Duration;

use orrery_telemetry::{ProfileReport, Profiler, TimingRow};

fn row<'a>(rows: &'a [TimingRow], name: &str) -> &'a TimingRow {
    rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{name} in {rows:#?}"))
}

/// `actual` within 1% of `expected` (HdrHistogram with two significant figures).
fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= expected * 0.01
}

#[test]
fn off_records_nothing() {
    let profiler = Profiler::new();
    assert!(!profiler.is_running());
    profiler.record_message("approach", Duration::from_micros(10));
    profiler.record_system(30000142, Duration::from_millis(1));
    let report = profiler.report();
    assert_eq!(
        report,
        ProfileReport { running: false, since_unix_ms: None, elapsed_s: 0.0, by_message: vec![], by_system: vec![] }
    );
}

#[test]
fn on_records_counts_totals_and_percentiles() {
    let profiler = Profiler::new();
    profiler.start();
    assert!(profiler.is_running());
    // 1, 2, ..., 1000 µs: total 500.5 ms, mean 500.5 µs, p50 500 µs, p99 990 µs, max 1000 µs.
    for us in 1..=1000 {
        profiler.record_message("warp_to", Duration::from_micros(us));
    }
    profiler.record_message("stop", Duration::from_nanos(800));
    let report = profiler.report();
    assert!(report.running);
    assert!(report.since_unix_ms.is_some_and(|ms| ms > 1_600_000_000_000));
    let warp = row(&report.by_message, "warp_to");
    assert_eq!(warp.count, 1000);
    assert!((warp.total_ms - 500.5).abs() < 1e-9, "{warp:?}");
    assert!((warp.mean_us - 500.5).abs() < 1e-9, "{warp:?}");
    assert!(close(warp.p50_us, 500.0), "{warp:?}");
    assert!(close(warp.p99_us, 990.0), "{warp:?}");
    assert_eq!(warp.max_us, 1000.0);
    let stop = row(&report.by_message, "stop");
    assert_eq!((stop.count, stop.max_us), (1, 0.8));
    assert!(close(stop.p50_us, 0.8) && close(stop.p99_us, 0.8), "{stop:?}");
    assert!(report.by_system.is_empty());
}

#[test]
fn systems_are_named_by_id_and_tables_sort_by_total() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_system(30000142, Duration::from_millis(1));
    profiler.record_system(30002187, Duration::from_millis(2));
    profiler.record_system(30002187, Duration::from_millis(2));
    profiler.record_system(30000001, Duration::from_millis(3));
    profiler.record_message("chat", Duration::from_micros(5));
    profiler.record_message("login", Duration::from_millis(40));
    let report = profiler.report();
    let names: Vec<&str> = report.by_system.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["30002187", "30000001", "30000142"]);
    assert_eq!(row(&report.by_system, "30002187").count, 2);
    let names: Vec<&str> = report.by_message.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["login", "chat"]);
}

#[test]
fn start_clears_the_tables() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_message("approach", Duration::from_micros(10));
    profiler.start();
    assert!(profiler.report().by_message.is_empty());
    profiler.record_message("approach", Duration::from_micros(10));
    assert_eq!(row(&profiler.report().by_message, "approach").count, 1);
}

#[test]
fn stop_keeps_the_tables_and_ignores_later_records() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_system(7, Duration::from_micros(10));
    std::thread::sleep(Duration::from_millis(20));
    profiler.stop();
    profiler.record_system(7, Duration::from_micros(10));
    let first = profiler.report();
    assert!(!first.running);
    assert_eq!(row(&first.by_system, "7").count, 1);
    assert!(first.elapsed_s >= 0.02, "{first:?}");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(profiler.report().elapsed_s, first.elapsed_s, "elapsed stops with the profiler");
}

#[test]
fn reset_clears_while_running_and_while_stopped() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_message("jump", Duration::from_micros(10));
    profiler.reset();
    let report = profiler.report();
    assert!(report.running && report.by_message.is_empty() && report.since_unix_ms.is_some());
    profiler.record_message("jump", Duration::from_micros(10));
    profiler.stop();
    profiler.reset();
    let report = profiler.report();
    assert!(!report.running && report.by_message.is_empty() && report.since_unix_ms.is_none());
}

#[test]
fn concurrent_recording_from_four_threads_sums() {
    const PER_THREAD: u64 = 20_000;
    let profiler = Arc::new(Profiler::new());
    profiler.start();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let profiler = Arc::clone(&profiler);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    profiler.record_message("approach", Duration::from_micros(1 + i % 3));
                    profiler.record_system(t, Duration::from_micros(2));
                    profiler.record_system(100, Duration::from_micros(4));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("recording thread");
    }
    let report = profiler.report();
    let approach = row(&report.by_message, "approach");
    assert_eq!(approach.count, 4 * PER_THREAD);
    // Per thread: i % 3 cycles 0, 1, 2 → 1, 2, 3 µs; 20,000 = 6,666 full cycles + 2 (1 + 2 µs).
    let per_thread_us = 6_666.0 * 6.0 + 3.0;
    assert!((approach.total_ms - 4.0 * per_thread_us / 1e3).abs() < 1e-9, "{approach:?}");
    assert_eq!(approach.max_us, 3.0);
    assert!(close(approach.p50_us, 2.0), "{approach:?}");
    let shared = row(&report.by_system, "100");
    assert_eq!(shared.count, 4 * PER_THREAD);
    assert!(close(shared.p99_us, 4.0), "{shared:?}");
    for t in 0..4 {
        assert_eq!(row(&report.by_system, &t.to_string()).count, PER_THREAD);
    }
}

#[test]
fn report_serialises_to_json() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_message("chat", Duration::from_micros(250));
    profiler.record_system(30000142, Duration::from_millis(2));
    let json = serde_json::to_value(profiler.report()).expect("serialises");
    assert_eq!(json["running"], true);
    assert!(json["since_unix_ms"].is_u64());
    assert!(json["elapsed_s"].is_f64());
    let chat = &json["by_message"][0];
    assert_eq!(chat["name"], "chat");
    assert_eq!(chat["count"], 1);
    assert_eq!(chat["total_ms"], 0.25);
    assert_eq!(chat["max_us"], 250.0);
    for field in ["mean_us", "p50_us", "p99_us"] {
        assert!(chat[field].is_f64(), "{field}");
    }
    assert_eq!(json["by_system"][0]["name"], "30000142");
    let stopped = serde_json::to_string(&Profiler::new().report()).expect("serialises");
    assert_eq!(stopped, r#"{"running":false,"since_unix_ms":null,"elapsed_s":0.0,"by_message":[],"by_system":[]}"#);
}

#[test]
fn huge_durations_are_clamped_not_lost() {
    let profiler = Profiler::new();
    profiler.start();
    profiler.record_message("hang", Duration::MAX);
    let hang = &profiler.report().by_message[0];
    assert_eq!(hang.count, 1);
    assert_eq!(hang.max_us, 3_600e6);
}

#[test]
fn profiler_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Profiler>();
}
