//! The coordinator's live placement: moving a system to another node while it runs, and giving a dead node's
//! systems to the living ones.
//!
//! **Live migration** (`move_system`), three steps on the bus with the coordinator as the only one who decides:
//! 1. *prepare* (to the destination): it subscribes to `system.<id>` and holds what arrives, then says so;
//! 2. *release* (to the source): between two ticks it stops the system and sends its whole state
//!    ([`orrery_proto::v1::SystemTransfer`]) to the destination, with the stamps of every message it received;
//! 3. the destination ticks on from the state, applying the transferred inbox and then what it held that the
//!    source had not received (per publisher, by stamp), and says so; the coordinator then stores the new
//!    mapping under the next epoch and tells everyone (`mapping_changed`).
//!
//! Clients address systems, never nodes, so nothing about them changes; a command sent during the move waits in
//! the destination's hold, it is neither lost nor applied twice.
//!
//! **Failover**: every node's reports are its heartbeat. A node that was heard and then stays silent for a lease
//! is dead: its systems go to the living nodes (least loaded first, neighbours of the system preferred), under
//! the next epoch, each with the ships the store has in space there. The new owner writes every restored ship
//! back with its handoff sequence one higher, so a late write from the old node — frozen, not dead — is refused
//! by the store; and a node whose own loop stalled for half a lease checks the mapping before it ticks again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use orrery_bus::Bus;
use orrery_proto::v1;
use orrery_store::Store;
use parking_lot::Mutex;
use prost::Message as _;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::node_reports::NodeReports;
use crate::runtime_systems::{SharedMapping, SharedUniverse};

/// How long each step of a move may take before the move is called off.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a move was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// No system has that id.
    #[error("no system {0}")]
    UnknownSystem(u32),
    /// No node has that id, or it is not alive (no recent report).
    #[error("node {0} is not a live node of this cluster")]
    UnknownNode(u32),
    /// The system is already on that node.
    #[error("system {system} is already on node {node}")]
    AlreadyThere {
        /// The system.
        system: u32,
        /// Its node.
        node: u32,
    },
    /// A move or failover of that system is under way.
    #[error("system {0} is already moving")]
    Moving(u32),
    /// A step failed or timed out; the message says which and why.
    #[error("{0}")]
    Failed(String),
}

/// What a finished move did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoveReport {
    /// The system moved.
    pub system_id: u32,
    /// Where it was.
    pub from_node: u32,
    /// Where it is.
    pub to_node: u32,
    /// The mapping epoch that records it.
    pub epoch: u64,
    /// From the release to the destination ticking it (the system's pause), in milliseconds.
    pub pause_ms: f64,
    /// The whole move, in milliseconds.
    pub total_ms: f64,
}

/// One failover, as operators and the chaos script read it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailoverRecord {
    /// The node that died.
    pub node: u32,
    /// Its systems and where each went.
    pub systems: Vec<(u32, u32)>,
    /// Ships restored from the store.
    pub ships: usize,
    /// From the node's last report to its systems being handed out, in milliseconds.
    pub recovered_after_ms: u64,
    /// Ticks lost, the most of any of its systems: from the dead node's last checkpoint that landed in the store
    /// to the hand-out, in that system's ticks — the ticks not run while it was down, and those run but not yet
    /// stored (their effects are undone: ships are restored as last stored). `None` when the node never
    /// reported a checkpoint.
    pub ticks_lost_max: Option<u64>,
    /// The same, averaged over its systems.
    pub ticks_lost_mean: Option<f64>,
    /// The epoch that records it.
    pub epoch: u64,
}

/// The coordinator's placement state and its bus conversations.
pub struct Coordinator {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    universe: SharedUniverse,
    node_of: SharedMapping,
    epoch: Arc<AtomicU64>,
    reports: NodeReports,
    nodes: u32,
    lease: Duration,
    /// Serialises changes of the mapping (a move and a failover never write epochs over each other).
    mapping_write: tokio::sync::Mutex<()>,
    /// Systems being moved or failed over.
    busy: Mutex<HashSet<u32>>,
    /// Moves waiting for a node's answer, by move id and step kind.
    waiting: Mutex<HashMap<(u64, Step), Answer>>,
    next_move: AtomicU64,
    /// Nodes declared dead (until they report again).
    dead: Mutex<HashSet<u32>>,
    /// Since when the coordinator has heard the nodes again after hearing none of them for half a lease (a bus
    /// that froze without dropping the connection looks like that): no node counts as silent for longer.
    hearing_since: Mutex<Option<Instant>>,
    failovers: Mutex<Vec<FailoverRecord>>,
    /// The rebalancer's moves, oldest first.
    rebalanced: Mutex<Vec<MoveReport>>,
}

/// When the coordinator moves systems by itself (`orrery coordinator --rebalance`).
#[derive(Debug, Clone, Copy)]
pub struct Rebalance {
    /// How often the nodes' demand is looked at; at most one move per node per interval.
    pub every: Duration,
    /// A node's demand (CPU share of one core, from its reports) above which it counts as overloaded.
    pub budget: f64,
    /// How many looks in a row a node must be overloaded before a system leaves it.
    pub sustained: u32,
    /// How many intervals a system moved by the rebalancer stays where it was put.
    pub cooldown: u32,
    /// How much a move must lower the busier node's demand (of the two) to be worth a pause.
    pub min_gain: f64,
}

impl Default for Rebalance {
    fn default() -> Rebalance {
        Rebalance { every: Duration::from_secs(5), budget: 0.8, sustained: 3, cooldown: 12, min_gain: 0.05 }
    }
}

/// Demand per node and per system (share of one core), from the latest reports of live nodes.
#[derive(Debug, Default, Clone)]
struct Demand {
    by_node: BTreeMap<u32, f64>,
    systems: BTreeMap<u32, Vec<(u32, f64)>>,
}

/// The move that best relieves the busiest overloaded node: a system of it to the node where the larger of
/// the two demands afterwards is smallest, if that is lower than before by at least `min_gain`. Systems in
/// `resting` stay. Pure, so that the rule is tested apart from the bus.
fn relieving_move(
    demand: &Demand,
    overloaded: &[u32],
    resting: &HashSet<u32>,
    min_gain: f64,
) -> Option<(u32, u32, u32)> {
    let mut best: Option<(f64, u32, u32, u32)> = None;
    for &from in overloaded {
        let before = demand.by_node.get(&from).copied().unwrap_or(0.0);
        for &(system, cost) in demand.systems.get(&from).into_iter().flatten() {
            if resting.contains(&system) {
                continue;
            }
            for (&to, &load) in &demand.by_node {
                if to == from {
                    continue;
                }
                let after = (before - cost).max(load + cost);
                if after + min_gain <= before && best.is_none_or(|(score, ..)| after < score) {
                    best = Some((after, system, from, to));
                }
            }
        }
    }
    best.map(|(_, system, from, to)| (system, from, to))
}

/// Where a node's answer to one step of a move goes: `Ok`, or why the step failed.
type Answer = oneshot::Sender<Result<(), String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Step {
    Prepared,
    Moved,
}

impl Coordinator {
    /// A coordinator over `nodes` nodes, sharing the cluster's mapping, epoch and report board.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        universe: SharedUniverse,
        node_of: SharedMapping,
        epoch: Arc<AtomicU64>,
        reports: NodeReports,
        nodes: u32,
        lease: Duration,
    ) -> Arc<Coordinator> {
        Arc::new(Coordinator {
            store,
            bus,
            universe,
            node_of,
            epoch,
            reports,
            nodes,
            lease,
            mapping_write: tokio::sync::Mutex::new(()),
            busy: Mutex::new(HashSet::new()),
            waiting: Mutex::new(HashMap::new()),
            next_move: AtomicU64::new(1),
            dead: Mutex::new(HashSet::new()),
            hearing_since: Mutex::new(None),
            failovers: Mutex::new(Vec::new()),
            rebalanced: Mutex::new(Vec::new()),
        })
    }

    /// Move systems off overloaded nodes by itself, every `rule.every`, until `stop` (see [`Rebalance`]).
    pub fn start_rebalancing(self: Arc<Self>, rule: Rebalance, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut looks = tokio::time::interval(rule.every);
            looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut overloaded_for: HashMap<u32, u32> = HashMap::new();
            let mut resting: HashMap<u32, u32> = HashMap::new();
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = looks.tick() => {}
                }
                resting.retain(|_, left| {
                    *left = left.saturating_sub(1);
                    *left > 0
                });
                let demand = self.demand();
                for (&node, &load) in &demand.by_node {
                    let count = overloaded_for.entry(node).or_default();
                    *count = if load > rule.budget { *count + 1 } else { 0 };
                }
                let overloaded: Vec<u32> =
                    overloaded_for.iter().filter(|&(_, &n)| n >= rule.sustained).map(|(&node, _)| node).collect();
                let still: HashSet<u32> = resting.keys().copied().collect();
                let Some((system, from, to)) = relieving_move(&demand, &overloaded, &still, rule.min_gain) else {
                    continue;
                };
                tracing::warn!(
                    system,
                    from,
                    to,
                    load = demand.by_node[&from],
                    "rebalancing: moving a system off an overloaded node"
                );
                match self.move_system(system, to).await {
                    Ok(report) => {
                        resting.insert(system, rule.cooldown);
                        overloaded_for.insert(from, 0);
                        self.rebalanced.lock().push(report);
                    }
                    Err(problem) => tracing::error!(system, %problem, "rebalancing move failed"),
                }
            }
        });
    }

    /// Run the operators' move requests from the store (`system_moves` rows, the SQL way to do what
    /// `POST /api/v1/systems/{id}/move` does), reading it every `every` until `stop`; each row gets its
    /// outcome: the move's report as JSON, or `error: …`.
    pub fn watch_move_requests(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut reads = tokio::time::interval(every);
            reads.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = reads.tick() => {}
                }
                let requests = match self.store.pending_moves().await {
                    Ok(requests) => requests,
                    Err(problem) => {
                        tracing::error!(%problem, "cannot read move requests");
                        continue;
                    }
                };
                for request in requests {
                    let outcome = match self.move_system(request.system_id, request.node_id).await {
                        Ok(report) => serde_json::to_string(&report).unwrap_or_else(|e| format!("error: {e}")),
                        Err(problem) => format!("error: {problem}"),
                    };
                    tracing::info!(move_id = request.move_id, system = request.system_id, node = request.node_id, %outcome, "move requested by SQL");
                    if let Err(problem) = self.store.finish_move(request.move_id, &outcome).await {
                        tracing::error!(move_id = request.move_id, %problem, "cannot record a move's outcome");
                    }
                }
            }
        });
    }

    /// The moves the rebalancer made, oldest first.
    pub fn rebalanced(&self) -> Vec<MoveReport> {
        self.rebalanced.lock().clone()
    }

    fn demand(&self) -> Demand {
        let mut demand = Demand::default();
        for report in self.reports.latest() {
            if !self.alive(report.node_id) {
                continue;
            }
            let systems: Vec<(u32, f64)> =
                report.systems.iter().map(|s| (s.system_id, s.tick_work_ms / f64::from(s.tick_ms.max(1)))).collect();
            demand.by_node.insert(report.node_id, systems.iter().map(|&(_, cost)| cost).sum());
            demand.systems.insert(report.node_id, systems);
        }
        demand
    }

    /// Listen for the nodes' answers (and, with `failover`, watch the leases) until `stop`.
    pub async fn run(self: Arc<Self>, failover: bool, stop: CancellationToken) -> Result<(), orrery_bus::BusError> {
        let mut answers = self.bus.subscribe(orrery_proto::COORDINATOR_SUBJECT).await?;
        let mut leases = tokio::time::interval(Duration::from_millis(250));
        leases.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    message = answers.next() => match message {
                        Some(message) => self.on_answer(&message),
                        None => return,
                    },
                    _ = leases.tick(), if failover => self.check_leases().await,
                }
            }
        });
        Ok(())
    }

    /// The failovers so far, oldest first.
    pub fn failovers(&self) -> Vec<FailoverRecord> {
        self.failovers.lock().clone()
    }

    /// The mapping's current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    fn on_answer(&self, message: &[u8]) {
        use v1::coordinator_inbox::Body;
        let Ok(v1::CoordinatorInbox { body: Some(body) }) =
            orrery_proto::frame::decode::<v1::CoordinatorInbox>(message)
        else {
            tracing::warn!("undecodable coordinator message ignored");
            return;
        };
        let (key, result) = match body {
            Body::Prepared(step) => ((step.move_id, Step::Prepared), Ok(())),
            Body::Moved(step) => ((step.move_id, Step::Moved), Ok(())),
            Body::Failed(failed) => {
                let step = failed.step.unwrap_or_default();
                // A failure answers whichever step is waiting.
                let key = if self.waiting.lock().contains_key(&(step.move_id, Step::Prepared)) {
                    (step.move_id, Step::Prepared)
                } else {
                    (step.move_id, Step::Moved)
                };
                (key, Err(failed.reason))
            }
        };
        if let Some(waiter) = self.waiting.lock().remove(&key) {
            let _ = waiter.send(result);
        }
    }

    /// A node is alive when its latest report is younger than the lease.
    fn alive(&self, node: u32) -> bool {
        node < self.nodes && self.reports.heard(node).is_some_and(|heard| heard.at.elapsed() < self.lease)
    }

    /// Move `system_id` to `to_node` while it runs (see the module's description).
    pub async fn move_system(&self, system_id: u32, to_node: u32) -> Result<MoveReport, MoveError> {
        let started = Instant::now();
        let from_node = self.node_of.read().get(&system_id).copied().ok_or(MoveError::UnknownSystem(system_id))?;
        if to_node >= self.nodes || !self.alive(to_node) {
            return Err(MoveError::UnknownNode(to_node));
        }
        if from_node == to_node {
            return Err(MoveError::AlreadyThere { system: system_id, node: to_node });
        }
        if !self.alive(from_node) {
            return Err(MoveError::Failed(format!("system {system_id}'s node {from_node} is not alive")));
        }
        if !self.busy.lock().insert(system_id) {
            return Err(MoveError::Moving(system_id));
        }
        let result = self.run_move(system_id, from_node, to_node, started).await;
        self.busy.lock().remove(&system_id);
        result
    }

    async fn run_move(
        &self,
        system_id: u32,
        from_node: u32,
        to_node: u32,
        started: Instant,
    ) -> Result<MoveReport, MoveError> {
        use v1::node_inbox::Body;
        let move_id = self.next_move.fetch_add(1, Ordering::Relaxed);
        let step = v1::MoveStep { move_id, system_id, from_node, to_node };
        self.ask(to_node, Body::Prepare(step), (move_id, Step::Prepared)).await.inspect_err(|_| {
            let bus = self.bus.clone();
            tokio::spawn(async move { send(bus.as_ref(), to_node, Body::Abandon(step)).await });
        })?;
        let released = Instant::now();
        if let Err(problem) = self.ask(from_node, Body::Release(step), (move_id, Step::Moved)).await {
            // The source may have let go: the store's copy is the truth now, on the node that was to take it.
            tracing::error!(system = system_id, %problem, "move failed after the release: restoring the system from the store");
            let _guard = self.mapping_write.lock().await;
            self.hand_out(&[(system_id, to_node)], true).await.map_err(MoveError::Failed)?;
            return Err(problem);
        }
        let pause_ms = released.elapsed().as_secs_f64() * 1000.0;
        let epoch = {
            let _guard = self.mapping_write.lock().await;
            self.record(&[(system_id, to_node)]).await.map_err(MoveError::Failed)?
        };
        tracing::info!(system = system_id, from = from_node, to = to_node, epoch, pause_ms, "system moved live");
        Ok(MoveReport {
            system_id,
            from_node,
            to_node,
            epoch,
            pause_ms,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Send `body` to `node` and wait for the answer `key`.
    async fn ask(&self, node: u32, body: v1::node_inbox::Body, key: (u64, Step)) -> Result<(), MoveError> {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().insert(key, tx);
        send(self.bus.as_ref(), node, body).await;
        let answer = tokio::time::timeout(STEP_TIMEOUT, rx).await;
        self.waiting.lock().remove(&key);
        match answer {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(reason))) => Err(MoveError::Failed(reason)),
            Ok(Err(_)) | Err(_) => {
                Err(MoveError::Failed(format!("node {node} did not answer within {STEP_TIMEOUT:?}")))
            }
        }
    }

    /// Store `changes` (system, node) under the next epoch and tell everyone. The caller holds `mapping_write`.
    async fn record(&self, changes: &[(u32, u32)]) -> Result<u64, String> {
        let assignments: Vec<(u32, u32)> = {
            let mut node_of = self.node_of.write();
            for &(system, node) in changes {
                node_of.insert(system, node);
            }
            let sorted: BTreeMap<u32, u32> = node_of.iter().map(|(&s, &n)| (s, n)).collect();
            sorted.into_iter().collect()
        };
        let epoch = self.epoch.load(Ordering::Relaxed) + 1;
        self.store
            .save_mapping(epoch, &assignments)
            .await
            .map_err(|problem| format!("storing the mapping: {problem}"))?;
        self.epoch.store(epoch, Ordering::Relaxed);
        let event = v1::ClusterEvent { body: Some(v1::cluster_event::Body::MappingChanged(epoch)) };
        if let Err(problem) = self.bus.publish(orrery_proto::CLUSTER_SUBJECT, Bytes::from(event.encode_to_vec())).await
        {
            tracing::error!(%problem, "mapping change not announced");
        }
        Ok(epoch)
    }

    /// Give `systems` (system, node) to their new nodes from the store: the mapping first (the fence), then the
    /// systems with the ships the store has in space there. Returns the epoch and the ships restored.
    async fn hand_out(&self, systems: &[(u32, u32)], failover: bool) -> Result<(u64, usize), String> {
        let epoch = self.record(systems).await?;
        let universe = self.universe.read().clone();
        let hosts = host_messages(self.store.as_ref(), &universe, systems, epoch, failover).await?;
        let restored = hosts.iter().map(|(_, host)| host.ships.len()).sum();
        for (node, host) in hosts {
            send(self.bus.as_ref(), node, v1::node_inbox::Body::Host(host)).await;
        }
        Ok((epoch, restored))
    }

    /// Declare dead every node that was heard and then silent for a lease, and hand its systems out.
    ///
    /// Silence is counted only while the coordinator itself could hear (see [`silence`]).
    async fn check_leases(&self) {
        let bus = self.bus.health();
        let freshest =
            (0..self.nodes).filter_map(|node| self.reports.heard(node)).map(|heard| heard.at.elapsed()).min();
        let hearing_for = {
            let mut since = self.hearing_since.lock();
            match freshest {
                // No node heard for half a lease: the coordinator is probably the one not hearing.
                Some(freshest) if freshest > self.lease / 2 => *since = None,
                Some(_) if since.is_none() => *since = Some(Instant::now()),
                _ => {}
            }
            since.map(|since| since.elapsed())
        };
        for node in 0..self.nodes {
            let Some(heard) = self.reports.heard(node) else { continue };
            let Some(silent) = silence(heard.at.elapsed(), &bus, hearing_for) else { return };
            if silent < self.lease {
                if self.dead.lock().remove(&node) {
                    tracing::info!(node, "node reports again: it may host systems again");
                }
                continue;
            }
            if !self.dead.lock().insert(node) {
                continue;
            }
            tracing::error!(
                node,
                silent_ms = silent.as_millis() as u64,
                "node lease expired: failing its systems over"
            );
            if let Err(problem) = self.fail_over(node, heard.at).await {
                tracing::error!(node, %problem, "failover failed: will retry");
                self.dead.lock().remove(&node);
            }
        }
    }

    async fn fail_over(&self, dead: u32, last_heard: Instant) -> Result<(), String> {
        let _guard = self.mapping_write.lock().await;
        let orphans: Vec<u32> = {
            let node_of = self.node_of.read();
            let mut orphans: Vec<u32> = node_of.iter().filter(|&(_, &n)| n == dead).map(|(&s, _)| s).collect();
            orphans.sort_unstable();
            orphans
        };
        if orphans.is_empty() {
            return Ok(());
        }
        let survivors: Vec<u32> = (0..self.nodes).filter(|&n| n != dead && self.alive(n)).collect();
        if survivors.is_empty() {
            return Err(format!("no live node to take node {dead}'s {} systems", orphans.len()));
        }
        let placement = self.place(&orphans, &survivors);
        let (epoch, ships) = self.hand_out(&placement, true).await?;
        let lost = self.reports.heard(dead).map(|heard| ticks_lost(&heard.report, unix_ms())).unwrap_or_default();
        let record = FailoverRecord {
            node: dead,
            systems: placement.clone(),
            ships,
            recovered_after_ms: last_heard.elapsed().as_millis() as u64,
            epoch,
            ticks_lost_max: lost.iter().copied().max(),
            ticks_lost_mean: (!lost.is_empty()).then(|| lost.iter().sum::<u64>() as f64 / lost.len() as f64),
        };
        tracing::warn!(
            node = dead,
            systems = placement.len(),
            ships,
            epoch,
            recovered_after_ms = record.recovered_after_ms,
            ticks_lost_max = record.ticks_lost_max.unwrap_or(0),
            ticks_lost_mean = record.ticks_lost_mean.unwrap_or(0.0),
            "node failed over"
        );
        self.failovers.lock().push(record);
        Ok(())
    }

    /// Where each orphaned system goes: the least-loaded survivor (systems counted, weighted by their ships),
    /// preferring among those within one system of it the one hosting most of the system's neighbours.
    fn place(&self, orphans: &[u32], survivors: &[u32]) -> Vec<(u32, u32)> {
        let universe = self.universe.read().clone();
        let mut load: HashMap<u32, f64> = survivors.iter().map(|&n| (n, 0.0)).collect();
        for report in self.reports.latest() {
            if let Some(total) = load.get_mut(&report.node_id) {
                *total += report.systems.iter().map(|s| 1.0 + s.ships as f64 / 10.0).sum::<f64>();
            }
        }
        let mut node_of = self.node_of.read().clone();
        let mut placement = Vec::with_capacity(orphans.len());
        for &system in orphans {
            let neighbours: Vec<u32> = universe
                .index_of(orrery_universe::SystemId(system))
                .map(|index| universe.neighbours(index).iter().map(|&n| universe.system(n).id.0).collect())
                .unwrap_or_default();
            let least = survivors.iter().map(|n| load[n]).fold(f64::INFINITY, f64::min);
            let best = survivors
                .iter()
                .filter(|n| load[n] <= least + 1.0)
                .max_by_key(|&&n| {
                    (neighbours.iter().filter(|s| node_of.get(s) == Some(&n)).count(), std::cmp::Reverse(n))
                })
                .copied()
                .unwrap_or(survivors[0]);
            *load.entry(best).or_default() += 1.0;
            node_of.insert(system, best);
            placement.push((system, best));
        }
        placement
    }
}

/// Send `body` to node `node`'s inbox (`node.<id>`); a failure is logged (the step that waits for an answer
/// times out).
pub(crate) async fn send(bus: &dyn Bus, node: u32, body: v1::node_inbox::Body) {
    let payload = Bytes::from(v1::NodeInbox { body: Some(body) }.encode_to_vec());
    if let Err(problem) = bus.publish(&orrery_proto::node_subject(node), payload).await {
        tracing::error!(node, %problem, "message to a node not sent");
    }
}

/// The `HostSystem` message for each of `systems` (system, node) of `universe`: its scenery and the ships the
/// store has in space there (what a dead node, or a whole cluster that stopped uncleanly, left), under `epoch`.
/// Systems not in `universe` are left out (logged).
pub(crate) async fn host_messages(
    store: &dyn Store,
    universe: &orrery_universe::Universe,
    systems: &[(u32, u32)],
    epoch: u64,
    failover: bool,
) -> Result<Vec<(u32, v1::HostSystem)>, String> {
    let wanted: HashSet<u32> = systems.iter().map(|&(system, _)| system).collect();
    let rows = store.ships_in_space().await.map_err(|problem| format!("reading ships in space: {problem}"))?;
    let mut ships: HashMap<u32, Vec<v1::ShipRecord>> = HashMap::new();
    for row in rows.into_iter().filter(|row| wanted.contains(&row.system_id)) {
        let pilot = match store.character(row.character_id).await {
            Ok(Some(character)) => character.name,
            _ => String::new(),
        };
        ships.entry(row.system_id).or_default().push(orrery_proxy::ship_record(&row, &pilot));
    }
    let mut hosts = Vec::with_capacity(systems.len());
    for &(system_id, node) in systems {
        let Some(index) = universe.index_of(orrery_universe::SystemId(system_id)) else {
            tracing::warn!(node, system = system_id, "mapped system not in this universe: left out");
            continue;
        };
        let layout = orrery_sim::SystemLayout::generate(universe, index).map_err(|problem| problem.to_string())?;
        let host = v1::HostSystem {
            system_id,
            name: layout.name.clone(),
            celestials: layout.celestials.iter().map(orrery_node::celestial_message).collect(),
            ships: ships.remove(&system_id).unwrap_or_default(),
            epoch,
            failover,
        };
        hosts.push((node, host));
    }
    Ok(hosts)
}

/// For each system of a dead node's last `report`, the ticks lost if it is restored at `now_ms` (ms since the
/// Unix epoch): the time since the node's last stored checkpoint, in that system's nominal ticks. Empty when
/// the node never reported a stored checkpoint.
fn ticks_lost(report: &orrery_node::NodeReport, now_ms: u64) -> Vec<u64> {
    if report.last_checkpoint_unix_ms == 0 {
        return Vec::new();
    }
    let since = now_ms.saturating_sub(report.last_checkpoint_unix_ms);
    report.systems.iter().map(|system| since.div_ceil(u64::from(system.tick_ms.max(1)))).collect()
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// How long a node last heard `heard_ago` counts as silent: not at all while the coordinator's own bus
/// connection is down, or while it hears no node at all (`hearing_for` is `None`: a bus frozen without a
/// disconnect looks like every node dying at once, and then nobody is left to take their systems anyway); and
/// never longer than the coordinator has been hearing again (after an outage every node gets a full lease to be
/// heard: the nodes did not die because the coordinator could not hear them).
fn silence(heard_ago: Duration, bus: &orrery_bus::BusHealth, hearing_for: Option<Duration>) -> Option<Duration> {
    let hearing_for = hearing_for?;
    bus.connected.then(|| heard_ago.min(bus.since.elapsed()).min(hearing_for))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_lost_count_from_the_last_stored_checkpoint_in_each_systems_ticks() {
        let system = |system_id, tick_ms| orrery_node::SystemReport {
            system_id,
            ships: 1,
            factor: 1.0,
            tick_work_ms: 0.0,
            failed: false,
            tick_ms,
            max_players: u32::MAX,
            queued: 0,
            kills: 0,
        };
        let mut report = orrery_node::NodeReport {
            systems: vec![system(1, 1000), system(2, 100)],
            last_checkpoint_unix_ms: 50_000,
            ..orrery_node::NodeReport::default()
        };
        assert_eq!(ticks_lost(&report, 54_500), vec![5, 45]);
        report.last_checkpoint_unix_ms = 0;
        assert!(ticks_lost(&report, 54_500).is_empty(), "unknown without a stored checkpoint");
    }

    #[test]
    fn a_node_is_not_silent_while_the_coordinator_cannot_hear_it() {
        let long_ago = Duration::from_secs(30);
        let up_since = |ago: Duration| orrery_bus::BusHealth {
            connected: true,
            disconnects: 1,
            since: Instant::now() - ago,
            unsent: 0,
        };
        let hearing = Some(long_ago);
        // Connected and hearing all along: silence is the time since the node was heard.
        let silent = silence(Duration::from_secs(3), &up_since(long_ago), hearing).expect("judged");
        assert!(silent >= Duration::from_secs(3) && silent < long_ago);
        // Back on the bus 100 ms ago after a long outage: nobody has been silent longer than that.
        let silent = silence(long_ago, &up_since(Duration::from_millis(100)), hearing).expect("judged");
        assert!(silent < Duration::from_secs(1), "{silent:?}");
        // Off the bus: nobody is judged.
        let down = orrery_bus::BusHealth { connected: false, ..up_since(long_ago) };
        assert_eq!(silence(long_ago, &down, hearing), None);
        // Hearing no node at all (a frozen bus that still looks connected): nobody is judged; once nodes are
        // heard again, nobody has been silent for longer than that.
        assert_eq!(silence(long_ago, &up_since(long_ago), None), None);
        let silent = silence(long_ago, &up_since(long_ago), Some(Duration::from_millis(300))).expect("judged");
        assert_eq!(silent, Duration::from_millis(300));
    }

    fn demand(nodes: &[(u32, &[(u32, f64)])]) -> Demand {
        let mut demand = Demand::default();
        for &(node, systems) in nodes {
            demand.by_node.insert(node, systems.iter().map(|&(_, c)| c).sum());
            demand.systems.insert(node, systems.to_vec());
        }
        demand
    }

    #[test]
    fn a_hot_system_leaves_a_node_with_two_for_the_idle_one() {
        let d = demand(&[(0, &[(1, 0.5), (2, 0.5), (3, 0.01)]), (1, &[(4, 0.02)])]);
        assert_eq!(relieving_move(&d, &[0], &HashSet::new(), 0.05), Some((1, 0, 1)));
    }

    #[test]
    fn a_system_too_hot_for_any_node_stays_and_quiet_ones_do_not_churn() {
        // Moving the 1.5 would only overload the other node; moving a 0.001 gains nothing worth a pause.
        let d = demand(&[(0, &[(1, 1.5), (2, 0.001)]), (1, &[(3, 0.1)])]);
        assert_eq!(relieving_move(&d, &[0], &HashSet::new(), 0.05), None);
    }

    #[test]
    fn balanced_nodes_do_not_flap_and_resting_systems_stay() {
        let d = demand(&[(0, &[(1, 0.5)]), (1, &[(2, 0.5)])]);
        assert_eq!(relieving_move(&d, &[0, 1], &HashSet::new(), 0.05), None, "moving back would not help");
        let d = demand(&[(0, &[(1, 0.5), (2, 0.5)]), (1, &[])]);
        assert_eq!(relieving_move(&d, &[0], &[1, 2].into_iter().collect(), 0.05), None);
    }
}
