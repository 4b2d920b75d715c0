//! orrery's client library: everything a Rust program needs to fly a ship on an orrery server.
//!
//! Two layers, neither of which runs a background task (ten thousand connections in one process stay cheap):
//!
//! - [`Connection`]: one connection to a proxy over TCP (length-prefixed frames) or WebSocket (one binary
//!   message per envelope). Every command of `orrery.v1` is a typed method: those with an answer wait for it,
//!   matched by request id (`login`, `create_character`, `undock`, `jump`, `ping`, `logout`, …); those without
//!   an answer on success (`approach`, `stop`, `warp_to`, `chat`) return their request id. Everything else the
//!   server sends is queued in arrival order for [`Connection::next_event`] (or, typed,
//!   [`Connection::next_typed_event`] giving an [`Event`]). Errors are typed ([`ClientError`]). The load
//!   generator (`orrery-bots`) and the chat benchmark use this layer.
//! - [`Pilot`]: a logged-in pilot in space. It keeps a [`Mirror`] of the system (ships, celestials, local chat,
//!   the time-dilation factor) from the snapshots and deltas it reads, flies to things
//!   ([`Pilot::fly_to`]), jumps, and after a lost connection comes back with `Resume` and `Undock`, taking over
//!   the same ship, the mirror refreshed.
//!
//! The wire contract is `docs/protocol.md` and `proto/orrery/v1/game.proto`; the message types are
//! re-exported as [`orrery_proto`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), orrery_client::ClientError> {
//! use std::time::Duration;
//! use orrery_client::{Event, Pilot};
//!
//! let mut pilot = Pilot::start("127.0.0.1:7777", "pilot01", "correct horse").await?;
//! println!("in {} with {} ships", pilot.mirror().system_name(), pilot.mirror().ships().count());
//! pilot.chat("o7").await?;
//! while let Some(event) = pilot.next_event(Duration::from_secs(5)).await? {
//!     if let Event::Delta(delta) = event {
//!         for line in &delta.chat {
//!             println!("<{}> {}", line.pilot, line.text);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! A runnable example that logs in, undocks, warps to a gate, jumps and prints what it sees:
//! `cargo run -p orrery-client --example pilot -- 127.0.0.1:7777 pilot01 'correct horse'`.

mod connection;
mod error;
mod event;
mod mirror;
mod pilot;

pub use connection::{ClientOptions, Connection, LoginPath, TcpParts, body_name, is_websocket_url};
pub use error::ClientError;
pub use event::Event;
pub use mirror::{DEFAULT_CHAT_HISTORY, JUMP_RANGE_M, MIN_WARP_M, Mirror, delta_is_new, distance};
pub use pilot::{ARRIVAL_M, Pilot, PilotOptions};

/// The protocol crate, so that users of the client need no separate dependency for the message types.
pub use orrery_proto;
