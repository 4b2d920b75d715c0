//! The bus: how orrery's roles (proxies, sol nodes, the coordinator) talk without holding pointers into each
//! other. Everything on it is bytes — an encoded protobuf message — addressed by a subject such as
//! `system.30000142` (see `orrery_proto::system_subject`). A role that moves to another process or machine
//! keeps working once the bus is NATS instead of in-process channels, because nothing else changes.
//!
//! Semantics are NATS core's, so that both implementations behave alike:
//! - `publish` is fire-and-forget and never waits for a slow subscriber; a subscriber whose queue is full
//!   loses the message (counted in [`BusStats::dropped`] and logged), it never stalls the publisher;
//! - every live subscription of a subject gets its own copy (the `Bytes` are shared, not copied);
//! - messages from one publisher to one subject arrive in the order they were published;
//! - dropping a [`Subscription`] unsubscribes;
//! - a subscription is live when `subscribe` returns: a message published after that, from any handle on the
//!   same bus, reaches it;
//! - a payload larger than [`Bus::max_payload`] is refused with [`BusError::PayloadTooLarge`] (NATS's limit,
//!   1 MiB by default, enforced in-process too), never cut or silently lost.
//!
//! Two implementations: [`InProcessBus`] (tokio channels, the embedded default of `orrery run`) and
//! [`NatsBus`] (a NATS server through `async-nats`, for roles in several processes or machines). One
//! conformance suite (`tests/conformance.rs`) runs the same cases against both.
//!
//! ```
//! # tokio_test_block_on(async {
//! use orrery_bus::{Bus, InProcessBus};
//! let bus = InProcessBus::new(1024);
//! let mut inbox = bus.subscribe("system.1").await.unwrap();
//! bus.publish("system.1", bytes::Bytes::from_static(b"hello")).await.unwrap();
//! assert_eq!(inbox.next().await.unwrap(), "hello");
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod in_process;
mod nats;

pub use in_process::InProcessBus;
pub use nats::{NatsBus, PUBLISH_WAIT};

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};

/// NATS's default largest payload (1 MiB), which the in-process bus enforces too.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A subject NATS would refuse or misroute (empty, an empty token, whitespace, a wildcard in a publish),
    /// refused on both buses so that code tested in-process also works on NATS.
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The subject as the caller passed it.
        subject: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The connection to the bus ended (the NATS client closed a subscription under us); nothing more arrives
    /// on it.
    #[error("the bus is closed")]
    Closed,
    /// The payload is above [`Bus::max_payload`]; it is refused whole rather than cut or silently lost.
    #[error("payload of {size} bytes for {subject:?} exceeds the bus's limit of {max} bytes")]
    PayloadTooLarge {
        /// Where it was to be published.
        subject: String,
        /// Its size in bytes.
        size: usize,
        /// The bus's limit in bytes.
        max: usize,
    },
    /// The NATS server could not be connected to at startup.
    #[error("cannot reach the NATS server at {url}: {reason}")]
    Unreachable {
        /// The server URL as given (including any credentials in it), so an operator can check it.
        url: String,
        /// The client's reason, e.g. connection refused or a timeout.
        reason: String,
    },
    /// The connection to the NATS server is down (the client is reconnecting) or stalled: the message was not
    /// sent. Fire-and-forget traffic may ignore this; a message that must arrive is retried by its sender
    /// once [`Bus::health`] says the bus is back.
    #[error("the bus is disconnected from {url}: message for {subject:?} not sent")]
    Disconnected {
        /// The server the bus is reconnecting to.
        url: String,
        /// Where the message was to go.
        subject: String,
    },
    /// A NATS operation on a live connection failed.
    #[error("NATS {operation} on {subject:?} failed: {reason}")]
    Nats {
        /// Which operation (`publish`, `subscribe`, ...).
        operation: &'static str,
        /// The subject it was on.
        subject: String,
        /// The client's reason.
        reason: String,
    },
}

/// Counters every implementation keeps, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Messages accepted by `publish` (each counted once, however many subscribers it reaches).
    pub published: u64,
    /// Copies handed to a subscription's queue (one per subscriber reached).
    pub delivered: u64,
    /// Copies not delivered because the subscriber's queue was full (a slow consumer).
    pub dropped: u64,
}

/// Whether the bus can carry messages now, for the roles' own decisions (a coordinator does not judge node
/// leases while it cannot hear the nodes; a node checks the mapping after an outage) and for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusHealth {
    /// The connection is up (always, in-process).
    pub connected: bool,
    /// Connections lost since start.
    pub disconnects: u64,
    /// Since when the connection has been in its current state (up or down).
    pub since: std::time::Instant,
    /// Messages refused by `publish` because the connection was down or stalled.
    pub unsent: u64,
}

/// The seam itself. Object-safe, so roles hold an `Arc<dyn Bus>` and do not know which bus they are on.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Send `payload` to every current subscriber of `subject`. Returns once the message is queued.
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError>;
    /// Receive every message published to `subject` from now on, until the subscription is dropped.
    async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError>;
    /// Counters since start.
    fn stats(&self) -> BusStats;
    /// The largest payload `publish` accepts, in bytes.
    fn max_payload(&self) -> usize;
    /// Whether the bus is connected, and since when.
    fn health(&self) -> BusHealth;
}

/// A stream of the messages of one subject.
pub struct Subscription {
    receiver: mpsc::Receiver<Bytes>,
    _guard: Box<dyn Send + Sync>,
}

impl Subscription {
    /// Build a subscription from a channel and a guard whose drop unsubscribes (for bus implementations).
    pub fn new(receiver: mpsc::Receiver<Bytes>, guard: Box<dyn Send + Sync>) -> Subscription {
        Subscription { receiver, _guard: guard }
    }

    /// The next message; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Bytes> {
        self.receiver.recv().await
    }

    /// The next message if one is already queued.
    pub fn try_next(&mut self) -> Option<Bytes> {
        self.receiver.try_recv().ok()
    }
}

/// Refuse a payload above the bus's limit, naming the subject, the size and the limit.
pub fn check_payload(subject: &str, size: usize, max: usize) -> Result<(), BusError> {
    if size > max {
        return Err(BusError::PayloadTooLarge { subject: subject.to_owned(), size, max });
    }
    Ok(())
}

/// The counters behind [`BusStats`], and the one way a message is handed to a subscription's queue, shared by
/// both implementations so that "delivered" and "dropped" mean the same on each.
#[derive(Default)]
struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    /// Queue `payload` for one subscription without waiting: a full queue (a slow subscriber) loses it.
    fn offer(&self, subject: &str, sender: &mpsc::Sender<Bytes>, payload: Bytes) {
        // Counted before the send: a receiver woken by the send may read the counters at once.
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let sent = sender.try_send(payload);
        if sent.is_err() {
            self.delivered.fetch_sub(1, Ordering::Relaxed);
        }
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(subject, dropped, "slow bus subscriber: message dropped");
                }
            }
            // The subscription is being dropped; its guard removes it.
            Err(TrySendError::Closed(_)) => {}
        }
    }

    fn stats(&self) -> BusStats {
        BusStats {
            published: self.published.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Check a subject: dot-separated non-empty tokens of printable ASCII without spaces or wildcards — the
/// NATS rules, enforced here too so that a subject valid in-process is valid on NATS.
pub fn validate_subject(subject: &str) -> Result<(), BusError> {
    let invalid = |reason| Err(BusError::InvalidSubject { subject: subject.to_owned(), reason });
    if subject.is_empty() {
        return invalid("empty");
    }
    if subject.split('.').any(str::is_empty) {
        return invalid("empty token");
    }
    if subject.chars().any(|c| !c.is_ascii_graphic() || c == '*' || c == '>') {
        return invalid("only printable ASCII without spaces or wildcards");
    }
    Ok(())
}
