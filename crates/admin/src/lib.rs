//! The operators' door into a live orrery cluster: a JSON admin API under `/api/v1`, the Prometheus
//! exposition at `/metrics`, a dashboard page at `/` and the pilot's page at `/play`, served by the
//! coordinator on a port of its own (default [`DEFAULT_LISTEN`], `127.0.0.1:7780`).
//!
//! The crate does not know the cluster's insides. It talks to a [`ClusterControl`], which the cluster crate
//! implements, and only translates between HTTP and those calls — so the contract operators script against
//! (documented in `docs/admin-api.md` and `docs/openapi.yaml`) is tested here with a small in-memory
//! implementation, and `examples/demo.rs` serves the dashboard over a simulated cluster.
//!
//! The admin server also serves the pilot's page at `/play` (the browser client, built from `web/play`), which
//! talks to the game's WebSocket transport, not to this API.
//!
//! Every route except the static pages and their assets (which hold no data) is behind one bearer token:
//! [`load_or_create_token`] keeps it in `<data-dir>/admin-token`. The page reads the token from the URL
//! fragment (`http://127.0.0.1:7780/#token=…`, never sent to the server) or asks for it.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run(control: Arc<dyn orrery_admin::ClusterControl>) -> Result<(), Box<dyn std::error::Error>> {
//! use orrery_admin::{AdminConfig, DEFAULT_LISTEN, load_or_create_token, serve};
//!
//! let (token, created) = load_or_create_token(std::path::Path::new("orrery-data"))?;
//! let config = AdminConfig { listen: DEFAULT_LISTEN, token: token.clone() };
//! let handle = serve(config, control, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! if created {
//!     println!("admin dashboard: {}", handle.dashboard_url(&token)); // shown once, at first start
//! }
//! handle.join().await?;
//! # Ok(()) }
//! ```

mod auth;
mod body;
mod control;
mod error;
mod routes;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use auth::{TOKEN_FILE, generate_token, load_or_create_token};
pub use control::{
    ClusterControl, ClusterView, ControlError, KillShip, KillView, MapSystem, NodeView, ProfilerStatus, ServicesView,
    SettingView, ShutdownRequest, ShutdownView, SystemDetail, SystemView, UniverseView,
};
pub use error::{AdminError, ApiError};
pub use routes::{
    DEFAULT_FLAMEGRAPH_SECONDS, DEFAULT_KILLS_LIMIT, MAX_FLAMEGRAPH_SECONDS, MAX_KILLS_LIMIT, MAX_SHUTDOWN_SECONDS,
    router,
};

/// Where the admin server listens unless told otherwise: loopback only, since the token travels in clear
/// text over plain HTTP.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7780));

/// The largest request body accepted, in bytes (64 KiB): every admin request is a few fields.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How to run the admin server.
#[derive(Clone)]
pub struct AdminConfig {
    /// Address to listen on; port 0 picks a free one (see [`AdminHandle::local_addr`]).
    pub listen: SocketAddr,
    /// The bearer token every API request must carry. Must be non-empty visible ASCII.
    pub token: String,
}

impl std::fmt::Debug for AdminConfig {
    /// Never prints the token: configurations end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig").field("listen", &self.listen).field("token", &"<redacted>").finish()
    }
}

/// A running admin server: where it listens, and its task to wait for after the shutdown future fired.
#[derive(Debug)]
pub struct AdminHandle {
    local_addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminHandle {
    /// The bound address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The dashboard's address with the token in the fragment, for printing once to the operator. The
    /// fragment stays in the browser: it is never sent to the server nor written to access logs.
    pub fn dashboard_url(&self, token: &str) -> String {
        format!("http://{}/#token={}", self.local_addr, token.trim())
    }

    /// Waits until the server has stopped: the shutdown future fired and open requests finished.
    pub async fn join(self) -> Result<(), AdminError> {
        match self.task.await {
            Ok(result) => result.map_err(AdminError::Serve),
            Err(error) => Err(AdminError::Task(error.to_string())),
        }
    }

    /// Stops the server at once, dropping open requests (for when a graceful stop takes too long).
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Binds `config.listen` and serves the admin application on it until `shutdown` completes; then stops
/// accepting, lets open requests finish and ends. Returns once the listener is bound, so a bad address is
/// reported here and the bound address (for port 0) is known at once.
pub async fn serve(
    config: AdminConfig,
    control: Arc<dyn ClusterControl>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<AdminHandle, AdminError> {
    auth::check_token(&config.token)?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| AdminError::Bind { addr: config.listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| AdminError::Bind { addr: config.listen, source })?;
    if !local_addr.ip().is_loopback() {
        let warning = "the admin API listens beyond loopback over plain HTTP: its token travels in clear";
        tracing::warn!(%local_addr, "{warning}");
    }
    let app = router(&config.token, control);
    let task = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
    tracing::info!(%local_addr, "admin API and dashboard listening");
    Ok(AdminHandle { local_addr, task })
}
