//! `orrery run`: the whole cluster in one process — coordinator, sol nodes, proxy — on the in-process bus and
//! a SQLite store by default, or on a NATS server (`--bus nats://…`) and a PostgreSQL server
//! (`--store postgres://…`); on a generated universe unless files are given. Ctrl-C or SIGTERM stops it gracefully: no new
//! connections, every ship stored, exit 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use orrery_cluster::{Cluster, ClusterConfig};
use orrery_proxy::PasswordPolicy;

use crate::universe_args::UniverseArgs;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// TCP listener for game clients (4-byte big-endian length + protobuf envelope).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7777")]
    pub listen: SocketAddr,
    /// WebSocket listener for game clients (one binary message per envelope). It cannot be turned off: the
    /// port must be free (use another, or port 0 for any).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7778")]
    pub ws_listen: SocketAddr,
    /// The store: `sqlite://PATH`, or `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` for a PostgreSQL server.
    /// Default: a SQLite file in --data-dir.
    #[arg(long = "store", visible_alias = "db", value_name = "URL")]
    pub db: Option<String>,
    /// The bus: `nats://HOST:PORT` for a NATS server. Default: the in-process bus (every role in this process).
    #[arg(long, value_name = "URL", value_parser = parse_bus_url)]
    pub bus: Option<String>,
    /// Directory for the default database.
    #[arg(long, value_name = "DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// Number of sol nodes (one thread each). Default: the number of CPU cores, at least 2.
    #[arg(long, value_name = "N")]
    pub nodes: Option<usize>,
    /// Nominal tick length of every system, in milliseconds (1000 = 1 Hz, 100 = 10 Hz). Commands are applied
    /// at their system's next tick, so the tick is a floor under every latency: with 1000 ms a chat line
    /// reaches the others 0–1 s after it is sent. The player cap per system (1,000 by default) has no option:
    /// it is the live setting `system.max_players` (admin API or SQL, see docs/admin-api.md).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=60_000))]
    pub tick_ms: u32,
    /// A tick length for one system, as SYSTEM_ID=MS (repeatable), e.g. `--system-tick 30000142=100` for 10 Hz.
    #[arg(long, value_name = "ID=MS", value_parser = parse_system_tick)]
    pub system_tick: Vec<(u32, u32)>,
    #[command(flatten)]
    pub universe: UniverseArgs,
    /// Load fingerprint CSV (system_id,cpu[,mem]) for the premap; synthesised when absent.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// How far above the ideal node load, in percent, the premap may let a node go for fewer cross-node jumps
    /// (see `orrery premap --sweep`); by default it aims at LPT's balance.
    #[arg(long, value_name = "PERCENT", value_parser = crate::cmd::premap::parse_percent, allow_negative_numbers = true)]
    pub premap_imbalance: Option<f64>,
    /// Kicks per node the premap spends on fewer cross-node jumps once balance is settled (see `orrery premap
    /// --kicks`): by default 8 up to 64 nodes, none beyond; more take longer at start-up, never cut more.
    #[arg(long, value_name = "PER_NODE", value_parser = clap::value_parser!(u64).range(0..=1000), allow_negative_numbers = true)]
    pub premap_kicks: Option<u64>,
    /// Region re-solving for the premap (see `orrery premap --regions`): each node and the nodes it shares the
    /// most gates with, this many in all, mapped again where that cuts fewer cross-node jumps; 0 for none. By
    /// default 5 up to 64 nodes, none beyond; they take most of the premap's time at start-up.
    #[arg(long, value_name = "NODES", value_parser = crate::cmd::premap::parse_region_nodes, allow_negative_numbers = true)]
    pub premap_regions: Option<usize>,
    /// Commands per second a client session may send.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rate_limit: u32,
    /// Seconds without a message after which a client is disconnected.
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub idle_timeout: u64,
    /// Largest envelope accepted from a client, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    pub max_frame: usize,
    /// Seconds between checkpoints of every ship in space.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub checkpoint_s: u64,
    /// The cluster's name: shown on the dashboard, and typed by operators to confirm an emergency shutdown.
    #[arg(long, value_name = "NAME", default_value = "orrery-local")]
    pub cluster_name: String,
    /// Admin API and dashboard listener. It cannot be turned off: the port must be free (use another, or port
    /// 0 for any).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7780")]
    pub admin_listen: SocketAddr,
    /// Admin bearer token. Default: generated at first start into <data-dir>/admin-token and printed once.
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Move systems off overloaded sol nodes by themselves: when a node's demand stays above 80% of a core
    /// while another node has room, its system whose move helps most goes there (one move per node every 5 s,
    /// a moved system stays 60 s). Off by default.
    #[arg(long)]
    pub rebalance: bool,
    /// argon2id memory cost in KiB (default: OWASP's 19 MiB). Lower only for load tests; the smallest cost
    /// used is 8 KiB (smaller values are raised to it).
    #[arg(long, value_name = "KIB", default_value_t = PasswordPolicy::default().memory_kib)]
    pub argon2_memory_kib: u32,
    /// The NPC traders' pricing rules (spread, stock, impact, recovery, bounds per item group), read at start:
    /// an operator edits the file and restarts the market, no rebuild. Default: the copy built in
    /// (data/npc-pricing.csv of the repository).
    #[arg(long, value_name = "CSV")]
    pub npc_rules: Option<PathBuf>,
    /// The item types (data/items.csv format); types may be added, never removed or renumbered. Default: the
    /// copy built in.
    #[arg(long, value_name = "CSV")]
    pub market_items: Option<PathBuf>,
    /// Do not run the market role in this process (it runs as `orrery market`, or not at all).
    #[arg(long)]
    pub no_market: bool,
}

/// The log filter, changeable at runtime through the admin API.
pub static LOG_CONTROL: std::sync::OnceLock<std::sync::Arc<dyn orrery_cluster::LogControl>> =
    std::sync::OnceLock::new();

type FilterHandle = tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// A `tracing_subscriber` reload handle as the cluster's [`orrery_cluster::LogControl`].
pub struct ReloadableLog {
    handle: FilterHandle,
    current: parking_lot::Mutex<String>,
}

impl ReloadableLog {
    pub fn new(handle: FilterHandle, initial: String) -> ReloadableLog {
        ReloadableLog { handle, current: parking_lot::Mutex::new(initial) }
    }
}

impl orrery_cluster::LogControl for ReloadableLog {
    fn current(&self) -> String {
        self.current.lock().clone()
    }

    fn set(&self, filter: &str) -> Result<(), String> {
        let parsed = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("`{filter}`: {e}"))?;
        self.handle.reload(parsed).map_err(|e| e.to_string())?;
        let old = std::mem::replace(&mut *self.current.lock(), filter.to_owned());
        tracing::info!(old = %old, new = filter, "log level changed");
        Ok(())
    }
}

fn parse_bus_url(text: &str) -> Result<String, String> {
    if text.starts_with("nats://") && text.len() > "nats://".len() {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a NATS URL (nats://HOST:PORT); leave --bus out for the in-process bus"))
    }
}

fn parse_system_tick(text: &str) -> Result<(u32, u32), String> {
    let (system, ms) = text.split_once('=').ok_or_else(|| format!("`{text}`: expected SYSTEM_ID=MS"))?;
    let system = system.trim().parse().map_err(|_| format!("`{system}`: not a system id"))?;
    let ms: u32 = ms.trim().parse().map_err(|_| format!("`{ms}`: not a number of milliseconds"))?;
    if !(10..=60_000).contains(&ms) {
        return Err(format!("{ms} ms: a tick must last 10 to 60000 ms"));
    }
    Ok((system, ms))
}

pub fn run(args: RunArgs) -> Result<()> {
    runtime()?.block_on(serve(args))
}

/// The multi-threaded tokio runtime every role runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")
}

/// The cluster configuration `args` describe (every role reads the same options).
pub fn cluster_config(args: &RunArgs) -> Result<ClusterConfig> {
    let (universe, full) = args.universe.load()?;
    let load = args.universe.load_profile(args.load.as_ref(), &full)?;
    let db_url = match &args.db {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
            format!("sqlite://{}", args.data_dir.join("orrery.db").display())
        }
    };
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut config = ClusterConfig::new(universe, db_url.clone());
    config.bus_url = args.bus.clone();
    config.load = Some(load);
    config.nodes = args.nodes.unwrap_or(cores.max(2));
    config.premap = orrery_premap::Options {
        imbalance: args.premap_imbalance.map(|percent| percent / 100.0),
        kicks_per_node: args.premap_kicks.map(|k| k as usize),
        region_nodes: args.premap_regions,
    };
    config.tick_ms = args.tick_ms;
    for &(system, tick_ms) in &args.system_tick {
        if config.universe.index_of(orrery_universe::SystemId(system)).is_none() {
            anyhow::bail!("--system-tick {system}={tick_ms}: no system {system} in the universe");
        }
        config.system_tick_ms.insert(system, tick_ms);
    }
    config.tcp_listen = args.listen;
    config.ws_listen = Some(args.ws_listen);
    config.rate_limit_per_s = args.rate_limit;
    config.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    config.max_frame_bytes = args.max_frame;
    config.checkpoint_every = Duration::from_secs(args.checkpoint_s.max(1));
    config.password_policy = PasswordPolicy { memory_kib: args.argon2_memory_kib, ..PasswordPolicy::default() };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    config.cluster_name = args.cluster_name.clone();
    config.rebalance = args.rebalance.then(orrery_cluster::Rebalance::default);
    config.log_control = LOG_CONTROL.get().cloned();
    config.market = (!args.no_market).then(|| market_config(args));
    Ok(config)
}

/// The market role's configuration from the command line.
pub fn market_config(args: &RunArgs) -> orrery_market_role::RoleConfig {
    orrery_market_role::RoleConfig {
        npc_rules: args.npc_rules.clone(),
        items: args.market_items.clone(),
        ..orrery_market_role::RoleConfig::default()
    }
}

/// The admin API on `args`' address with its token (given, or generated once into the data directory).
pub fn with_admin(args: &RunArgs, config: &mut ClusterConfig) -> Result<()> {
    let token = match &args.admin_token {
        Some(token) => token.clone(),
        None => {
            let (token, created) = orrery_admin::load_or_create_token(&args.data_dir)
                .with_context(|| format!("reading or creating {}/admin-token", args.data_dir.display()))?;
            if created {
                println!("admin token (stored in {}/admin-token): {token}", args.data_dir.display());
            }
            token
        }
    };
    config.admin_listen = Some(args.admin_listen);
    config.admin_token = Some(token);
    Ok(())
}

async fn serve(args: RunArgs) -> Result<()> {
    let mut config = cluster_config(&args)?;
    with_admin(&args, &mut config)?;
    let db_url = config.db_url.clone();
    let systems = config.universe.len();
    let nodes = config.nodes;
    if nodes > 0 {
        // (With no node, Cluster::start says what is wrong.)
        config.mapping = Some(premap_on_a_blocking_thread(&config).await?);
    }
    let cluster = Cluster::start(config).await.context("starting the cluster")?;
    println!(
        "orrery running: {systems} systems on {nodes} sol nodes (mapping epoch {}), store {}, bus {}",
        cluster.epoch(),
        orrery_store::redacted_url(&db_url),
        args.bus.as_deref().unwrap_or("in-process")
    );
    println!("clients: tcp://{}  ws://{}", cluster.tcp_addr(), cluster.ws_addr().map_or("-".into(), |a| a.to_string()));
    println!("bots:    orrery bots --connect {} --count 100 --scenario mixed --duration 60", cluster.tcp_addr());
    if let Some(url) = cluster.admin_url() {
        println!("admin: {url}");
    }
    if let (Some(admin), Some(ws)) = (cluster.admin_addr(), cluster.ws_addr()) {
        println!("play:  http://{admin}/play?ws=ws://{ws}/");
    }
    let fired = cluster.shutdown_fired();
    tokio::select! {
        _ = wait_for_signal() => println!("signal received"),
        _ = fired.cancelled() => println!("emergency shutdown fired"),
    }
    println!("shutting down: storing every ship");
    cluster.shutdown().await;
    println!("stopped cleanly");
    Ok(())
}

/// Premaps `config`'s universe with `best` on a blocking thread, showing its progress on stderr (when it is a
/// terminal), as `orrery premap` does: at 24–64 nodes `best` searches for fewer cut gates for up to half a
/// minute, which would otherwise stall the runtime and leave the operator looking at nothing.
pub async fn premap_on_a_blocking_thread(config: &ClusterConfig) -> Result<orrery_premap::Mapping> {
    let universe = config.universe.clone();
    let load = config.load.as_ref().map_or_else(
        || orrery_universe::LoadProfile::synthesise(&universe, 0).cpu(&universe),
        |profile| profile.cpu(&universe),
    );
    let (nodes, options) = (config.nodes, config.premap);
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} premapping {elapsed} {msg}")
            .expect("a valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let shown = bar.clone();
    let mapping = tokio::task::spawn_blocking(move || {
        let mut show = |p| shown.set_message(crate::cmd::premap::progress_message(p));
        orrery_premap::premap_with_progress(&universe, &load, nodes, orrery_premap::Strategy::Best, &options, &mut show)
    })
    .await
    .context("the premap thread failed")?
    .context("premapping the universe");
    bar.finish_and_clear();
    mapping
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
