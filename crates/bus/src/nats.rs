//! The bus over a NATS server (core publish/subscribe through `async-nats`): the same seam as the
//! in-process bus, for roles in several processes or on several machines.
//!
//! Each subscription gets a forwarding task that moves the server's messages into a bounded queue of the
//! same capacity as the in-process bus's, so a slow subscriber loses messages the same way (counted, logged)
//! instead of stalling the connection. `subscribe` returns only once the server has the subscription (a probe
//! message round trip), so that "live when `subscribe` returns" holds across connections as it does in-process.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::{Bus, BusError, BusStats, Counters, Subscription, check_payload, validate_subject};

/// How long connecting and the subscribe probe may take before the server counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How long `publish` may wait for the client to take a message. The client queues a few thousand messages
/// while it reconnects and then makes `publish` wait; a sol node publishes from its tick loop, which must not
/// stall behind a lost server, so a publish that waits longer fails with [`BusError::Disconnected`].
pub const PUBLISH_WAIT: Duration = Duration::from_millis(200);

/// How often the client pings the server: two unanswered pings count as a lost connection, so a server that
/// vanished without closing its sockets (a partition, a frozen host) is noticed within a few seconds.
const PING_INTERVAL: Duration = Duration::from_secs(2);

/// The wait before reconnect attempt `n`: 100 ms more each time, at most one second, so a server that comes
/// back is found again within a second (the client's default waits up to several).
fn reconnect_delay(attempt: usize) -> Duration {
    Duration::from_millis((attempt as u64).saturating_mul(100).min(1000))
}

/// The connection's state as the client's events tell it, for [`Bus::health`].
struct Link {
    connected: std::sync::atomic::AtomicBool,
    disconnects: std::sync::atomic::AtomicU64,
    since: parking_lot::Mutex<std::time::Instant>,
    unsent: std::sync::atomic::AtomicU64,
    /// After a publish timed out: until when publishes fail at once instead of each waiting again.
    stalled_until: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Link {
    fn new() -> Link {
        Link {
            connected: std::sync::atomic::AtomicBool::new(true),
            disconnects: std::sync::atomic::AtomicU64::new(0),
            since: parking_lot::Mutex::new(std::time::Instant::now()),
            unsent: std::sync::atomic::AtomicU64::new(0),
            stalled_until: parking_lot::Mutex::new(None),
        }
    }

    fn set(&self, connected: bool, url: &str) {
        if self.connected.swap(connected, Ordering::SeqCst) != connected {
            *self.since.lock() = std::time::Instant::now();
            if connected {
                *self.stalled_until.lock() = None;
                tracing::warn!(url, "the bus is connected again");
            } else {
                self.disconnects.fetch_add(1, Ordering::Relaxed);
                tracing::error!(url, "the bus lost its connection: reconnecting");
            }
        }
    }

    fn stalled(&self) -> bool {
        self.stalled_until.lock().is_some_and(|until| std::time::Instant::now() < until)
    }
}

/// A bus on a NATS server. Clones share one connection.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    url: String,
    link: Arc<Link>,
    capacity: usize,
    counters: Arc<Counters>,
    /// The server's payload limit, read once at connect: `server_info()` clones the whole server description,
    /// too much for every publish.
    max_payload: usize,
    /// Put before every subject on the server (`<namespace>.system.7`): clusters sharing one NATS server (two
    /// environments, or tests running at once) do not hear each other. Empty: subjects as given.
    namespace: String,
}

impl NatsBus {
    /// Connect to `url` (`nats://HOST:PORT`); every subscription queues at most `capacity` messages. Fails
    /// with [`BusError::Unreachable`] naming the address when no server answers within a few seconds.
    pub async fn connect(url: &str, capacity: usize) -> Result<NatsBus, BusError> {
        let unreachable = |reason: String| BusError::Unreachable { url: url.to_owned(), reason };
        let link = Arc::new(Link::new());
        let events = (link.clone(), url.to_owned());
        let options = async_nats::ConnectOptions::new()
            .name("orrery")
            .connection_timeout(TIMEOUT)
            .ping_interval(PING_INTERVAL)
            .reconnect_delay_callback(reconnect_delay)
            .event_callback(move |event| {
                let (link, url) = events.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => link.set(true, &url),
                        async_nats::Event::Disconnected => link.set(false, &url),
                        _ => {}
                    }
                }
            })
            .subscription_capacity(capacity.max(512) * 2);
        let client = tokio::time::timeout(TIMEOUT, options.connect(url))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))?
            .map_err(|problem| unreachable(problem.to_string()))?;
        let max_payload = client.server_info().max_payload;
        Ok(NatsBus {
            client,
            url: url.to_owned(),
            link,
            capacity: capacity.max(1),
            counters: Arc::new(Counters::default()),
            max_payload,
            namespace: String::new(),
        })
    }

    /// The same connection with every subject put under `namespace` (a subject token: letters, digits, `-` and
    /// `_`; anything else is replaced by `_`, an empty one is `_`). The roles of one cluster use the same one.
    #[must_use]
    pub fn namespaced(mut self, namespace: &str) -> NatsBus {
        let token: String = namespace
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        self.namespace = if token.is_empty() { "_".into() } else { token };
        self
    }

    /// The subject on the server for `subject` (validated as given).
    fn on_server(&self, subject: &str) -> Result<String, BusError> {
        validate_subject(subject)?;
        Ok(if self.namespace.is_empty() { subject.to_owned() } else { format!("{}.{subject}", self.namespace) })
    }

    /// The server's address as given to [`NatsBus::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Wait until the server has processed everything this connection sent so far: a message to a private
    /// subject, published after it, comes back.
    async fn round_trip(&self) -> Result<(), BusError> {
        // A fresh inbox subject is private to this connection and unique within it.
        let subject = self.client.new_inbox();
        let failed = |reason: String| BusError::Nats { operation: "subscribe probe", subject: subject.clone(), reason };
        let mut probe = self.client.subscribe(subject.clone()).await.map_err(|e| failed(e.to_string()))?;
        self.client.publish(subject.clone(), Bytes::new()).await.map_err(|e| failed(e.to_string()))?;
        match tokio::time::timeout(TIMEOUT, probe.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(BusError::Closed),
            Err(_) => Err(failed(format!("no answer from {} within {} s", self.url, TIMEOUT.as_secs()))),
        }
    }
}

/// Ends a subscription's forwarding task when the [`Subscription`] is dropped; the task drops the NATS
/// subscriber, which unsubscribes on the server.
struct StopForwarding(tokio::task::AbortHandle);

impl Drop for StopForwarding {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        let on_server = self.on_server(subject)?;
        check_payload(subject, payload.len(), self.max_payload())?;
        let disconnected = || {
            self.link.unsent.fetch_add(1, Ordering::Relaxed);
            BusError::Disconnected { url: self.url.clone(), subject: subject.to_owned() }
        };
        if !self.link.connected.load(Ordering::SeqCst) || self.link.stalled() {
            return Err(disconnected());
        }
        match tokio::time::timeout(PUBLISH_WAIT, self.client.publish(on_server, payload)).await {
            Ok(sent) => sent.map_err(|problem| BusError::Nats {
                operation: "publish",
                subject: subject.to_owned(),
                reason: problem.to_string(),
            })?,
            Err(_) => {
                *self.link.stalled_until.lock() = Some(std::time::Instant::now() + PUBLISH_WAIT * 5);
                return Err(disconnected());
            }
        }
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        let on_server = self.on_server(subject)?;
        let mut subscriber = self.client.subscribe(on_server).await.map_err(|problem| BusError::Nats {
            operation: "subscribe",
            subject: subject.to_owned(),
            reason: problem.to_string(),
        })?;
        self.round_trip().await?;
        let (sender, receiver) = mpsc::channel(self.capacity);
        let counters = self.counters.clone();
        let name = subject.to_owned();
        let forwarding = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                counters.offer(&name, &sender, message.payload);
            }
        });
        Ok(Subscription::new(receiver, Box::new(StopForwarding(forwarding.abort_handle()))))
    }

    fn stats(&self) -> BusStats {
        self.counters.stats()
    }

    fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn health(&self) -> crate::BusHealth {
        crate::BusHealth {
            connected: self.link.connected.load(Ordering::SeqCst) && !self.link.stalled(),
            disconnects: self.link.disconnects.load(Ordering::Relaxed),
            since: *self.link.since.lock(),
            unsent: self.link.unsent.load(Ordering::Relaxed),
        }
    }
}
