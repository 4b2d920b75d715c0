//! `orrery coordinator`, `orrery node` and `orrery proxy`: the roles of `orrery run` as processes of their own,
//! on a NATS server and a PostgreSQL server (see docs/deployment.md). They read the same options as `orrery
//! run` (the universe, tick lengths, limits), so that every process of one cluster agrees on them: give each
//! the same universe options.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use orrery_cluster::Cluster;
use orrery_cluster::roles::{MarketProcess, NodeProcess, ProxyProcess, cluster_going_down};
use tokio_util::sync::CancellationToken;

use crate::cmd::run::{
    RunArgs, cluster_config, market_config, premap_on_a_blocking_thread, runtime, wait_for_signal, with_admin,
};

/// `orrery coordinator`.
#[derive(Args, Debug)]
pub struct CoordinatorArgs {
    /// How long a sol node may stay silent (no report on the bus) before its systems are given to the others.
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(500..=60_000))]
    pub lease_ms: u64,
    /// Never fail a node over (its systems wait for it to come back).
    #[arg(long)]
    pub no_failover: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `orrery node` and `orrery proxy`.
#[derive(Args, Debug)]
pub struct RoleArgs {
    /// This process's id: a node's id in the mapping (0 to --nodes − 1), or a proxy's (unique per proxy).
    #[arg(long, value_name = "ID")]
    pub id: u32,
    /// The node lease, as the coordinator's --lease-ms (a node that stalled for half of it checks the mapping
    /// before it ticks again).
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(500..=60_000))]
    pub lease_ms: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A multi-process role needs the real services: an in-process bus or a SQLite file cannot be shared.
fn require_services(args: &RunArgs, role: &str) -> Result<()> {
    if args.bus.is_none() {
        bail!("`orrery {role}` needs --bus nats://HOST:PORT (the roles of one cluster meet on a NATS server)");
    }
    match &args.db {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(()),
        _ => bail!("`orrery {role}` needs --store postgres://… (the roles of one cluster share a PostgreSQL server)"),
    }
}

pub fn coordinator(args: CoordinatorArgs) -> Result<()> {
    require_services(&args.run, "coordinator")?;
    runtime()?.block_on(async move {
        let mut config = cluster_config(&args.run)?;
        with_admin(&args.run, &mut config)?;
        config.coordinator_only = true;
        config.failover = !args.no_failover;
        config.lease = Duration::from_millis(args.lease_ms);
        config.mapping = Some(premap_on_a_blocking_thread(&config).await?);
        let (systems, nodes) = (config.universe.len(), config.nodes);
        let cluster = Cluster::start(config).await.context("starting the coordinator")?;
        println!("orrery coordinator: {systems} systems on {nodes} sol nodes, mapping epoch {}", cluster.epoch());
        if let Some(url) = cluster.admin_url() {
            println!("admin: {url}");
        }
        let fired = cluster.shutdown_fired();
        tokio::select! {
            () = wait_for_signal() => println!("signal received"),
            () = fired.cancelled() => println!("emergency shutdown fired"),
        }
        cluster.shutdown().await;
        println!("coordinator stopped");
        Ok(())
    })
}

pub fn node(args: RoleArgs) -> Result<()> {
    require_services(&args.run, "node")?;
    runtime()?.block_on(async move {
        let mut config = cluster_config(&args.run)?;
        config.lease = Duration::from_millis(args.lease_ms);
        let node =
            NodeProcess::start(&config, args.id).await.with_context(|| format!("starting sol node {}", args.id))?;
        println!("orrery node {}: {} systems, mapping epoch {}", args.id, node.systems(), node.epoch());
        wait_until_stopped(node.bus().as_ref()).await;
        node.shutdown().await;
        println!("node {} stopped: every ship stored", args.id);
        Ok(())
    })
}

pub fn proxy(args: RoleArgs) -> Result<()> {
    require_services(&args.run, "proxy")?;
    runtime()?.block_on(async move {
        let config = cluster_config(&args.run)?;
        let proxy =
            ProxyProcess::start(&config, args.id).await.with_context(|| format!("starting proxy {}", args.id))?;
        let ws = proxy.proxy().ws_addr().map_or("-".into(), |a| a.to_string());
        println!("orrery proxy {}: clients tcp://{} ws://{ws}", args.id, proxy.proxy().tcp_addr());
        wait_until_stopped(proxy.bus().as_ref()).await;
        proxy.shutdown().await;
        println!("proxy {} stopped", args.id);
        Ok(())
    })
}

/// `orrery market`.
#[derive(Args, Debug)]
pub struct MarketArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn market(args: MarketArgs) -> Result<()> {
    require_services(&args.run, "market")?;
    runtime()?.block_on(async move {
        let config = cluster_config(&args.run)?;
        let market = MarketProcess::start(&config, market_config(&args.run)).await.context("starting the market")?;
        println!("orrery market: serving the market subject");
        wait_until_stopped(market.bus().as_ref()).await;
        market.shutdown().await;
        println!("market stopped: everything committed");
        Ok(())
    })
}

/// Until Ctrl-C, SIGTERM, or the coordinator's emergency shutdown.
async fn wait_until_stopped(bus: &dyn orrery_bus::Bus) {
    let never = CancellationToken::new();
    tokio::select! {
        () = wait_for_signal() => println!("signal received"),
        () = cluster_going_down(bus, never) => println!("the cluster is going down"),
    }
}
