//! orrery's load generator.
//!
//! - The protocol client is [`orrery_client`] (re-exported here as [`Client`], the name the cluster's tests
//!   know it by, with its options and errors): one connection per bot, no background task.
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
mod config;
mod error;
mod fight;
mod pilot;
mod route;
mod runner;
mod stats;

pub use bot::{INITIAL_BACKOFF, MAX_BACKOFF};
pub use config::{BOT_PASSWORD, BotsConfig, Role, Scenario};
pub use error::{ConfigError, RouteError};
pub use orrery_client::{
    ClientError, ClientOptions, Connection as Client, JUMP_RANGE_M, body_name, delta_is_new, is_websocket_url,
};
pub use pilot::{HUB_CHAT_EVERY, PING_EVERY};
pub use route::HubRoute;
pub use runner::run;
pub use stats::{LatencyRecorder, LatencySummary, Summary};

/// The protocol crate, so that users of the client need no separate dependency for the message types.
pub use orrery_client::orrery_proto;
