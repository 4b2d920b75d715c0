//! orrery's telemetry: what operators of a live cluster read and switch without a restart.
//!
//! - [`metrics`]: the `orrery_*` Prometheus families ([`Metrics`]), recorded from every runtime thread and
//!   encoded as OpenMetrics text for `/metrics`.
//! - [`profiler`]: per-message-type and per-system timing tables ([`Profiler`]) that cost one atomic load while
//!   off, and CPU flamegraphs of the whole process ([`flamegraph`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use orrery_telemetry::{Metrics, Profiler};
//!
//! let metrics = Arc::new(Metrics::new());
//! metrics.count_command("warp_to");
//! assert!(metrics.encode().contains("orrery_commands_total{type=\"warp_to\"} 1"));
//!
//! let profiler = Profiler::new();
//! profiler.record_message("warp_to", Duration::from_micros(20)); // off: not recorded
//! profiler.start();
//! profiler.record_message("warp_to", Duration::from_micros(20));
//! assert_eq!(profiler.report().by_message[0].count, 1);
//! ```
//!
//! This crate does no I/O of its own: the HTTP endpoint and the admin commands that call it live in the runtime.

pub mod metrics;
pub mod profiler;

pub use metrics::{CONTENT_TYPE, Metrics, MetricsError};
pub use profiler::{ProfileReport, Profiler, ProfilerError, TimingRow, flamegraph};
