//! A whole cluster in one process — the embedded default behind `orrery run`: the coordinator premaps the
//! universe onto the sol nodes with `best`, stores the mapping under a new epoch, starts every node thread
//! with its systems, the persistence worker and a proxy, all talking through the in-process bus and one
//! store. Shutdown runs in the order that loses nothing: the proxy stops accepting and closes its sessions
//! (their ships leave space), the nodes write a last checkpoint, the persistence worker drains.
//!
//! ```no_run
//! # async fn demo() -> Result<(), orrery_cluster::ClusterError> {
//! use orrery_cluster::{Cluster, ClusterConfig};
//! let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig::default());
//! let mut config = ClusterConfig::new(universe, "sqlite://orrery-data/orrery.db");
//! config.nodes = 2;
//! let cluster = Cluster::start(config).await?;
//! println!("clients connect to {}", cluster.tcp_addr());
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```

mod control;
mod coordinator;
pub mod emergency;
pub mod live_settings;
pub mod node_reports;
pub mod roles;
pub mod runtime_systems;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use control::LogControl;
pub use coordinator::{Coordinator, FailoverRecord, MoveError, MoveReport, Rebalance};
pub use emergency::EmergencyShutdown;
use orrery_telemetry::{Metrics, Profiler};
use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use node_reports::NodeReports;
use orrery_bus::{Bus, InProcessBus, NatsBus};

/// Messages each bus subscription may queue before a slow subscriber loses them.
const BUS_QUEUE: usize = 65_536;
use orrery_node::{NodeConfig, NodeHandle, NodeReport, PersistStats};
use orrery_premap::{Mapping, Strategy};
use orrery_proxy::{PasswordPolicy, ProxyConfig, ProxyHandle, World};
use orrery_sim::SystemLayout;
use orrery_store::Store;
use orrery_universe::{LoadProfile, Universe};

/// Everything `orrery run` can set.
#[derive(Clone)]
pub struct ClusterConfig {
    /// The static universe the cluster simulates (systems added at runtime come on top of it).
    pub universe: Universe,
    /// Estimated load per system; synthesised from the universe when `None`.
    pub load: Option<LoadProfile>,
    /// How many sol nodes to premap the universe onto and start (at least 1).
    pub nodes: usize,
    /// How the premap (`best`) runs: how far above the ideal node load it may let a node go, for fewer
    /// cross-node jumps (by default it aims at LPT's balance), how many kicks per node it spends on cutting
    /// fewer gates, and how many nodes the regions it maps again hold (see `orrery_premap::Options`).
    pub premap: orrery_premap::Options,
    /// A mapping made beforehand with `premap` (e.g. by `orrery run` on a blocking thread while it shows the
    /// progress, since `best` can take half a minute); `None` premaps in [`Cluster::start`].
    pub mapping: Option<Mapping>,
    /// Default simulation tick length in milliseconds, for every system not in `system_tick_ms`.
    pub tick_ms: u32,
    /// Per-system tick lengths in milliseconds, by system id (others use `tick_ms`).
    pub system_tick_ms: std::collections::HashMap<u32, u32>,
    /// The store: `sqlite://path` or a plain path (embedded), or `postgres://…` (a PostgreSQL server).
    pub db_url: String,
    /// The bus: `None` for the in-process bus (embedded), or `nats://HOST:PORT` (a NATS server).
    pub bus_url: Option<String>,
    /// Where the proxy accepts game clients over TCP (port 0 picks a free one, as tests do).
    pub tcp_listen: SocketAddr,
    /// Where the proxy accepts browser clients over WebSocket; `None` serves none.
    pub ws_listen: Option<SocketAddr>,
    /// How often each node writes its ships to the store: what a crash can lose at most.
    pub checkpoint_every: Duration,
    /// What a new account's password must satisfy.
    pub password_policy: PasswordPolicy,
    /// Requests per second a client may send before it is throttled (the base of the live setting).
    pub rate_limit_per_s: u32,
    /// How long a silent client stays connected (the base of the live setting).
    pub idle_timeout: Duration,
    /// Largest client frame accepted, in bytes; larger ones end the session (the base of the live setting).
    pub max_frame_bytes: usize,
    /// Messages queued for one client before it counts as too slow and is disconnected.
    pub outbound_queue: usize,
    /// Let test clusters make a system's tick panic or burn CPU on request.
    pub allow_fault_injection: bool,
    /// Simulation seconds per wall second at full speed: 1.0 except in tests and demos.
    pub sim_speed: f64,
    /// Kernel send buffer per client socket (bytes); `None` keeps the OS default.
    pub socket_send_buffer: Option<usize>,
    /// The name operators must type to confirm an emergency shutdown (shown big on the dashboard).
    pub cluster_name: String,
    /// The admin API and dashboard; `None` serves neither.
    pub admin_listen: Option<SocketAddr>,
    /// The admin bearer token (required when `admin_listen` is set).
    pub admin_token: Option<String>,
    /// How often the settings table is read.
    pub settings_poll: Duration,
    /// Runtime log level control for the admin API (the binary's tracing reload handle).
    pub log_control: Option<Arc<dyn LogControl>>,
    /// Give a dead node's systems to the living nodes (the coordinator watches the node leases). Off in one
    /// process, where the nodes cannot die alone and a starved test machine must not look like a dead node.
    pub failover: bool,
    /// How long a node may stay silent before it counts as dead (with `failover`).
    pub lease: Duration,
    /// The sol nodes and proxies run as processes of their own (`orrery node`, `orrery proxy`): this process
    /// is the coordinator only. It adopts the stored mapping when it fits (a restarted coordinator changes
    /// nothing for the running nodes) and leaves ships in space where they are (the nodes restore them).
    pub coordinator_only: bool,
    /// Move systems off overloaded nodes by itself (`--rebalance`); `None` (the default) never does.
    pub rebalance: Option<Rebalance>,
    /// Run the market role in this process (`orrery run`), with this configuration; `None`: the market runs
    /// elsewhere (`orrery market`) or not at all.
    pub market: Option<orrery_market_role::RoleConfig>,
}

impl ClusterConfig {
    /// Defaults of `orrery run`: two nodes, 1 s ticks, TCP on 127.0.0.1:7777, WebSocket on 127.0.0.1:7778.
    pub fn new(universe: Universe, db_url: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            universe,
            load: None,
            nodes: 2,
            premap: orrery_premap::Options::default(),
            mapping: None,
            tick_ms: 1000,
            system_tick_ms: std::collections::HashMap::new(),
            db_url: db_url.into(),
            bus_url: None,
            tcp_listen: SocketAddr::from(([127, 0, 0, 1], 7777)),
            ws_listen: Some(SocketAddr::from(([127, 0, 0, 1], 7778))),
            checkpoint_every: Duration::from_secs(10),
            password_policy: PasswordPolicy::default(),
            rate_limit_per_s: 20,
            idle_timeout: Duration::from_secs(300),
            max_frame_bytes: 64 * 1024,
            outbound_queue: 1024,
            allow_fault_injection: false,
            sim_speed: 1.0,
            socket_send_buffer: None,
            cluster_name: "orrery-local".into(),
            admin_listen: None,
            admin_token: None,
            settings_poll: Duration::from_millis(500),
            log_control: None,
            failover: false,
            lease: Duration::from_secs(2),
            coordinator_only: false,
            rebalance: None,
            market: Some(orrery_market_role::RoleConfig::default()),
        }
    }
}

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The store could not be opened, or a read or write at startup failed.
    #[error("opening the store")]
    Store(#[from] orrery_store::StoreError),
    /// The premap could not map the universe onto the nodes.
    #[error("premapping the universe: {0}")]
    Premap(#[from] orrery_premap::PremapError),
    /// A system's scenery (planets, stargates) could not be generated.
    #[error("generating system layouts: {0}")]
    Layout(#[from] orrery_sim::LayoutError),
    /// A sol node failed to start.
    #[error("starting a sol node: {0}")]
    Node(#[from] orrery_node::NodeError),
    /// The proxy failed to start (e.g. its port is taken).
    #[error("starting the proxy: {0}")]
    Proxy(#[from] orrery_proxy::ProxyError),
    /// Subscribing at startup failed on a connected bus.
    #[error("on the bus")]
    Bus(#[from] orrery_bus::BusError),
    /// The bus (a NATS server) could not be connected to; nothing was written to the store.
    #[error("connecting to the bus")]
    BusConnect(#[source] orrery_bus::BusError),
    /// The admin API failed to start (e.g. its port is taken).
    #[error("starting the admin API: {0}")]
    Admin(#[from] orrery_admin::AdminError),
    /// The configuration cannot work (no nodes, a mapping for another universe, an admin API without a
    /// token); the message says what.
    #[error("{0}")]
    Config(String),
}

/// A running cluster.
pub struct Cluster {
    /// `None` in a coordinator-only process.
    proxy: Option<ProxyHandle>,
    nodes: Vec<NodeHandle>,
    /// The nodes' health as they publish it on the bus.
    reports: NodeReports,
    persister: Option<orrery_node::Persister>,
    persist_worker: Option<tokio::task::JoinHandle<()>>,
    persist_stats: Arc<PersistStats>,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    coordinator: Arc<Coordinator>,
    node_of_system: runtime_systems::SharedMapping,
    universe: runtime_systems::SharedUniverse,
    emergency: Arc<EmergencyShutdown>,
    settings: live_settings::SharedSettings,
    stop_watchers: CancellationToken,
    /// With failover, how old a node's last report may be for the admin API to still show the node (a dead
    /// node's systems are elsewhere by then); `None` shows every node heard from.
    report_max_age: Option<Duration>,
    admin: Option<orrery_admin::AdminHandle>,
    admin_url: Option<String>,
    metrics: Arc<Metrics>,
    profiler: Arc<Profiler>,
    /// The market role, when it runs in this process.
    market: Option<orrery_market_role::MarketHandle>,
}

/// The command line's values as settings: the base that rows in the settings table override.
fn base_settings(config: &ClusterConfig) -> orrery_settings::Settings {
    orrery_settings::Settings {
        idle_timeout_s: config.idle_timeout.as_secs().max(1),
        rate_limit_per_s: config.rate_limit_per_s,
        tick_ms: config.tick_ms,
        system_tick_ms: config.system_tick_ms.iter().map(|(k, v)| (*k, *v)).collect(),
        max_frame_bytes: config.max_frame_bytes,
        ..orrery_settings::Settings::default()
    }
}

/// A starting cluster hosts no ship yet, so a ship the store still has in space was left there by a crash (a
/// clean shutdown stores every ship out of space). It is stored as docked where it was last checkpointed, so
/// that what `Login` reports (`in_space`) agrees with what `Undock` does.
async fn dock_ships_left_in_space(store: &dyn Store) -> Result<(), orrery_store::StoreError> {
    let mut rows = store.ships_in_space().await?;
    if rows.is_empty() {
        return Ok(());
    }
    for row in &mut rows {
        row.in_space = false;
    }
    store.save_ships(&rows).await?;
    tracing::warn!(ships = rows.len(), "ships left in space by an unclean stop: docked where last checkpointed");
    Ok(())
}

/// The bus `url` names: the in-process one when `None`, else a connection to that NATS server with every
/// subject under the cluster's name (so clusters sharing a server do not hear each other).
async fn connect_bus(url: Option<&str>, cluster_name: &str) -> Result<Arc<dyn Bus>, ClusterError> {
    Ok(match url {
        None => Arc::new(InProcessBus::new(BUS_QUEUE)),
        Some(url) => {
            Arc::new(NatsBus::connect(url, BUS_QUEUE).await.map_err(ClusterError::BusConnect)?.namespaced(cluster_name))
        }
    })
}

/// The mapping the cluster runs: the one given beforehand, if it fits the cluster's nodes and universe, else
/// `best`'s premap of the universe's load (the configured one, or one synthesised from the universe).
fn mapping_for(config: &ClusterConfig) -> Result<Mapping, ClusterError> {
    let universe = &config.universe;
    match &config.mapping {
        Some(mapping) if mapping.nodes() != config.nodes || mapping.assignment().len() != universe.len() => {
            Err(ClusterError::Config(format!(
                "the mapping given is for {} nodes and {} systems, the cluster has {} nodes and {} systems",
                mapping.nodes(),
                mapping.assignment().len(),
                config.nodes,
                universe.len()
            )))
        }
        Some(mapping) => Ok(mapping.clone()),
        None => {
            let load = config.load.clone().unwrap_or_else(|| LoadProfile::synthesise(universe, 0));
            Ok(orrery_premap::premap_with(universe, &load.cpu(universe), config.nodes, Strategy::Best, &config.premap)?)
        }
    }
}

/// A coordinator-only process keeps the stored mapping when it covers this universe's systems with the
/// configured number of nodes: a coordinator that restarts changes nothing for the nodes that kept playing.
async fn adopt_mapping(
    store: &dyn Store,
    config: &ClusterConfig,
) -> Result<Option<(u64, runtime_systems::SharedMapping)>, ClusterError> {
    let Some(stored) = store.load_mapping().await? else { return Ok(None) };
    let added = store.added_systems().await?.len();
    let fits = stored.assignments.iter().all(|&(_, node)| (node as usize) < config.nodes)
        && stored.assignments.len() <= config.universe.len() + added
        && config
            .universe
            .systems()
            .iter()
            .all(|system| stored.assignments.binary_search_by_key(&system.id.0, |&(s, _)| s).is_ok());
    if !fits {
        tracing::info!(epoch = stored.epoch, "the stored mapping does not fit this cluster: premapping anew");
        return Ok(None);
    }
    tracing::info!(epoch = stored.epoch, "stored mapping adopted");
    Ok(Some((stored.epoch, Arc::new(RwLock::new(stored.assignments.into_iter().collect())))))
}

/// Save `mapping` under the epoch after the stored one (so that a message routed by an older mapping can be
/// recognised), and return that epoch with the mapping as the cluster's roles share it (system id to node).
async fn store_mapping(
    store: &dyn Store,
    universe: &Universe,
    mapping: &Mapping,
    nodes: usize,
) -> Result<(u64, runtime_systems::SharedMapping), ClusterError> {
    let epoch = store.load_mapping().await?.map_or(0, |previous| previous.epoch) + 1;
    let assignments: Vec<(u32, u32)> =
        (0..universe.len()).map(|index| (universe.system(index).id.0, mapping.node_of(index) as u32)).collect();
    store.save_mapping(epoch, &assignments).await?;
    tracing::info!(epoch, nodes, systems = universe.len(), "mapping stored");
    Ok((epoch, Arc::new(RwLock::new(assignments.into_iter().collect()))))
}

/// Start one sol node per node of `mapping`, each with its systems' layouts and the config's tick settings,
/// all checkpointing through `persister` and reporting to the shared profiler and metrics.
async fn start_nodes(
    config: &ClusterConfig,
    mapping: &Mapping,
    bus: &Arc<dyn Bus>,
    persister: &orrery_node::Persister,
    persist_stats: &Arc<PersistStats>,
    profiler: &Arc<Profiler>,
    metrics: &Arc<Metrics>,
) -> Result<Vec<NodeHandle>, ClusterError> {
    let mut nodes = Vec::with_capacity(config.nodes);
    for (node, layouts) in layouts_by_node(&config.universe, mapping)?.into_iter().enumerate() {
        let mut node_config = NodeConfig::new(node as u32, config.tick_ms);
        node_config.checkpoint_every = config.checkpoint_every;
        node_config.allow_fault_injection = config.allow_fault_injection;
        node_config.sim_speed = config.sim_speed;
        node_config.system_tick_ms = config.system_tick_ms.clone();
        node_config.profiler = Some(profiler.clone());
        node_config.metrics = Some(metrics.clone());
        node_config.persist_stats = Some(persist_stats.clone());
        nodes.push(orrery_node::start(node_config, bus.clone(), layouts, persister.clone()).await?);
    }
    Ok(nodes)
}

/// The proxy, on the config's addresses and with its limits, placing new characters in the universe's
/// starting systems.
async fn start_proxy(
    config: &ClusterConfig,
    proxy_id: u32,
    bus: &Arc<dyn Bus>,
    store: &Arc<dyn Store>,
) -> Result<ProxyHandle, ClusterError> {
    let world = proxy_world(&config.universe)
        .ok_or_else(|| ClusterError::Config("the universe has no system to start in".into()))?;
    let mut proxy_config = ProxyConfig::new(proxy_id, config.tcp_listen, config.ws_listen);
    proxy_config.password_policy = config.password_policy;
    proxy_config.rate_limit_per_s = config.rate_limit_per_s;
    proxy_config.idle_timeout = config.idle_timeout;
    proxy_config.max_frame_bytes = config.max_frame_bytes;
    proxy_config.outbound_queue = config.outbound_queue;
    proxy_config.socket_send_buffer = config.socket_send_buffer;
    Ok(orrery_proxy::start(proxy_config, bus.clone(), store.clone(), world).await?)
}

/// Live settings: the command line's values, broadcast now, then overridden by rows of the settings table as
/// a watcher finds them, until `stop`. Returns the settings in force, which the watcher keeps current.
async fn start_live_settings(
    config: &ClusterConfig,
    store: &Arc<dyn Store>,
    bus: &Arc<dyn Bus>,
    stop: &CancellationToken,
) -> live_settings::SharedSettings {
    let base = base_settings(config);
    let settings: live_settings::SharedSettings = Arc::new(Mutex::new(base.clone()));
    live_settings::broadcast(bus.as_ref(), &base).await;
    tokio::spawn(live_settings::watch(
        store.clone(),
        bus.clone(),
        base,
        settings.clone(),
        config.settings_poll,
        stop.clone(),
    ));
    settings
}

impl Cluster {
    /// Premap, store the mapping, start nodes, persistence and the proxy.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        if config.nodes == 0 {
            return Err(ClusterError::Config("--nodes must be at least 1".into()));
        }
        let store = orrery_store::open(&config.db_url).await?;
        // Connected before anything is written (ships docked, the mapping saved), so that an unreachable bus leaves
        // the store alone.
        let bus = connect_bus(config.bus_url.as_deref(), &config.cluster_name).await?;
        let adopted = if config.coordinator_only { adopt_mapping(store.as_ref(), &config).await? } else { None };
        let (epoch, node_of_system, mapping) = match adopted {
            Some((epoch, node_of)) => (epoch, node_of, None),
            None => {
                if !config.coordinator_only {
                    dock_ships_left_in_space(store.as_ref()).await?;
                }
                let mapping = mapping_for(&config)?;
                let (epoch, node_of) = store_mapping(store.as_ref(), &config.universe, &mapping, config.nodes).await?;
                (epoch, node_of, Some(mapping))
            }
        };

        let persist_stats = Arc::new(PersistStats::default());
        let metrics = Arc::new(Metrics::new());
        let profiler = Arc::new(Profiler::new());

        // Listen before the nodes start, so that their first reports are heard.
        let stop_watchers = CancellationToken::new();
        let reports = NodeReports::follow(bus.as_ref(), config.nodes as u32, stop_watchers.clone()).await?;
        let (mut nodes, mut proxy, mut persister, mut persist_worker) = (Vec::new(), None, None, None);
        if let (false, Some(mapping)) = (config.coordinator_only, &mapping) {
            let (worker_input, worker) =
                orrery_node::spawn_worker(store.clone(), bus.clone(), persist_stats.clone(), Some(metrics.clone()));
            nodes = start_nodes(&config, mapping, &bus, &worker_input, &persist_stats, &profiler, &metrics).await?;
            proxy = Some(start_proxy(&config, 1, &bus, &store).await?);
            (persister, persist_worker) = (Some(worker_input), Some(worker));
        }
        let market = match (&config.market, config.coordinator_only) {
            (Some(market), false) => Some(
                orrery_market_role::start(bus.clone(), store.clone(), &config.universe, market.clone())
                    .await
                    .map_err(|problem| ClusterError::Config(format!("starting the market: {problem}")))?,
            ),
            _ => None,
        };
        let settings = start_live_settings(&config, &store, &bus, &stop_watchers).await;
        let emergency = EmergencyShutdown::new(config.cluster_name.clone(), bus.clone());

        let universe: runtime_systems::SharedUniverse = Arc::new(RwLock::new(Arc::new(config.universe.clone())));
        let coordinator = Coordinator::new(
            store.clone(),
            bus.clone(),
            universe.clone(),
            node_of_system.clone(),
            Arc::new(std::sync::atomic::AtomicU64::new(epoch)),
            reports.clone(),
            config.nodes as u32,
            config.lease,
        );
        coordinator.clone().run(config.failover, stop_watchers.clone()).await?;
        if let Some(rule) = config.rebalance {
            coordinator.clone().start_rebalancing(rule, stop_watchers.clone());
        }
        coordinator.clone().watch_move_requests(config.settings_poll, stop_watchers.clone());
        let mut cluster = Cluster {
            proxy,
            nodes,
            reports,
            persister,
            persist_worker,
            persist_stats,
            store,
            bus,
            coordinator,
            node_of_system,
            universe,
            emergency,
            settings,
            stop_watchers,
            report_max_age: config.failover.then_some(config.lease * 2),
            admin: None,
            admin_url: None,
            metrics,
            profiler,
            market,
        };
        cluster.watch_added_systems(config.settings_poll);
        if let Some(listen) = config.admin_listen {
            cluster.serve_admin(listen, &config).await?;
        }
        Ok(cluster)
    }

    /// Bring systems added to the store while the cluster runs online, reading the table every `every` until
    /// the cluster stops.
    fn watch_added_systems(&self, every: Duration) {
        let reports = self.reports.clone();
        let watcher = runtime_systems::Watcher {
            store: self.store.clone(),
            bus: self.bus.clone(),
            universe: self.universe.clone(),
            node_of: self.node_of_system.clone(),
            reports: Arc::new(move || reports.latest()),
            every,
            stamper: orrery_proto::Stamper::random(),
        };
        tokio::spawn(watcher.run(self.stop_watchers.clone()));
    }

    /// Serve the admin API and dashboard on `listen` until the cluster stops; refused without the configured
    /// token.
    async fn serve_admin(&mut self, listen: SocketAddr, config: &ClusterConfig) -> Result<(), ClusterError> {
        let token =
            config.admin_token.clone().ok_or_else(|| ClusterError::Config("the admin API needs a token".into()))?;
        let control = self.control(config.log_control.clone());
        let stop = self.stop_watchers.clone();
        let handle =
            orrery_admin::serve(orrery_admin::AdminConfig { listen, token: token.clone() }, control, async move {
                stop.cancelled().await;
            })
            .await?;
        self.admin_url = Some(handle.dashboard_url(&token));
        self.admin = Some(handle);
        Ok(())
    }

    /// What `GET /api/v1/cluster` answers now (nodes, busy systems, the services' health), without HTTP.
    pub async fn cluster_view(&self) -> orrery_admin::ClusterView {
        self.control(None).cluster().await
    }

    /// The admin API's view of this cluster.
    fn control(&self, log: Option<Arc<dyn LogControl>>) -> Arc<dyn orrery_admin::ClusterControl> {
        let reports = self.reports.clone();
        let proxy_stats = self.proxy.as_ref().map_or_else(Default::default, ProxyHandle::shared_stats);
        let slow_seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let metrics = self.metrics.clone();
        let max_age = self.report_max_age;
        let read_reports = move || match max_age {
            Some(age) => reports.latest_within(age),
            None => reports.latest(),
        };
        let read_reports: Arc<dyn Fn() -> Vec<NodeReport> + Send + Sync> = Arc::new(read_reports);
        let sessions_stats = proxy_stats.clone();
        let refresh_reports = read_reports.clone();
        let refresh = move || {
            use std::sync::atomic::Ordering::Relaxed;
            metrics.set_sessions(sessions_stats.sessions_open.load(Relaxed));
            metrics.set_bytes_in_total(sessions_stats.bytes_in.load(Relaxed));
            metrics.set_bytes_out_total(sessions_stats.bytes_out.load(Relaxed));
            let dropped = sessions_stats.slow_clients_dropped.load(Relaxed);
            for _ in slow_seen.swap(dropped, Relaxed)..dropped {
                metrics.count_slow_client_dropped();
            }
            let reports = refresh_reports();
            let mut players = Vec::new();
            let mut tidi = Vec::new();
            for report in &reports {
                metrics.set_node_players(report.node_id, report.systems.iter().map(|s| s.ships as u64).sum());
                for system in &report.systems {
                    if system.ships > 0 {
                        players.push((system.system_id, system.ships as u64));
                    }
                    if system.factor < 1.0 {
                        tidi.push((system.system_id, system.factor));
                    }
                }
            }
            metrics.set_system_players(&players);
            metrics.set_tidi(&tidi);
        };
        Arc::new(control::Control {
            universe: self.universe.clone(),
            node_of: self.node_of_system.clone(),
            coordinator: self.coordinator.clone(),
            reports: read_reports,
            sessions: Arc::new(move || proxy_stats.sessions_open.load(std::sync::atomic::Ordering::Relaxed)),
            store: self.store.clone(),
            settings: self.settings.clone(),
            emergency: self.emergency.clone(),
            profiler: self.profiler.clone(),
            metrics: self.metrics.clone(),
            refresh_metrics: Arc::new(refresh),
            log,
            bus: self.bus.clone(),
        })
    }

    /// Completes when an emergency shutdown fires; the owner then calls [`Cluster::shutdown`].
    pub fn shutdown_fired(&self) -> CancellationToken {
        self.emergency.fired()
    }

    /// The emergency shutdown, to schedule or cancel one from outside the admin API (the binary, tests).
    pub fn emergency(&self) -> &Arc<EmergencyShutdown> {
        &self.emergency
    }

    /// The settings in force.
    pub fn settings(&self) -> orrery_settings::Settings {
        self.settings.lock().clone()
    }

    /// The dashboard's address with the token in its fragment, when the admin API is served.
    pub fn admin_url(&self) -> Option<&str> {
        self.admin_url.as_deref()
    }

    /// Where the admin API listens (the port actually bound), when it is served.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(orrery_admin::AdminHandle::local_addr)
    }

    /// The profiler shared by the nodes, which the admin API starts and stops.
    pub fn profiler(&self) -> &Arc<Profiler> {
        &self.profiler
    }

    /// The cluster's Prometheus metrics, which the nodes and the persistence worker update.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where game clients connect over TCP (the port actually bound).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.proxy.as_ref().map_or(SocketAddr::from(([0, 0, 0, 0], 0)), ProxyHandle::tcp_addr)
    }

    /// Where browser clients connect over WebSocket (the port actually bound), when served.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.proxy.as_ref().and_then(ProxyHandle::ws_addr)
    }

    /// The mapping's epoch: one more than the previous start's.
    pub fn epoch(&self) -> u64 {
        self.coordinator.epoch()
    }

    /// The coordinator: live migration of systems, failover of dead nodes.
    pub fn coordinator(&self) -> &Arc<Coordinator> {
        &self.coordinator
    }

    /// Which node hosts a system.
    pub fn node_of(&self, system_id: u32) -> Option<u32> {
        self.node_of_system.read().get(&system_id).copied()
    }

    /// The latest report each node published on the bus, in node order (a node not heard from yet is absent).
    pub fn node_reports(&self) -> Vec<NodeReport> {
        self.reports.latest()
    }

    /// The coordinator's board of node reports (with arrival times: the nodes' heartbeats).
    pub fn reports(&self) -> &NodeReports {
        &self.reports
    }

    /// The store every role of this process writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The bus every role of this process is on (in-process, or a NATS connection).
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// The proxy, for its addresses and session counters (`None` in a coordinator-only process).
    pub fn proxy(&self) -> Option<&ProxyHandle> {
        self.proxy.as_ref()
    }

    /// The persistence worker's counters: batches and rows written, failures, the last batch's duration.
    pub fn persist_stats(&self) -> &PersistStats {
        &self.persist_stats
    }

    /// Stop in the order that loses nothing, and return once everything is stored.
    pub async fn shutdown(self) {
        tracing::info!("shutting down: closing sessions");
        self.stop_watchers.cancel();
        if let Some(proxy) = self.proxy {
            proxy.shutdown().await;
        }
        if let Some(market) = self.market {
            tracing::info!("stopping the market");
            market.shutdown().await;
        }
        tracing::info!("stopping sol nodes");
        for node in self.nodes {
            node.stop().await;
        }
        drop(self.persister);
        if let Some(worker) = self.persist_worker {
            let _ = worker.await;
        }
        tracing::info!("everything stored");
    }
}

/// Each node's system layouts, from the mapping.
fn layouts_by_node(universe: &Universe, mapping: &Mapping) -> Result<Vec<Vec<SystemLayout>>, ClusterError> {
    let mut by_node: Vec<Vec<SystemLayout>> = (0..mapping.nodes()).map(|_| Vec::new()).collect();
    for index in 0..universe.len() {
        by_node[mapping.node_of(index)].push(SystemLayout::generate(universe, index)?);
    }
    Ok(by_node)
}

/// What a proxy knows of `universe`: its systems and their names, the starting systems, and the trade hubs a
/// player can choose to start in and meet others. `None` if the universe has no system.
pub fn proxy_world(universe: &Universe) -> Option<World> {
    let hubs: Vec<u32> = orrery_universe::trade_hubs(universe).into_iter().map(|i| universe.system(i).id.0).collect();
    let world = World::new(universe.systems().iter().map(|s| s.id.0), &starting_systems(universe))?;
    Some(world.with_names(universe.systems().iter().map(|s| (s.id.0, s.name.clone()))).with_trade_hubs(&hubs))
}

/// Where new characters start: the high-security systems (all systems if there are none).
pub fn starting_systems(universe: &Universe) -> Vec<u32> {
    let high: Vec<u32> = universe.systems().iter().filter(|s| s.is_high_sec()).map(|s| s.id.0).collect();
    if high.is_empty() { universe.systems().iter().map(|s| s.id.0).collect() } else { high }
}
