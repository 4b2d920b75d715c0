//! The embedded bus: one process, tokio channels, one bounded queue per subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::{Bus, BusError, BusStats, Counters, DEFAULT_MAX_PAYLOAD, Subscription, check_payload, validate_subject};

/// The in-process bus: every role of `orrery run` shares one.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

/// The live subscriptions of each subject: (subscription id, its queue).
type SubjectTable = HashMap<String, Vec<(u64, mpsc::Sender<Bytes>)>>;

struct Inner {
    /// When the bus was made: it is connected from then on.
    created: std::time::Instant,
    capacity: usize,
    max_payload: usize,
    next_id: AtomicU64,
    subjects: RwLock<SubjectTable>,
    counters: Counters,
}

impl InProcessBus {
    /// A bus whose subscriptions each queue at most `capacity` messages (a slow subscriber loses the rest),
    /// refusing payloads above NATS's default limit ([`DEFAULT_MAX_PAYLOAD`]).
    pub fn new(capacity: usize) -> InProcessBus {
        InProcessBus::with_max_payload(capacity, DEFAULT_MAX_PAYLOAD)
    }

    /// A bus with its own payload limit (bytes), e.g. to match a NATS server configured otherwise.
    pub fn with_max_payload(capacity: usize, max_payload: usize) -> InProcessBus {
        InProcessBus {
            inner: Arc::new(Inner {
                created: std::time::Instant::now(),
                capacity: capacity.max(1),
                max_payload,
                next_id: AtomicU64::new(1),
                subjects: RwLock::new(HashMap::new()),
                counters: Counters::default(),
            }),
        }
    }

    /// Number of live subscriptions of `subject` (for tests and diagnostics).
    pub fn subscribers(&self, subject: &str) -> usize {
        self.inner.subjects.read().get(subject).map_or(0, Vec::len)
    }

    fn deliver(&self, subject: &str, payload: &Bytes) {
        self.inner.counters.published.fetch_add(1, Ordering::Relaxed);
        let subjects = self.inner.subjects.read();
        let Some(subscribers) = subjects.get(subject) else { return };
        for (_, sender) in subscribers {
            self.inner.counters.offer(subject, sender, payload.clone());
        }
    }
}

/// Removes a subscription from the subject table when the [`Subscription`] is dropped.
struct Unsubscribe {
    bus: Weak<Inner>,
    subject: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let Some(inner) = self.bus.upgrade() else { return };
        let mut subjects = inner.subjects.write();
        if let Some(subscribers) = subjects.get_mut(&self.subject) {
            subscribers.retain(|(id, _)| *id != self.id);
            if subscribers.is_empty() {
                subjects.remove(&self.subject);
            }
        }
    }
}

#[async_trait::async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        validate_subject(subject)?;
        check_payload(subject, payload.len(), self.inner.max_payload)?;
        self.deliver(subject, &payload);
        Ok(())
    }

    async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        validate_subject(subject)?;
        let (sender, receiver) = mpsc::channel(self.inner.capacity);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.subjects.write().entry(subject.to_owned()).or_default().push((id, sender));
        let guard = Unsubscribe { bus: Arc::downgrade(&self.inner), subject: subject.to_owned(), id };
        Ok(Subscription::new(receiver, Box::new(guard)))
    }

    fn stats(&self) -> BusStats {
        self.inner.counters.stats()
    }

    fn max_payload(&self) -> usize {
        self.inner.max_payload
    }

    fn health(&self) -> crate::BusHealth {
        crate::BusHealth { connected: true, disconnects: 0, since: self.inner.created, unsent: 0 }
    }
}
