//! The roles as processes of their own, for a cluster that spans processes and machines over a NATS server and
//! a PostgreSQL server: a sol node (`orrery node --id K`) and a proxy (`orrery proxy --id P`). The coordinator is
//! [`crate::Cluster`] with [`crate::ClusterConfig::coordinator_only`].
//!
//! A node process reads the mapping from the store (waiting for the coordinator to store one), hosts the
//! systems it gives the node with the ships the store has in space there, and from then on follows its inbox:
//! systems handed to it (failover, systems added at runtime) and live migrations. A proxy process needs no
//! mapping at all: sessions address systems, never nodes.

use std::sync::Arc;
use std::time::Duration;

use orrery_bus::Bus;
use orrery_node::{NodeConfig, NodeHandle, PersistStats};
use orrery_proto::v1;
use orrery_proxy::ProxyHandle;
use orrery_store::Store;
use tokio_util::sync::CancellationToken;

use crate::{ClusterConfig, ClusterError, connect_bus, start_proxy};

/// How long a node process waits for the coordinator to store a mapping before it gives up.
const MAPPING_WAIT: Duration = Duration::from_secs(120);

/// A sol node running as a process of its own.
pub struct NodeProcess {
    node: NodeHandle,
    persister: orrery_node::Persister,
    persist_worker: tokio::task::JoinHandle<()>,
    bus: Arc<dyn Bus>,
    systems: usize,
    epoch: u64,
}

impl NodeProcess {
    /// Connect to the store and the bus, wait for a mapping, and host node `node_id`'s systems.
    pub async fn start(config: &ClusterConfig, node_id: u32) -> Result<NodeProcess, ClusterError> {
        let store = orrery_store::open(&config.db_url).await?;
        let bus = connect_bus(config.bus_url.as_deref(), &config.cluster_name).await?;
        let mapping = wait_for_mapping(store.as_ref()).await?;
        let mine: Vec<u32> =
            mapping.assignments.iter().filter(|&&(_, node)| node == node_id).map(|&(system, _)| system).collect();
        let stats = Arc::new(PersistStats::default());
        let (persister, persist_worker) = orrery_node::spawn_worker(store.clone(), bus.clone(), stats.clone(), None);
        let mut node_config = NodeConfig::new(node_id, config.tick_ms);
        node_config.checkpoint_every = config.checkpoint_every;
        node_config.allow_fault_injection = config.allow_fault_injection;
        node_config.sim_speed = config.sim_speed;
        node_config.system_tick_ms = config.system_tick_ms.clone();
        node_config.lease = config.lease;
        node_config.mapping_store = Some((store.clone(), tokio::runtime::Handle::current()));
        node_config.persist_stats = Some(stats);
        let node = orrery_node::start(node_config, bus.clone(), Vec::new(), persister.clone()).await?;
        host_own_systems(store.as_ref(), bus.as_ref(), config, node_id, &mine, mapping.epoch).await?;
        tracing::info!(node = node_id, systems = mine.len(), epoch = mapping.epoch, "sol node process hosting");
        Ok(NodeProcess { node, persister, persist_worker, bus, systems: mine.len(), epoch: mapping.epoch })
    }

    /// How many systems the mapping gave this node at start.
    pub fn systems(&self) -> usize {
        self.systems
    }

    /// The mapping epoch read at start.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The bus this process is on (to follow cluster events, e.g. an emergency shutdown).
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Stop ticking, store every ship out of space, wait until it is written.
    pub async fn shutdown(self) {
        self.node.stop().await;
        drop(self.persister);
        let _ = self.persist_worker.await;
    }
}

/// The stored mapping, once the coordinator has stored one.
async fn wait_for_mapping(store: &dyn Store) -> Result<orrery_store::MappingRecord, ClusterError> {
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        if let Some(mapping) = store.load_mapping().await? {
            return Ok(mapping);
        }
        if started.elapsed() > MAPPING_WAIT {
            return Err(ClusterError::Config(format!(
                "no mapping in the store after {}s: start the coordinator (`orrery coordinator`) on the same store",
                MAPPING_WAIT.as_secs()
            )));
        }
        if !told {
            tracing::info!("waiting for the coordinator to store a mapping");
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Send the node its systems as `HostSystem` messages (the path a failover takes too), each with the ships the
/// store has in space there: what a crash of the whole cluster left, restored as of the last checkpoint.
async fn host_own_systems(
    store: &dyn Store,
    bus: &dyn Bus,
    config: &ClusterConfig,
    node_id: u32,
    systems: &[u32],
    epoch: u64,
) -> Result<(), ClusterError> {
    let mine: Vec<(u32, u32)> = systems.iter().map(|&system| (system, node_id)).collect();
    let hosts = crate::coordinator::host_messages(store, &config.universe, &mine, epoch, false)
        .await
        .map_err(ClusterError::Config)?;
    for (node, host) in hosts {
        crate::coordinator::send(bus, node, v1::node_inbox::Body::Host(host)).await;
    }
    Ok(())
}

/// A proxy running as a process of its own.
pub struct ProxyProcess {
    proxy: ProxyHandle,
    bus: Arc<dyn Bus>,
}

impl ProxyProcess {
    /// Connect to the store and the bus and accept clients on the config's addresses as proxy `proxy_id`
    /// (unique in the cluster: nodes answer a session at `proxy.<id>`).
    pub async fn start(config: &ClusterConfig, proxy_id: u32) -> Result<ProxyProcess, ClusterError> {
        let store = orrery_store::open(&config.db_url).await?;
        let bus = connect_bus(config.bus_url.as_deref(), &config.cluster_name).await?;
        let proxy = start_proxy(config, proxy_id, &bus, &store).await?;
        Ok(ProxyProcess { proxy, bus })
    }

    /// The proxy, for its addresses and counters.
    pub fn proxy(&self) -> &ProxyHandle {
        &self.proxy
    }

    /// The bus this process is on.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Stop accepting, close every session (their ships leave space and are stored).
    pub async fn shutdown(self) {
        self.proxy.shutdown().await;
    }
}

/// The market role as a process of its own (`orrery market`).
pub struct MarketProcess {
    market: orrery_market_role::MarketHandle,
    bus: Arc<dyn Bus>,
}

impl MarketProcess {
    /// Connect to the store and the bus, replay and check the market's log, and serve the `market` subject.
    /// Only one market role may run per cluster: a second one's first commit is refused by the store (the log
    /// sequence is taken) and it stops.
    pub async fn start(
        config: &ClusterConfig,
        market: orrery_market_role::RoleConfig,
    ) -> Result<MarketProcess, ClusterError> {
        let store = orrery_store::open(&config.db_url).await?;
        let bus = connect_bus(config.bus_url.as_deref(), &config.cluster_name).await?;
        let market = orrery_market_role::start(bus.clone(), store, &config.universe, market)
            .await
            .map_err(|problem| ClusterError::Config(format!("starting the market: {problem}")))?;
        Ok(MarketProcess { market, bus })
    }

    /// The bus this process is on.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Commit what is pending, answer, stop.
    pub async fn shutdown(self) {
        self.market.shutdown().await;
    }
}

/// Completes when the coordinator announces that the cluster is going down (an emergency shutdown that fired),
/// or when `stop` is cancelled.
pub async fn cluster_going_down(bus: &dyn Bus, stop: CancellationToken) {
    let Ok(mut events) = bus.subscribe(orrery_proto::CLUSTER_SUBJECT).await else {
        stop.cancelled().await;
        return;
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            event = events.next() => match event {
                None => return stop.cancelled().await,
                Some(event) => {
                    if let Ok(v1::ClusterEvent { body: Some(v1::cluster_event::Body::ShuttingDown(_)) }) =
                        orrery_proto::frame::decode::<v1::ClusterEvent>(&event)
                    {
                        return;
                    }
                }
            },
        }
    }
}
