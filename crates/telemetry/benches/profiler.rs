//! What telemetry costs on the hot paths: `Profiler::record_message` while off (it is called for every handled
//! message, always) and while on, and the `Metrics` recording calls made per command and per tick.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use orrery_telemetry::{Metrics, Profiler};

fn profiler(c: &mut Criterion) {
    let mut group = c.benchmark_group("profiler");
    // The loop and its black-boxed arguments alone: what "off" is compared against.
    group.bench_function("baseline", |b| {
        b.iter(|| {
            black_box("approach");
            black_box(Duration::from_nanos(1_500));
        });
    });
    let off = Profiler::new();
    group.bench_function("record_message/off", |b| {
        b.iter(|| off.record_message(black_box("approach"), black_box(Duration::from_nanos(1_500))));
    });
    let on = Profiler::new();
    on.start();
    group.bench_function("record_message/on", |b| {
        b.iter(|| on.record_message(black_box("approach"), black_box(Duration::from_nanos(1_500))));
    });
    group.bench_function("record_system/on", |b| {
        b.iter(|| on.record_system(black_box(30000142), black_box(Duration::from_micros(250))));
    });
    group.finish();
}

fn metrics(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics");
    let metrics = Metrics::new();
    group.bench_function("count_command", |b| b.iter(|| metrics.count_command(black_box("approach"))));
    group.bench_function("add_bytes_out", |b| b.iter(|| metrics.add_bytes_out(black_box(1_200))));
    group.bench_function("observe_tick", |b| {
        b.iter(|| metrics.observe_tick(black_box(0), black_box(Duration::from_micros(250)), Duration::ZERO));
    });
    group.finish();
}

criterion_group!(benches, profiler, metrics);
criterion_main!(benches);
