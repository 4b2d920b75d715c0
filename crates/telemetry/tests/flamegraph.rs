//! `flamegraph`: real CPU sampling of this test process. Its own test binary, so the process-wide sampler
//! (SIGPROF) touches no other test; the sampling checks run in one test, one after the other, because the sampler
//! is one per process.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use orrery_telemetry::{ProfilerError, flamegraph};

/// Burns CPU until `stop`: the frame the flamegraph must show.
#[inline(never)]
fn burn_cpu_for_flamegraph(stop: &AtomicBool) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = black_box(x);
    }
    x
}

#[test]
fn rejects_bad_arguments() {
    assert!(matches!(flamegraph(Duration::from_millis(100), 0), Err(ProfilerError::InvalidFrequency { hz: 0 })));
    assert!(matches!(flamegraph(Duration::from_millis(100), 5_000), Err(ProfilerError::InvalidFrequency { .. })));
    assert!(matches!(flamegraph(Duration::ZERO, 99), Err(ProfilerError::InvalidDuration { .. })));
    assert!(matches!(flamegraph(Duration::from_secs(3_600), 99), Err(ProfilerError::InvalidDuration { .. })));
}

#[test]
fn samples_a_busy_function_into_an_svg_and_refuses_a_second_profile_meanwhile() {
    let stop = Arc::new(AtomicBool::new(false));
    let burner = {
        let stop = Arc::clone(&stop);
        thread::Builder::new().name("burner".into()).spawn(move || burn_cpu_for_flamegraph(&stop)).expect("spawn")
    };

    let second = thread::spawn(|| {
        thread::sleep(Duration::from_millis(100));
        flamegraph(Duration::from_millis(50), 99)
    });
    let svg = flamegraph(Duration::from_millis(300), 199);
    let second = second.join().expect("second profile thread");
    stop.store(true, Ordering::Relaxed);
    black_box(burner.join().expect("burner"));

    let svg = svg.expect("flamegraph");
    assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("burn_cpu_for_flamegraph"), "the busy function is a frame");
    assert!(svg.contains("burner"), "stacks are grouped by thread name");
    assert!(matches!(second, Err(ProfilerError::AlreadyRunning)), "{second:?}");

    // Once done, the sampler is free again.
    let stop = Arc::new(AtomicBool::new(false));
    let burner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || burn_cpu_for_flamegraph(&stop))
    };
    let again = flamegraph(Duration::from_millis(100), 99);
    stop.store(true, Ordering::Relaxed);
    black_box(burner.join().expect("burner"));
    assert!(again.expect("second flamegraph").contains("<svg"));
}
