//! A sol node: one OS thread, one core, hosting a set of solar systems. Each system has an inbox on the bus
//! (`system.<id>`) and a tick: apply the queued messages in arrival order, step the simulation by the
//! nominal tick length, publish one delta. Slow work — writing to the store — is handed to a worker on
//! another runtime; the tick thread never waits for a database.
//!
//! Time Dilation: the node measures every tick's work. While its systems fit its CPU budget every system
//! ticks at full speed; when they don't, [`orrery_sim::tidi::TidiController`] gives each system a fair share
//! and a system that needs more than its share ticks less often in wall time (its clock runs at the factor,
//! never below the floor), while quiet systems keep 1.0. No command is dropped: they wait for the next tick.
//! With every Time Dilation update the node publishes its [`NodeReport`] on `node.<id>.report`: the
//! coordinator's only view of its health, and its heartbeat.
//!
//! A panic in one system's tick is caught: the system is marked failed (its commands are answered
//! UNAVAILABLE), the panic is logged, and the node's other systems keep ticking.

mod convert;
mod hosted;
pub mod persist;
mod report;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orrery_bus::Bus;
use orrery_proto::v1;
use orrery_sim::tidi::{TidiConfig, TidiController};
use orrery_sim::{SystemLayout, SystemSim};
use tokio::sync::oneshot;

use hosted::{Hosted, TickContext, TickEffects};
pub use persist::{PersistJob, PersistStats, Persister, spawn_worker};
pub use report::{NodeReport, SystemReport};

/// Whether a message on `subject` must reach its receiver even if the bus was down when it was sent: a system's
/// inbox (`system.<id>`: handoffs, forwarded commands) and a proxy's (`proxy.<id>`: answers, arrivals), not a
/// delta (`system.<id>.delta`), which the next one supersedes.
fn must_arrive(subject: &str) -> bool {
    let mut tokens = subject.split('.');
    matches!((tokens.next(), tokens.next(), tokens.next()), (Some("system" | "proxy"), Some(_), None))
}

/// How long a node waits for the mapping when it checks whether it lost systems (after a stall or a bus
/// outage); past it the node keeps its systems (the store's handoff fence still refuses its writes of any it
/// lost) and checks again after the next stall.
const MAPPING_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// A celestial as clients and the bus see it (positions rounded to metres): the coordinator sends the scenery
/// of systems added at runtime in this form.
pub fn celestial_message(celestial: &orrery_sim::Celestial) -> v1::Celestial {
    convert::celestial(celestial)
}

/// How a node runs.
#[derive(Clone)]
pub struct NodeConfig {
    /// This node's id, as the mapping and the operators' reports name it.
    pub node_id: u32,
    /// Nominal tick length of every system (wall time at factor 1.0), unless `system_tick_ms` names it.
    pub tick_ms: u32,
    /// Per-system tick lengths (e.g. 100 ms for an arena that needs 10 Hz), by system id.
    pub system_tick_ms: std::collections::HashMap<u32, u32>,
    /// When and how far Time Dilation slows a system that cannot keep up with its ticks.
    pub tidi: TidiConfig,
    /// How often every ship is checkpointed to the store.
    pub checkpoint_every: Duration,
    /// How often Time Dilation factors are recomputed.
    pub tidi_every: Duration,
    /// Honour `InjectFault` messages (test clusters only).
    pub allow_fault_injection: bool,
    /// Simulation time per tick relative to the tick length: 1.0 in production; tests and demos may
    /// fast-forward (10.0 makes a 100 ms tick advance 1 s of simulation).
    pub sim_speed: f64,
    /// Timing tables (when switched on) per system and per message type.
    pub profiler: Option<Arc<orrery_telemetry::Profiler>>,
    /// Tick counts, durations and lateness.
    pub metrics: Option<Arc<orrery_telemetry::Metrics>>,
    /// The node lease: how long the coordinator waits after the node's last report before giving its systems
    /// to other nodes. A node whose own loop stalled for half of it (a frozen process, a stopped VM) assumes it
    /// may have lost them: before ticking again it reads the mapping from `mapping_store` and drops every system
    /// the mapping no longer gives it.
    pub lease: Duration,
    /// Where the mapping is read after a stall (the store, and the runtime its pool lives on); `None` keeps
    /// every system (a cluster without failover, e.g. a test of one node).
    pub mapping_store: Option<(Arc<dyn orrery_store::Store>, tokio::runtime::Handle)>,
    /// The checkpoint writer's counters, put in the node's reports so operators see a store outage and the
    /// rows it holds back; `None` reports zeros.
    pub persist_stats: Option<Arc<PersistStats>>,
}

impl NodeConfig {
    /// Production defaults for node `node_id` ticking every `tick_ms` (at least 1): no fault injection, real
    /// time, checkpoints every 10 s, no profiler or metrics.
    #[must_use]
    pub fn new(node_id: u32, tick_ms: u32) -> NodeConfig {
        NodeConfig {
            node_id,
            tick_ms: tick_ms.max(1),
            system_tick_ms: std::collections::HashMap::new(),
            tidi: TidiConfig::default(),
            checkpoint_every: Duration::from_secs(10),
            tidi_every: Duration::from_millis(250),
            allow_fault_injection: false,
            sim_speed: 1.0,
            profiler: None,
            metrics: None,
            lease: Duration::from_secs(2),
            mapping_store: None,
            persist_stats: None,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The operating system refused the node's thread.
    #[error("cannot start the node thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The node's thread could not set up (its runtime, or the bus subscriptions of its systems).
    #[error("node {node}: {reason}")]
    Startup {
        /// The node that failed.
        node: u32,
        /// What went wrong.
        reason: String,
    },
}

/// A running node.
pub struct NodeHandle {
    node_id: u32,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NodeHandle {
    /// The id this node was started with.
    #[must_use]
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// Stop ticking, checkpoint every ship still in space as out of space, wait for the store to confirm, and
    /// end the thread.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Start a node thread hosting `layouts`; returns once it is subscribed to every system's inbox.
pub async fn start(
    config: NodeConfig,
    bus: Arc<dyn Bus>,
    layouts: Vec<SystemLayout>,
    persister: Persister,
) -> Result<NodeHandle, NodeError> {
    let tidi = TidiController::new(config.tidi)
        .map_err(|problem| NodeError::Startup { node: config.node_id, reason: problem.to_string() })?;
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let node_id = config.node_id;
    let thread = std::thread::Builder::new().name(format!("sol-node-{node_id}")).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(problem) => {
                let _ = ready_tx.send(Err(problem.to_string()));
                return;
            }
        };
        let local = tokio::task::LocalSet::new();
        let node = Node {
            config,
            bus,
            persister,
            tidi,
            reports_sent: 0,
            bus_disconnects_seen: 0,
            default_max_players: u32::MAX,
            incarnation: orrery_proto::Stamper::random().origin(),
            inbox_tasks: std::collections::HashMap::new(),
        };
        local.block_on(&runtime, node.run(layouts, ready_tx, stop_rx));
    })?;
    match ready_rx.await {
        Ok(Ok(())) => Ok(NodeHandle { node_id, stop: Some(stop_tx), thread: Some(thread) }),
        Ok(Err(reason)) => Err(NodeError::Startup { node: node_id, reason }),
        Err(_) => Err(NodeError::Startup { node: node_id, reason: "the node thread ended during startup".into() }),
    }
}

struct Node {
    /// The player cap of systems without their own (from the live settings).
    default_max_players: u32,
    config: NodeConfig,
    bus: Arc<dyn Bus>,
    persister: Persister,
    tidi: TidiController,
    /// Reports published so far (the last one's sequence number).
    reports_sent: u64,
    /// The bus's count of lost connections when this node last checked the mapping: a higher count means the
    /// node may have missed a new mapping while it heard nothing.
    bus_disconnects_seen: u64,
    /// Random per start, in every report (see [`NodeReport::incarnation`]).
    incarnation: u64,
    /// The task filling each system's inbox from its subscription, by index, with the way to stop it.
    inbox_tasks: std::collections::HashMap<usize, InboxTask>,
}

type Systems = Rc<RefCell<Vec<Hosted>>>;

/// What woke the node's loop.
enum Wake {
    Cluster(bytes::Bytes),
    Inbox(bytes::Bytes),
    Timer,
}

impl Node {
    async fn run(
        mut self,
        layouts: Vec<SystemLayout>,
        ready: oneshot::Sender<Result<(), String>>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let (systems, mut node_inbox, mut cluster_events) = match self.subscribe(layouts).await {
            Ok(subscribed) => subscribed,
            Err(problem) => {
                let _ = ready.send(Err(problem));
                return;
            }
        };
        let count = systems.borrow().len();
        tracing::info!(node = self.config.node_id, systems = count, "sol node ticking");
        let _ = ready.send(Ok(()));

        let start = Instant::now();
        let nominal_of =
            |systems: &Systems, index: usize| Duration::from_millis(u64::from(systems.borrow()[index].tick_ms));
        // Spread the systems' first ticks over one tick so that they do not all tick at the same instant.
        let mut schedule: BinaryHeap<Reverse<(Instant, usize)>> = (0..count)
            .map(|index| {
                Reverse((start + nominal_of(&systems, index).mul_f64(index as f64 / count.max(1) as f64), index))
            })
            .collect();
        let mut next_tidi = start + self.config.tidi_every;
        let mut next_checkpoint = start + self.config.checkpoint_every;
        let mut ticks = 0u64;
        let mut late_ticks = 0u64;
        // When each system's next tick is due, for a live migration's hand-over of the rhythm.
        let mut next_due: std::collections::HashMap<usize, Instant> = std::collections::HashMap::new();
        // When the loop last started working (after waking and any mapping check).
        let mut awake_since = Instant::now();
        loop {
            let next_tick = schedule.peek().map_or(next_tidi, |Reverse((at, _))| *at);
            let wake = next_tick.min(next_tidi).min(next_checkpoint);
            let waiting_since = Instant::now();
            let worked_for = waiting_since.saturating_duration_since(awake_since);
            let event = tokio::select! {
                biased;
                _ = &mut stop => break,
                Some(event) = cluster_events.next() => Wake::Cluster(event),
                Some(message) = node_inbox.next() => Wake::Inbox(message),
                () = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            // Frozen (SIGSTOP, a stopped VM, a starved process) for half a lease: long enough for the coordinator
            // to have given this node's systems away. Check before doing anything else. Frozen means the wait
            // lasted far past the time the loop meant to wake, or the last round of work took that long (a
            // process stopped mid-tick) — not that the schedule is behind: an overloaded node runs late without
            // pausing, and checking the mapping on every late wake would only make it later.
            let now = Instant::now();
            let overslept = now.saturating_duration_since(wake).min(now.saturating_duration_since(waiting_since));
            if overslept > self.config.lease / 2 || worked_for > self.config.lease / 2 {
                self.drop_lost_systems(&systems, "the node stalled longer than half its lease").await;
            }
            awake_since = Instant::now();
            // Back on the bus after losing it: the coordinator may have failed this node over meanwhile.
            let bus = self.bus.health();
            if bus.connected && bus.disconnects != self.bus_disconnects_seen {
                self.bus_disconnects_seen = bus.disconnects;
                self.drop_lost_systems(&systems, "the bus connection was lost and is back").await;
            }
            match event {
                Wake::Cluster(event) => {
                    self.on_cluster_event(&systems, &event);
                    continue;
                }
                Wake::Inbox(message) => {
                    if let Some(due) = self.on_node_inbox(&systems, &message, &next_due).await {
                        schedule.push(Reverse(due));
                    }
                    continue;
                }
                Wake::Timer => {}
            }
            let now = Instant::now();
            while let Some(&Reverse((due, index))) = schedule.peek() {
                if due > now {
                    break;
                }
                schedule.pop();
                let nominal = nominal_of(&systems, index);
                if now.duration_since(due) > nominal {
                    late_ticks += 1;
                }
                if !self.tick(&systems, index, now.saturating_duration_since(due)).await {
                    continue; // failed: not scheduled again
                }
                ticks += 1;
                let factor = self.tidi.factor(systems.borrow()[index].system_id);
                let interval = nominal.div_f64(factor.max(0.01));
                // Never try to catch up a backlog of ticks. A system more than an interval late starts again at
                // its own place within the next interval (a fixed fraction of it, from its index), not at once:
                // rescheduling every late system at "now" would make all of them tick in one burst from then on,
                // and a ship jumping between two of them would always arrive just after its destination ticked.
                let next = if due + interval >= Instant::now() {
                    due + interval
                } else {
                    Instant::now() + interval.mul_f64((index as f64 * 0.618_033_988_749_895).fract())
                };
                next_due.insert(index, next);
                schedule.push(Reverse((next, index)));
            }
            if now >= next_tidi {
                self.tidi.update();
                self.refuse_failed(&systems).await;
                self.publish_report(&systems, ticks, late_ticks).await;
                next_tidi = now + self.config.tidi_every;
            }
            if now >= next_checkpoint {
                self.checkpoint(&systems, true, None);
                next_checkpoint = now + self.config.checkpoint_every;
            }
        }
        // Shutdown: whatever is still in space is stored as out of space; wait until it is written.
        let (done_tx, done_rx) = oneshot::channel();
        self.checkpoint(&systems, false, Some(done_tx));
        let _ = tokio::time::timeout(Duration::from_secs(10), done_rx).await;
        tracing::info!(node = self.config.node_id, ticks, "sol node stopped");
    }

    /// Host `layouts` and subscribe to everything the node listens to: each system's commands (filling its
    /// inbox from a local task), the node's own inbox and the cluster's events. An error names what could not be
    /// subscribed to.
    async fn subscribe(
        &mut self,
        layouts: Vec<SystemLayout>,
    ) -> Result<(Systems, orrery_bus::Subscription, orrery_bus::Subscription), String> {
        let systems: Systems = Rc::new(RefCell::new(Vec::with_capacity(layouts.len())));
        let mut subscriptions = Vec::with_capacity(layouts.len());
        for layout in layouts {
            let subscription = self
                .bus
                .subscribe(&orrery_proto::system_subject(layout.system_id))
                .await
                .map_err(|problem| format!("subscribing to system {}: {problem}", layout.system_id))?;
            subscriptions.push(subscription);
            let tick_ms =
                self.config.system_tick_ms.get(&layout.system_id).copied().unwrap_or(self.config.tick_ms).max(1);
            let step_ms = self.step_ms(tick_ms);
            systems.borrow_mut().push(Hosted::new(SystemSim::new(layout), tick_ms, step_ms));
        }
        for (index, subscription) in subscriptions.into_iter().enumerate() {
            self.inbox_tasks.insert(index, InboxTask::spawn(&systems, index, subscription));
        }
        let node_inbox = self
            .bus
            .subscribe(&orrery_proto::node_subject(self.config.node_id))
            .await
            .map_err(|problem| format!("subscribing to the node inbox: {problem}"))?;
        let cluster_events = self
            .bus
            .subscribe(orrery_proto::CLUSTER_SUBJECT)
            .await
            .map_err(|problem| format!("subscribing to cluster events: {problem}"))?;
        Ok((systems, node_inbox, cluster_events))
    }

    /// Tick one system; false if it failed (now or before).
    async fn tick(&mut self, systems: &Systems, index: usize, lateness: Duration) -> bool {
        let started = Instant::now();
        let mut effects = TickEffects::default();
        let (system_id, tick_ms, healthy) = {
            let mut systems = systems.borrow_mut();
            let hosted = &mut systems[index];
            if hosted.failed || !hosted.live() {
                return false;
            }
            let context = TickContext {
                profiler: self.config.profiler.as_deref().filter(|p| p.is_running()),
                metrics: self.config.metrics.as_deref(),
                node_id: self.config.node_id,
                factor: self.tidi.factor(hosted.system_id),
                allow_fault_injection: self.config.allow_fault_injection,
            };
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| hosted.tick(&context, &mut effects)));
            if let Err(panic) = result {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(node = self.config.node_id, system = hosted.system_id, %message, "system tick panicked: system marked failed, the node goes on");
                hosted.failed = true;
                // Effects of a half-done tick are not trusted; ships stay as last checkpointed.
                effects = TickEffects::default();
            }
            (hosted.system_id, hosted.tick_ms, !hosted.failed)
        };
        let waited = self.send(effects).await;
        if healthy {
            // Waiting for the store is not the system's work: Time Dilation measures the simulation.
            let elapsed = started.elapsed().saturating_sub(waited);
            if let Some(profiler) = &self.config.profiler {
                profiler.record_system(system_id, elapsed);
            }
            if let Some(metrics) = &self.config.metrics {
                metrics.observe_tick(self.config.node_id, elapsed, lateness);
            }
            let work = elapsed.as_secs_f64();
            self.tidi.observe(system_id, work, f64::from(tick_ms) / 1000.0);
        } else {
            self.tidi.remove(system_id);
        }
        healthy
    }

    /// Live settings from the coordinator: tick lengths, player caps, the Time Dilation floor. A tick length
    /// change takes effect from each system's next tick.
    fn on_cluster_event(&mut self, systems: &Systems, event: &[u8]) {
        let Ok(v1::ClusterEvent { body: Some(v1::cluster_event::Body::Settings(settings)) }) =
            orrery_proto::frame::decode::<v1::ClusterEvent>(event)
        else {
            return;
        };
        if let Err(problem) = self.tidi.set_floor(settings.tidi_floor) {
            tracing::error!(node = self.config.node_id, %problem, "tidi floor refused");
        }
        for hosted in systems.borrow_mut().iter_mut().filter(|hosted| hosted.live()) {
            let id = hosted.system_id;
            let tick_ms = settings.system_tick_ms.get(&id).copied().unwrap_or(settings.tick_ms).max(1);
            if tick_ms != hosted.tick_ms {
                hosted.tick_ms = tick_ms;
                hosted.step_ms = self.step_ms(tick_ms);
            }
            hosted.max_players = settings.system_max_players.get(&id).copied().unwrap_or(settings.max_players);
        }
        self.default_max_players = settings.max_players;
    }

    /// A message to this node: host a system (added at runtime, or a dead node's), or a step of a live
    /// migration. Returns the system index to schedule and when, if a system starts ticking here.
    async fn on_node_inbox(
        &mut self,
        systems: &Systems,
        message: &[u8],
        next_due: &std::collections::HashMap<usize, Instant>,
    ) -> Option<(Instant, usize)> {
        use v1::node_inbox::Body;
        let Ok(v1::NodeInbox { body: Some(body) }) = orrery_proto::frame::decode::<v1::NodeInbox>(message) else {
            tracing::error!(node = self.config.node_id, "undecodable node inbox message");
            return None;
        };
        match body {
            Body::Host(host) => self.host(systems, &host).await.map(|index| (Instant::now(), index)),
            Body::Prepare(step) => {
                self.prepare(systems, &step).await;
                None
            }
            Body::Release(step) => {
                self.release(systems, step, next_due).await;
                None
            }
            Body::Transfer(transfer) => self.take_transfer(systems, &transfer).await,
            Body::Abandon(step) => {
                if let Some(index) = find(systems, step.system_id, |hosted| hosted.held) {
                    self.drop_system(systems, index);
                }
                None
            }
        }
    }

    /// Start hosting a system: one added at runtime, or (with its ships) one whose node died. Returns its index.
    async fn host(&mut self, systems: &Systems, host: &v1::HostSystem) -> Option<usize> {
        if find(systems, host.system_id, Hosted::live).is_some() {
            return None;
        }
        let tick_ms = self.config.tick_ms;
        let mut hosted = Hosted::new(SystemSim::new(convert::layout_from(host)), tick_ms, self.step_ms(tick_ms));
        hosted.max_players = self.default_max_players;
        if host.failover || !host.ships.is_empty() {
            let mut effects = TickEffects::default();
            hosted.restore(&host.ships, restored_clock(tick_ms), &mut effects);
            self.send(effects).await;
            tracing::warn!(
                node = self.config.node_id,
                system = host.system_id,
                ships = host.ships.len(),
                epoch = host.epoch,
                "system taken over from a dead node"
            );
        } else {
            tracing::info!(node = self.config.node_id, system = host.system_id, name = %host.name, "system online");
        }
        self.add_system(systems, hosted).await
    }

    /// Subscribe to `hosted`'s inbox and add it to the node; its index, or `None` if the bus refused.
    async fn add_system(&mut self, systems: &Systems, hosted: Hosted) -> Option<usize> {
        let system_id = hosted.system_id;
        let subscription = match self.bus.subscribe(&orrery_proto::system_subject(system_id)).await {
            Ok(subscription) => subscription,
            Err(problem) => {
                tracing::error!(node = self.config.node_id, system = system_id, %problem, "cannot host system");
                return None;
            }
        };
        let index = {
            let mut systems = systems.borrow_mut();
            systems.push(hosted);
            systems.len() - 1
        };
        self.inbox_tasks.insert(index, InboxTask::spawn(systems, index, subscription));
        Some(index)
    }

    /// Stop a system here for good: no more inbox, ticks, reports or writes.
    fn drop_system(&mut self, systems: &Systems, index: usize) {
        if let Some(task) = self.inbox_tasks.remove(&index) {
            task.handle.abort();
        }
        let mut systems = systems.borrow_mut();
        let hosted = &mut systems[index];
        hosted.gone = true;
        hosted.inbox.clear();
        self.tidi.remove(hosted.system_id);
    }

    /// Migration step 1 (here is the destination): hold the system's inbox until its state arrives.
    async fn prepare(&mut self, systems: &Systems, step: &v1::MoveStep) {
        use v1::coordinator_inbox::Body;
        if find(systems, step.system_id, |hosted| !hosted.gone).is_some() {
            let reason = format!("node {} already hosts or holds system {}", self.config.node_id, step.system_id);
            self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(*step), reason })).await;
            return;
        }
        match self.add_system(systems, Hosted::held(step.system_id, self.config.tick_ms)).await {
            Some(_) => self.to_coordinator(Body::Prepared(*step)).await,
            None => {
                let reason = format!("node {} could not subscribe to system {}", self.config.node_id, step.system_id);
                self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(*step), reason })).await;
            }
        }
    }

    /// Migration step 2 (here is the source): between two ticks, hand the system's whole state to its new
    /// node and let it go.
    async fn release(
        &mut self,
        systems: &Systems,
        step: v1::MoveStep,
        next_due: &std::collections::HashMap<usize, Instant>,
    ) {
        use v1::coordinator_inbox::Body;
        let Some(index) = find(systems, step.system_id, Hosted::live) else {
            let reason = format!("node {} does not host system {}", self.config.node_id, step.system_id);
            self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(step), reason })).await;
            return;
        };
        // Everything the subscription already received goes into the inbox (and so into the transfer): what
        // was published before the destination subscribed reached only this node.
        if let Some(task) = self.inbox_tasks.remove(&index) {
            task.drain_and_stop().await;
        }
        let next_tick_in_ms = next_due
            .get(&index)
            .map_or(0, |due| u32::try_from(due.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(0));
        let exported = systems.borrow_mut()[index].export(step, next_tick_in_ms);
        self.drop_system(systems, index);
        let transfer = match exported {
            Ok(transfer) => transfer,
            Err(problem) => {
                let reason = format!("exporting system {}: {problem}", step.system_id);
                self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(step), reason })).await;
                return;
            }
        };
        let message = v1::NodeInbox { body: Some(v1::node_inbox::Body::Transfer(transfer)) };
        let payload = bytes::Bytes::from(prost::Message::encode_to_vec(&message));
        tracing::info!(
            node = self.config.node_id,
            system = step.system_id,
            to = step.to_node,
            bytes = payload.len(),
            "system released"
        );
        if let Err(problem) = self.bus.publish(&orrery_proto::node_subject(step.to_node), payload).await {
            let reason = format!("sending system {}'s state to node {}: {problem}", step.system_id, step.to_node);
            self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(step), reason })).await;
        }
    }

    /// Migration step 3 (here is the destination): tick on from the transferred state and what was held.
    async fn take_transfer(&mut self, systems: &Systems, transfer: &v1::SystemTransfer) -> Option<(Instant, usize)> {
        use v1::coordinator_inbox::Body;
        let step = transfer.step.unwrap_or_default();
        let index = match find(systems, step.system_id, |hosted| hosted.held) {
            Some(index) => index,
            None => {
                // Not prepared (the prepare was lost): hold from now on, what came before is gone.
                tracing::warn!(node = self.config.node_id, system = step.system_id, "transfer without prepare");
                self.add_system(systems, Hosted::held(step.system_id, self.config.tick_ms)).await?
            }
        };
        let held = std::mem::take(&mut systems.borrow_mut()[index].inbox);
        let tick_ms = transfer.tick_ms.max(1);
        match Hosted::import(transfer, held, self.step_ms(tick_ms)) {
            Ok(hosted) => {
                let ships = hosted.sim.ship_count();
                systems.borrow_mut()[index] = hosted;
                tracing::info!(node = self.config.node_id, system = step.system_id, ships, "system moved here");
                self.to_coordinator(Body::Moved(step)).await;
                let due = Instant::now() + Duration::from_millis(u64::from(transfer.next_tick_in_ms));
                Some((due, index))
            }
            Err(problem) => {
                self.drop_system(systems, index);
                let reason = format!("importing system {}: {problem}", step.system_id);
                self.to_coordinator(Body::Failed(v1::MoveFailed { step: Some(step), reason })).await;
                None
            }
        }
    }

    async fn to_coordinator(&self, body: v1::coordinator_inbox::Body) {
        let payload = bytes::Bytes::from(prost::Message::encode_to_vec(&v1::CoordinatorInbox { body: Some(body) }));
        if let Err(problem) = self.bus.publish(orrery_proto::COORDINATOR_SUBJECT, payload).await {
            tracing::error!(node = self.config.node_id, %problem, "message to the coordinator not sent");
        }
    }

    /// After this node's loop stalled for half a lease, or its bus connection was lost, the coordinator may
    /// have given its systems to others: read the mapping and drop every system it no longer gives this node,
    /// before ticking anything. (Its checkpoints in between are fenced by the store: the new host restored
    /// the ships with a higher handoff sequence.)
    async fn drop_lost_systems(&mut self, systems: &Systems, why: &str) {
        let Some((store, runtime)) = self.config.mapping_store.clone() else { return };
        tracing::warn!(node = self.config.node_id, why, "checking the mapping");
        let read = runtime.spawn(async move { tokio::time::timeout(MAPPING_READ_TIMEOUT, store.load_mapping()).await });
        let mapping = match read.await {
            Ok(Ok(Ok(Some(mapping)))) => mapping,
            Ok(Ok(Ok(None))) => return,
            Ok(Err(_)) => {
                tracing::error!(node = self.config.node_id, "mapping not read within its time: keeping the systems");
                return;
            }
            Ok(Ok(Err(problem))) => {
                tracing::error!(node = self.config.node_id, %problem, "mapping not readable: keeping the systems");
                return;
            }
            Err(problem) => {
                tracing::error!(node = self.config.node_id, %problem, "mapping read failed after a stall");
                return;
            }
        };
        let owner: std::collections::HashMap<u32, u32> = mapping.assignments.into_iter().collect();
        let lost: Vec<usize> = systems
            .borrow()
            .iter()
            .enumerate()
            .filter(|(_, hosted)| {
                hosted.live() && owner.get(&hosted.system_id).is_some_and(|&node| node != self.config.node_id)
            })
            .map(|(index, _)| index)
            .collect();
        for index in lost {
            let system = systems.borrow()[index].system_id;
            tracing::warn!(
                node = self.config.node_id,
                system,
                epoch = mapping.epoch,
                "system given to another node meanwhile: dropped, not ticked or written"
            );
            self.drop_system(systems, index);
        }
    }

    /// Send a tick's effects: store writes queued, then (once its kill reports are stored, if it has any) its bus
    /// messages. Returns how long it waited for the store.
    async fn send(&self, mut effects: TickEffects) -> Duration {
        for job in std::mem::take(&mut effects.persist) {
            let _ = self.persister.send(job);
        }
        let mut waited = Duration::ZERO;
        if let Some(write) = &mut effects.kills {
            // The node waits for the kill reports (the persistence worker writes them after the rows queued before
            // them) before anything of this tick is published: no client hears of a loss the store does not have.
            let started = Instant::now();
            let (done, stored) = oneshot::channel();
            let kills = std::mem::take(&mut write.kills);
            let count = kills.len();
            let job = PersistJob { kills: Some((kills, write.hulls)), done: Some(done), ..PersistJob::default() };
            let stored = self.persister.send(job).is_ok() && stored.await.is_ok();
            waited = started.elapsed();
            if stored {
                effects.kills = None;
            } else {
                tracing::error!(node = self.config.node_id, kills = count, "kill reports not stored: not published");
                effects.kills_lost();
            }
        }
        for (subject, payload) in effects.publish {
            match self.bus.publish(&subject, payload.clone()).await {
                Ok(()) => {}
                // The bus is reconnecting (it logged that once, and counts what it could not send): the system
                // ticks on. A delta is dropped (pilots catch up from the next one); what must arrive — a
                // handoff or command for a system, an answer for a session — goes to the persistence worker,
                // which sends it once the bus is back (the receiver drops a second copy by its stamp).
                Err(orrery_bus::BusError::Disconnected { .. }) => {
                    if must_arrive(&subject) {
                        let job = PersistJob { then_publish: Some((subject, payload)), ..PersistJob::default() };
                        let _ = self.persister.send(job);
                    }
                }
                Err(problem) => tracing::error!(subject, %problem, "publish failed"),
            }
        }
        waited
    }

    fn step_ms(&self, tick_ms: u32) -> u64 {
        let speed =
            if self.config.sim_speed.is_finite() && self.config.sim_speed > 0.0 { self.config.sim_speed } else { 1.0 };
        (f64::from(tick_ms) * speed).round().max(1.0) as u64
    }

    async fn refuse_failed(&self, systems: &Systems) {
        let mut effects = TickEffects::default();
        for hosted in systems.borrow_mut().iter_mut().filter(|hosted| hosted.failed && hosted.live()) {
            hosted.refuse_inbox(&mut effects);
        }
        for (subject, payload) in effects.publish {
            let _ = self.bus.publish(&subject, payload).await;
        }
    }

    fn checkpoint(&self, systems: &Systems, in_space: bool, done: Option<oneshot::Sender<()>>) {
        let rows: Vec<_> = systems
            .borrow()
            .iter()
            .filter(|hosted| !hosted.failed && hosted.live())
            .flat_map(|hosted| hosted.sim.ships().map(|ship| convert::ship_row(ship, hosted.system_id, in_space)))
            .collect();
        if rows.is_empty() && done.is_none() {
            return;
        }
        let _ = self.persister.send(PersistJob { rows, done, ..PersistJob::default() });
    }

    /// Publish this node's health on `node.<id>.report`: the coordinator's only view of it, and its heartbeat.
    async fn publish_report(&mut self, systems: &Systems, ticks: u64, late_ticks: u64) {
        self.reports_sent += 1;
        let report = self.report(systems, ticks, late_ticks);
        let subject = orrery_proto::node_report_subject(self.config.node_id);
        let payload = bytes::Bytes::from(prost::Message::encode_to_vec(&report.to_message()));
        if let Err(problem) = self.bus.publish(&subject, payload).await {
            tracing::error!(node = self.config.node_id, %problem, "node report not published");
        }
    }

    fn report(&self, systems: &Systems, ticks: u64, late_ticks: u64) -> NodeReport {
        let systems = systems.borrow();
        NodeReport {
            node_id: self.config.node_id,
            systems: systems
                .iter()
                .filter(|hosted| hosted.live())
                .map(|hosted| SystemReport {
                    system_id: hosted.system_id,
                    ships: hosted.sim.ship_count(),
                    factor: self.tidi.factor(hosted.system_id),
                    tick_work_ms: self.tidi.demand(hosted.system_id).unwrap_or(0.0) * f64::from(hosted.tick_ms),
                    failed: hosted.failed,
                    tick_ms: hosted.tick_ms,
                    max_players: hosted.max_players,
                    queued: hosted.queue_len(),
                    kills: hosted.kills,
                })
                .collect(),
            ticks,
            late_ticks,
            sequence: self.reports_sent,
            incarnation: self.incarnation,
            store_queued_rows: self
                .config
                .persist_stats
                .as_ref()
                .map_or(0, |stats| stats.queued_rows.load(std::sync::atomic::Ordering::Relaxed)),
            store_down_ms: self.config.persist_stats.as_ref().map_or(0, |stats| stats.down_for().as_millis() as u64),
            bus_disconnects: self.bus.health().disconnects,
            last_checkpoint_unix_ms: self
                .config
                .persist_stats
                .as_ref()
                .map_or(0, |stats| stats.last_written_ms.load(std::sync::atomic::Ordering::Relaxed)),
        }
    }
}

/// The task moving a system's bus messages into its inbox as they arrive (the tick drains the inbox).
struct InboxTask {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl InboxTask {
    fn spawn(systems: &Systems, index: usize, subscription: orrery_bus::Subscription) -> InboxTask {
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::task::spawn_local(fill_inbox(systems.clone(), index, subscription, stopped));
        InboxTask { stop, handle }
    }

    /// Stop after moving every message the subscription already received into the inbox; unsubscribes.
    async fn drain_and_stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
    }
}

async fn fill_inbox(
    systems: Systems,
    index: usize,
    mut subscription: orrery_bus::Subscription,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => {
                while let Some(message) = subscription.try_next() {
                    systems.borrow_mut()[index].inbox.push_back(message);
                }
                return;
            }
            message = subscription.next() => match message {
                Some(message) => systems.borrow_mut()[index].inbox.push_back(message),
                None => return,
            },
        }
    }
}

/// The index of the system `system_id` among `systems` that satisfies `which`.
fn find(systems: &Systems, system_id: u32, which: impl Fn(&Hosted) -> bool) -> Option<usize> {
    systems.borrow().iter().position(|hosted| hosted.system_id == system_id && which(hosted))
}

/// The clock a system restored from the store starts at: past any tick its old node can have reached (the
/// tick and simulation time the wall clock would give since 1970), so that its clients' deltas keep counting up.
fn restored_clock(tick_ms: u32) -> (u64, u64) {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    (now_ms / u64::from(tick_ms.max(1)), now_ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn handoffs_and_answers_must_arrive_deltas_need_not() {
        assert!(super::must_arrive("system.30000142"));
        assert!(super::must_arrive("proxy.2"));
        assert!(!super::must_arrive("system.30000142.delta"));
        assert!(!super::must_arrive("node.1.report"));
        assert!(!super::must_arrive("cluster"));
    }
}
