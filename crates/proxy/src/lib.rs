//! The proxy: the only role clients talk to. It owns their connections (TCP with a 4-byte length prefix, or
//! WebSocket with one binary message per envelope), logs them in against the store, forwards each command to
//! the bus subject of the system the session's ship is in — never to a node it would have to know — and fans
//! every system delta out to the sessions there.
//!
//! Fan-out costs one copy per delta, not per receiver: a sol node publishes each delta already framed, the
//! proxy hands the same `Bytes` to every session's bounded queue (its link), and each session's writer sends
//! everything queued in one write (TCP) or one flush (WebSocket). A session whose queue is full — a client
//! that stopped reading — is dropped, so server memory stays bounded whatever clients do.

mod accounts;
mod auth;
mod guard;
mod inbox;
mod link;
mod rate;
mod rooms;
mod session;
mod state;
mod transport;
mod world;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use orrery_bus::Bus;
use orrery_store::Store;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::PasswordPolicy;
pub use session::ship_record;
pub use world::{StartRefusal, World};

/// How a proxy behaves; every limit that protects the server from its clients is here.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// This proxy's id on the bus (`proxy.<id>`).
    pub proxy_id: u32,
    /// Where clients connect over TCP (4-byte length prefix per envelope); port 0 picks a free port.
    pub tcp_listen: SocketAddr,
    /// WebSocket listener; `None` to serve TCP only.
    pub ws_listen: Option<SocketAddr>,
    /// Largest envelope accepted from a client, in bytes.
    pub max_frame_bytes: usize,
    /// Commands per second a session may send (token bucket; bursts up to the same number).
    pub rate_limit_per_s: u32,
    /// A session that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Frames queued for one client before it counts as not reading and is dropped.
    pub outbound_queue: usize,
    /// Kernel send buffer per client socket in bytes (`None`: the OS default). A small buffer bounds kernel
    /// memory per client and lets a client that stopped reading be noticed sooner.
    pub socket_send_buffer: Option<usize>,
    /// How long a logout waits for the sol node to confirm the ship is stored.
    pub logout_timeout: Duration,
    /// How hard argon2id works per password; lower only for load tests.
    pub password_policy: PasswordPolicy,
    /// A frame whose first byte has arrived must be complete within this time (TCP: header and body; WebSocket:
    /// the message), or the connection is closed with `BAD_FRAME` (slowloris). A session with no partial frame
    /// is governed by `idle_timeout` instead.
    pub frame_deadline: Duration,
    /// A session whose commands are refused for the rate limit this many times within `flood_window` is
    /// disconnected (`RATE_LIMITED`, then close). 0: never. With the defaults (100 in 1 s) a client sending a
    /// little over its rate is only throttled; one sending 100 commands a second more than it may (100
    /// refusals in a row included) is dropped.
    pub flood_kick_after: u32,
    /// The window in which `flood_kick_after` refusals disconnect a session.
    pub flood_window: Duration,
    /// Concurrent connections (TCP and WebSocket together) from one IP address; more are answered with an
    /// `Error{RATE_LIMITED}` and closed. 0: no limit. The default is high enough for loopback load tests.
    pub max_connections_per_ip: usize,
    /// Failed logins per username within `login_failure_window` after which logins of that name are refused
    /// (`RATE_LIMITED`, even with the right password) until the window ends. 0: no limit.
    pub login_failures_per_account: u32,
    /// Failed logins per client IP address within `login_failure_window` after which every login from that
    /// address is refused until the window ends. 0: no limit.
    pub login_failures_per_ip: u32,
    /// How long a failed login counts against the two limits above.
    pub login_failure_window: Duration,
    /// Session tokens older than this are refused by `Resume` (the issue time is part of the token).
    pub token_ttl: Duration,
}

impl ProxyConfig {
    /// Defaults for a local cluster, listening on the given addresses.
    pub fn new(proxy_id: u32, tcp_listen: SocketAddr, ws_listen: Option<SocketAddr>) -> ProxyConfig {
        ProxyConfig {
            proxy_id,
            tcp_listen,
            ws_listen,
            max_frame_bytes: orrery_proto::frame::DEFAULT_MAX_FRAME,
            rate_limit_per_s: 20,
            idle_timeout: Duration::from_secs(300),
            outbound_queue: 1024,
            socket_send_buffer: None,
            logout_timeout: Duration::from_secs(5),
            password_policy: PasswordPolicy::default(),
            frame_deadline: Duration::from_secs(10),
            flood_kick_after: 100,
            flood_window: Duration::from_secs(1),
            max_connections_per_ip: 5_000,
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_failure_window: Duration::from_secs(60),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections accepted since the start.
    pub sessions_opened: AtomicU64,
    /// Connections open now.
    pub sessions_open: AtomicU64,
    /// Sessions dropped because their outbound queue filled (a client that stopped reading).
    pub slow_clients_dropped: AtomicU64,
    /// Envelopes received from clients.
    pub frames_in: AtomicU64,
    /// Envelopes sent to clients.
    pub frames_out: AtomicU64,
    /// Bytes received from clients, frame headers included.
    pub bytes_in: AtomicU64,
    /// Bytes sent to clients, frame headers included.
    pub bytes_out: AtomicU64,
    /// Commands refused for the per-session rate limit.
    pub rate_limited: AtomicU64,
    /// Sessions disconnected for flooding past the rate limit.
    pub flooders_kicked: AtomicU64,
    /// Connections closed because a frame was not completed within the frame deadline.
    pub incomplete_frames: AtomicU64,
    /// Connections refused by the per-IP connection limit.
    pub connections_refused: AtomicU64,
    /// Logins refused because of too many failed attempts (per username or per address).
    pub logins_throttled: AtomicU64,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A listener could not bind (address in use, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The operating system refused a thread for password hashing.
    #[error("cannot start the password hashing threads: {0}")]
    Threads(std::io::Error),
    /// The bus refused the subscription to this proxy's inbox or to the cluster broadcasts.
    #[error("cannot subscribe to the proxy's bus inbox: {0}")]
    Bus(#[from] orrery_bus::BusError),
}

/// The limits an operator can change while the proxy runs (from the settings in the database); sessions read
/// them at every use, so a change applies to every session at once.
#[derive(Debug)]
pub struct LiveLimits {
    /// `ProxyConfig::idle_timeout` as it is now, in milliseconds (read through [`LiveLimits::idle_timeout`]).
    pub idle_timeout_ms: AtomicU64,
    /// `ProxyConfig::rate_limit_per_s` as it is now (read through [`LiveLimits::rate_limit_per_s`]).
    pub rate_limit_per_s: AtomicU64,
    /// `ProxyConfig::max_frame_bytes` as it is now (read through [`LiveLimits::max_frame_bytes`]).
    pub max_frame_bytes: AtomicU64,
    /// The message of the day, sent as a `Notice` after each login; empty for none.
    pub motd: Mutex<String>,
}

impl LiveLimits {
    fn from_config(config: &ProxyConfig) -> LiveLimits {
        LiveLimits {
            idle_timeout_ms: AtomicU64::new(config.idle_timeout.as_millis() as u64),
            rate_limit_per_s: AtomicU64::new(u64::from(config.rate_limit_per_s)),
            max_frame_bytes: AtomicU64::new(config.max_frame_bytes as u64),
            motd: Mutex::new(String::new()),
        }
    }

    /// How long a silent session may stay open (at least 1 ms, whatever the setting says).
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed).max(1))
    }

    /// Commands per second a session may send (at least 1).
    #[must_use]
    pub fn rate_limit_per_s(&self) -> u32 {
        self.rate_limit_per_s.load(Ordering::Relaxed).clamp(1, u64::from(u32::MAX)) as u32
    }

    /// The largest envelope accepted from a client, in bytes.
    #[must_use]
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes.load(Ordering::Relaxed) as usize
    }

    /// A copy of the message of the day (empty: none).
    #[must_use]
    pub fn motd(&self) -> String {
        self.motd.lock().clone()
    }
}

/// State shared by the proxy's tasks.
pub(crate) struct Shared {
    pub config: ProxyConfig,
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
    pub world: RwLock<World>,
    pub sessions: Mutex<HashMap<u64, Arc<link::Link>>>,
    /// The session of each logged-in account on this proxy (one session per account).
    pub accounts: Mutex<accounts::AccountSessions>,
    pub rooms: rooms::Rooms,
    pub next_session: AtomicU64,
    pub stats: Arc<ProxyStats>,
    pub hashing: auth::HashPool,
    pub live: LiveLimits,
    /// Open connections per client address.
    pub connections: guard::ConnectionCounts,
    /// Failed logins per username and per address.
    pub login_failures: guard::LoginFailures,
    /// Set when the cluster is going down: logins are refused.
    pub closing: std::sync::atomic::AtomicBool,
    /// Cancelled when the proxy stops: sessions close, listeners stop accepting.
    pub shutdown: CancellationToken,
}

/// A running proxy.
pub struct ProxyHandle {
    shared: Arc<Shared>,
    tcp_addr: SocketAddr,
    ws_addr: Option<SocketAddr>,
    tasks: TaskTracker,
}

impl ProxyHandle {
    /// The bound TCP address (useful with port 0).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The bound WebSocket address, if the proxy serves WebSocket.
    #[must_use]
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// The proxy's counters, for tests and metrics.
    #[must_use]
    pub fn stats(&self) -> &ProxyStats {
        &self.shared.stats
    }

    /// The counters, for readers that outlive the handle's borrow (metrics).
    pub fn shared_stats(&self) -> Arc<ProxyStats> {
        self.shared.stats.clone()
    }

    /// The limits in force (changed live by settings).
    pub fn live(&self) -> &LiveLimits {
        &self.shared.live
    }

    /// Connections open now (the `sessions_open` counter).
    #[must_use]
    pub fn open_sessions(&self) -> u64 {
        self.shared.stats.sessions_open.load(Ordering::Relaxed)
    }

    /// Stop accepting, close every session (each in-space ship is sent out of space so its node stores it),
    /// and wait until every session task has finished.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        // Sessions wait on their links, not on the token (one waiter less in every idle session); one that
        // registers after this sees the cancelled token at its first turn.
        inbox::tell_everyone(&self.shared, &session::Control::Shutdown);
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Bind the listeners, subscribe to the proxy's inbox, and serve until [`ProxyHandle::shutdown`].
pub async fn start(
    config: ProxyConfig,
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    world: World,
) -> Result<ProxyHandle, ProxyError> {
    let tcp = TcpListener::bind(config.tcp_listen)
        .await
        .map_err(|source| ProxyError::Listen { addr: config.tcp_listen, source })?;
    let tcp_addr = tcp.local_addr().map_err(|source| ProxyError::Listen { addr: config.tcp_listen, source })?;
    let ws = match config.ws_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| ProxyError::Listen { addr, source })?),
        None => None,
    };
    let ws_addr = ws.as_ref().and_then(|listener| listener.local_addr().ok());
    let inbox = bus.subscribe(&orrery_proto::proxy_subject(config.proxy_id)).await?;
    let broadcasts = bus.subscribe(orrery_proto::CLUSTER_SUBJECT).await?;
    let hashers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let config_policy = config.password_policy;
    let live = LiveLimits::from_config(&config);
    let login_failures = guard::LoginFailures::new(&config);
    let shared = Arc::new(Shared {
        rooms: rooms::Rooms::default(),
        config,
        bus,
        store,
        world: RwLock::new(world),
        sessions: Mutex::new(HashMap::new()),
        accounts: Mutex::new(accounts::AccountSessions::default()),
        next_session: AtomicU64::new(1),
        stats: Arc::new(ProxyStats::default()),
        hashing: auth::HashPool::new(config_policy, hashers).map_err(ProxyError::Threads)?,
        live,
        connections: guard::ConnectionCounts::default(),
        login_failures,
        closing: std::sync::atomic::AtomicBool::new(false),
        shutdown: CancellationToken::new(),
    });
    let tasks = TaskTracker::new();
    tasks.spawn(inbox::serve(shared.clone(), inbox));
    tasks.spawn(inbox::broadcasts(shared.clone(), broadcasts));
    tasks.spawn(transport::accept(shared.clone(), tcp, transport::Listener::Tcp, tasks.clone()));
    if let Some(ws) = ws {
        tasks.spawn(transport::accept(shared.clone(), ws, transport::Listener::WebSocket, tasks.clone()));
    }
    tracing::info!(%tcp_addr, ?ws_addr, proxy = shared.config.proxy_id, "proxy listening");
    Ok(ProxyHandle { shared, tcp_addr, ws_addr, tasks })
}
