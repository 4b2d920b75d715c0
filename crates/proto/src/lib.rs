//! The messages of orrery's protocol, generated from `proto/orrery/v1/*.proto` at build time.
//!
//! The `.proto` files are the public contract: a client in any language is built from them and
//! `docs/protocol.md`. This crate adds what every Rust user of the protocol needs next to the types: the
//! framing rule ([`frame`]), the limits, and helpers to build the common envelopes.
//!
//! ```
//! use orrery_proto::{v1, frame};
//! use prost::Message;
//!
//! let ping = v1::ClientEnvelope { request_id: 7, body: Some(v1::client_envelope::Body::Ping(v1::Ping { nonce: 1 })) };
//! let framed = frame::encode(&ping);
//! assert_eq!(&framed[..4], &(ping.encoded_len() as u32).to_be_bytes());
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod frame;
mod helpers;

pub use helpers::*;

/// Package `orrery.v1`: client messages (`game.proto`) and bus payloads (`bus.proto`).
pub mod v1 {
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/orrery.v1.rs"));
}
