//! orrery's client library and load generator.
//!
//! Two layers:
//!
//! - [`Client`]: one connection to an orrery proxy over TCP (length-prefixed frames) or WebSocket (one binary
//!   message per envelope), with request/answer matching by `request_id`, a bounded queue for everything else
//!   (deltas, snapshots, notices) and typed errors ([`ClientError`]). Integration tests and tools use it
//!   directly; the wire contract it speaks is `docs/protocol.md`.
//! - [`run`]: thousands of bots, one light tokio task each, playing a [`Scenario`] (idle, travel, hub, mixed)
//!   for a fixed time, reconnecting when the server restarts, and ending with a [`Summary`]: how many got in,
//!   jumps (and jumps to another sol node), chat, command latency percentiles, the lowest time dilation seen,
//!   errors and disconnects. `orrery bots` is the command-line shell over it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use orrery_bots::{BotsConfig, Scenario, run};
//!
//! let config = BotsConfig::new("127.0.0.1:7777", 1000, Scenario::Travel, Duration::from_secs(60));
//! let summary = run(config, None).await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

mod bot;
mod client;
mod config;
mod error;
mod pilot;
mod route;
mod runner;
mod stats;

pub use bot::{INITIAL_BACKOFF, MAX_BACKOFF};
pub use client::{Client, ClientOptions, body_name, is_websocket_url};
pub use config::{BOT_PASSWORD, BotsConfig, Role, Scenario};
pub use error::{ClientError, ConfigError, RouteError};
pub use pilot::{HUB_CHAT_EVERY, JUMP_RANGE_M, PING_EVERY, delta_is_new};
pub use route::HubRoute;
pub use runner::run;
pub use stats::{LatencyRecorder, LatencySummary, Summary};

/// The protocol crate, so that users of the client need no separate dependency for the message types.
pub use orrery_proto;
