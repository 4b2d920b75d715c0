//! The seam between the admin door and the cluster: [`ClusterControl`] and the views it hands out.
//!
//! The admin crate knows nothing of nodes, buses or stores. The cluster crate implements this trait over its
//! live state, and the HTTP layer only translates between JSON over HTTP and these calls — so the API can be
//! tested with a small in-memory implementation, and the cluster can change its insides without touching the
//! operators' contract. Every view type serialises to exactly the JSON documented in `docs/admin-api.md`.

use serde::{Deserialize, Serialize};

/// What the admin API asks of a running cluster. Implemented by the cluster crate; every method is cheap
/// enough to be called once a second by each open dashboard, except [`ClusterControl::profiler_flamegraph`],
/// which samples for the requested number of seconds.
#[async_trait::async_trait]
pub trait ClusterControl: Send + Sync + 'static {
    /// The cluster's name: shown on the dashboard, and what an operator must type to schedule a shutdown.
    fn cluster_name(&self) -> String;
    /// The live picture: nodes, the systems worth looking at, the scheduled shutdown.
    async fn cluster(&self) -> ClusterView;
    /// One system in detail, or `None` when no system has that id.
    async fn system(&self, system_id: u32) -> Option<SystemDetail>;
    /// The static map for the dashboard (positions seen from above).
    async fn universe(&self) -> UniverseView;
    /// Every live setting with its current value, default and description.
    async fn settings(&self) -> Vec<SettingView>;
    /// Changes one live setting. `NotFound` for an unknown key, `BadRequest { field: "value" }` for a value
    /// of the wrong type or out of range.
    async fn put_setting(&self, key: &str, value: serde_json::Value) -> Result<SettingView, ControlError>;
    /// The scheduled shutdown, if any.
    async fn shutdown_status(&self) -> Option<ShutdownView>;
    /// Refused (ControlError::BadRequest{field:"cluster"}) unless request.cluster equals cluster_name() exactly.
    async fn schedule_shutdown(&self, request: ShutdownRequest) -> Result<ShutdownView, ControlError>;
    /// Cancels the scheduled shutdown; `NotFound` if none is scheduled.
    async fn cancel_shutdown(&self) -> Result<(), ControlError>;
    /// Starts the profiler (timing tables); `Conflict` if it already runs, at the implementation's choice.
    async fn profiler_start(&self) -> Result<ProfilerStatus, ControlError>;
    /// Stops the profiler, keeping what it measured for the report.
    async fn profiler_stop(&self) -> Result<ProfilerStatus, ControlError>;
    /// Timing tables (opaque JSON: `{running, since_unix_ms, elapsed_s, by_message:[{name,count,total_ms,
    /// mean_us,p50_us,p99_us,max_us}], by_system:[...]}`).
    async fn profiler_report(&self) -> serde_json::Value;
    /// Samples the process's CPU for `seconds` (already checked to be 1..=60) and returns an SVG flamegraph.
    async fn profiler_flamegraph(&self, seconds: u32) -> Result<String, ControlError>;
    /// The current log filter, as an `EnvFilter` directive.
    fn log_level(&self) -> String;
    /// Replaces the log filter: an EnvFilter directive like "info" or "orrery=debug"; `BadRequest { field:
    /// "filter" }` when it does not parse.
    fn set_log_level(&self, filter: &str) -> Result<(), ControlError>;
    /// The Prometheus exposition (text format 0.0.4, or OpenMetrics text ending in `# EOF`).
    fn metrics(&self) -> String;
    /// Moves a system to another node while it runs (a live migration) and returns what happened
    /// (`{system_id, from_node, to_node, epoch, pause_ms, total_ms}`). `NotFound` for an unknown system,
    /// `BadRequest { field: "node" }` for an unknown or dead node, `Conflict` when the system is already there
    /// or already moving. Clusters that cannot move systems answer `NotFound`.
    async fn move_system(&self, system_id: u32, node: u32) -> Result<serde_json::Value, ControlError> {
        let _ = (system_id, node);
        Err(ControlError::NotFound("live migration is not available on this cluster".into()))
    }

    /// The latest `limit` (already checked to be 1..=1000) kill reports from the store, newest first: of one
    /// system, or of all. Clusters without a store of kills answer `NotFound`.
    async fn kills(&self, system_id: Option<u32>, limit: u32) -> Result<Vec<KillView>, ControlError> {
        let _ = (system_id, limit);
        Err(ControlError::NotFound("kill reports are not available on this cluster".into()))
    }

    /// The economy over the last `days` days (already checked to be 1..=365): money supply, faucets and sinks
    /// per day, most traded items, NPC desks' prices, the conservation check (opaque JSON, documented in
    /// docs/admin-api.md). Clusters without a market answer `NotFound`.
    async fn economy(&self, days: u32) -> Result<serde_json::Value, ControlError> {
        let _ = days;
        Err(ControlError::NotFound("this cluster has no market".into()))
    }
}

/// The live picture of the cluster, polled by the dashboard every second.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClusterView {
    /// The cluster's name (what a shutdown must name).
    pub cluster_name: String,
    /// The mapping epoch: increases every time the systems are placed on nodes anew.
    pub epoch: u64,
    /// Client sessions connected to the proxies.
    pub sessions: u64,
    /// Every sol node.
    pub nodes: Vec<NodeView>,
    /// Only the systems with players, dilated or failed; the full list is the map ([`UniverseView`]).
    pub systems: Vec<SystemView>,
    /// The scheduled shutdown, if any.
    pub shutdown: Option<ShutdownView>,
    /// Whether the bus and the store answer: what an operator looks at first when play stalls.
    #[serde(default)]
    pub services: ServicesView,
}

/// The message bus and the database as the cluster sees them. During an outage the nodes keep ticking;
/// checkpoints wait (the newest per ship) and are written when the store answers again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ServicesView {
    /// The coordinator's bus connection is up (always, in one process).
    pub bus_connected: bool,
    /// How long it has been down, milliseconds (0 while up).
    pub bus_down_ms: u64,
    /// Bus connections lost since start, the coordinator's and the nodes' together.
    pub bus_disconnects: u64,
    /// The longest current store outage any node's checkpoint writer sees, milliseconds (0: the store answers).
    pub store_down_ms: u64,
    /// Checkpoint rows waiting for the store, all nodes together.
    pub store_queued_rows: u64,
    /// One line for operators when something is down (e.g. "store unreachable for 4 s: 1200 checkpoint rows
    /// queued"); `None` when all is well.
    pub outage: Option<String>,
}

/// One sol node's load.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct NodeView {
    /// The node's id (0-based).
    pub node_id: u32,
    /// Systems hosted.
    pub systems: u32,
    /// Players in those systems.
    pub players: u64,
    /// Fraction of one core used by ticks, 0..1 and above when overloaded.
    pub cpu_share: f64,
    /// Tick work per second of wall time, in milliseconds.
    pub tick_work_ms: f64,
    /// Ticks that started later than planned since the node started.
    pub late_ticks: u64,
    /// Systems whose tick panicked (they answer `UNAVAILABLE`).
    pub failed_systems: u32,
    /// Checkpoint rows waiting for the store on this node (grows during a store outage).
    #[serde(default)]
    pub store_queued_rows: u64,
    /// How long the store has not answered this node, milliseconds (0: it answers).
    #[serde(default)]
    pub store_down_ms: u64,
    /// When this node's last checkpoint landed in the store, ms since the Unix epoch (0: none yet): what a
    /// crash of the node would go back to.
    #[serde(default)]
    pub last_checkpoint_unix_ms: u64,
}

/// One solar system's live numbers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SystemView {
    /// The system's id.
    pub system_id: u32,
    /// Its name.
    pub name: String,
    /// The node hosting it.
    pub node_id: u32,
    /// Ships in space there.
    pub players: u64,
    /// Time Dilation factor: 1.0 is full speed, down to 0.1.
    pub tidi: f64,
    /// Measured work of one tick, in milliseconds.
    pub tick_work_ms: f64,
    /// Nominal tick length, in milliseconds.
    pub tick_ms: u32,
    /// Most players allowed in at once.
    pub max_players: u32,
    /// The tick panicked; the system answers `UNAVAILABLE`.
    pub failed: bool,
    /// Ships destroyed there since its node started hosting it.
    #[serde(default)]
    pub kills: u64,
}

/// One line of a kill report: a ship that hurt (or disrupted) the victim.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KillShip {
    /// The ship.
    pub ship_id: u64,
    /// Its pilot.
    pub character_id: u64,
    /// Its type (`data/ship-types.csv`) and the type's name (empty if unknown).
    pub ship_type_id: u32,
    /// The type's name.
    pub ship_type: String,
    /// Hit points of damage it dealt (0 for a warp disruptor only; 0 for the victim's own line).
    pub damage: f64,
}

/// A stored kill report, as `GET /api/v1/kills` lists it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KillView {
    /// The report's id (newer reports have larger ids).
    pub kill_id: u64,
    /// Where it happened.
    pub system_id: u32,
    /// The system's name.
    pub system_name: String,
    /// The system's tick and simulation time.
    pub tick: u64,
    /// Simulation time, milliseconds.
    pub sim_time_ms: u64,
    /// When it was stored, milliseconds since the Unix epoch.
    pub killed_at_unix_ms: u64,
    /// The ship lost and its pilot.
    pub victim: KillShip,
    /// The loss was a capsule (its pilot woke up at home in a new ship).
    pub capsule: bool,
    /// Metres, in the system's frame.
    pub position: [f64; 3],
    /// Who dealt the last damage.
    pub final_blow: KillShip,
    /// Everyone who hurt or disrupted the victim, in the order they first did.
    pub attackers: Vec<KillShip>,
}

/// One system in detail: its live numbers and its place on the map.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SystemDetail {
    /// The live numbers, flattened into the same JSON object.
    #[serde(flatten)]
    pub system: SystemView,
    /// Security status, -1.0..=1.0.
    pub security: f64,
    /// Region name.
    pub region: String,
    /// Constellation name.
    pub constellation: String,
    /// Systems one stargate away.
    pub neighbours: Vec<u32>,
    /// Players waiting for a place.
    pub queue: u32,
}

/// The static map the dashboard draws once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct UniverseView {
    /// Every mapped system.
    pub systems: Vec<MapSystem>,
    /// Every stargate once, as a pair of system ids.
    pub gates: Vec<[u32; 2]>,
}

/// One system on the map.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MapSystem {
    /// The system's id.
    pub system_id: u32,
    /// Its name.
    pub name: String,
    /// Position in light years, x/z plane seen from above (x to the right, z up).
    pub x: f64,
    /// Position in light years, x/z plane seen from above (x to the right, z up).
    pub z: f64,
    /// Security status, -1.0..=1.0.
    pub security: f64,
    /// The node hosting it.
    pub node_id: u32,
}

/// One live setting.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SettingView {
    /// Its key, as used in `PUT /api/v1/settings/{key}`.
    pub key: String,
    /// Current value.
    pub value: serde_json::Value,
    /// Value when never set.
    pub default: serde_json::Value,
    /// What it changes, for the operator.
    pub description: String,
    /// When it was last changed (Unix milliseconds), `None` if never.
    pub updated_at_ms: Option<u64>,
    /// A value written but not in force yet: the cluster reads the settings table every poll interval (500 ms
    /// by default), so right after a change `value` is still the old one and this is the new one. A value
    /// that stays pending was refused (the log says why). Absent when what is stored is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<serde_json::Value>,
}

/// An operator's request to stop the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ShutdownRequest {
    /// Must equal the cluster's name exactly: a guard against stopping the wrong cluster.
    pub cluster: String,
    /// Seconds from now until the shutdown starts.
    pub in_seconds: u64,
    /// Told to the players.
    pub reason: String,
}

/// A scheduled shutdown.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ShutdownView {
    /// The cluster it stops.
    pub cluster: String,
    /// Told to the players.
    pub reason: String,
    /// When it starts, Unix milliseconds.
    pub fires_at_unix_ms: u64,
    /// Seconds left when this view was made.
    pub seconds_left: u64,
}

/// Whether the profiler runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ProfilerStatus {
    /// It is measuring.
    pub running: bool,
    /// Since when (Unix milliseconds), `None` when stopped and never started.
    pub since_unix_ms: Option<u64>,
}

/// Why the cluster refused an operator's request; each kind maps to one HTTP status.
#[derive(thiserror::Error, Clone, Debug, PartialEq)]
pub enum ControlError {
    /// The request names something wrong (HTTP 400); `field` is the JSON field at fault.
    #[error("{field}: {reason}")]
    BadRequest {
        /// The JSON field at fault, e.g. `"cluster"`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The thing asked for does not exist (HTTP 404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request contradicts the current state (HTTP 409), e.g. starting a running profiler.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The cluster failed to do it (HTTP 500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ControlError {
    /// Shorthand for a [`ControlError::BadRequest`].
    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadRequest { field: field.into(), reason: reason.into() }
    }
}
