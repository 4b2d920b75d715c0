//! A small in-memory [`ClusterControl`] and an HTTP helper: the tests exercise the HTTP layer, not a cluster.

#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use orrery_admin::{
    ClusterControl, ClusterView, ControlError, MapSystem, NodeView, ProfilerStatus, ServicesView, SettingView,
    ShutdownRequest, ShutdownView, SystemDetail, SystemView, UniverseView,
};
use parking_lot::{Mutex, MutexGuard};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const CLUSTER: &str = "tranquility";

/// What the mock remembers, so tests can see what reached it (and what must not have).
pub struct MockState {
    pub settings: Vec<SettingView>,
    pub shutdown: Option<ShutdownView>,
    pub profiler: ProfilerStatus,
    pub log_filter: String,
    pub flamegraph_requests: Vec<u32>,
    /// (system, limit) of every kills request.
    pub kills_requests: Vec<(Option<u32>, u32)>,
    pub metrics: String,
    pub calls: u32,
}

pub struct Mock {
    pub state: Mutex<MockState>,
}

impl Mock {
    pub fn new() -> Arc<Self> {
        Arc::new(Mock {
            state: Mutex::new(MockState {
                settings: vec![
                    SettingView {
                        key: "max_players".into(),
                        value: json!(2000),
                        default: json!(2000),
                        description: "ships per system".into(),
                        updated_at_ms: None,
                        pending: None,
                    },
                    SettingView {
                        key: "motd".into(),
                        value: json!("hello"),
                        default: json!("hello"),
                        description: "message of the day".into(),
                        updated_at_ms: None,
                        pending: None,
                    },
                ],
                shutdown: None,
                profiler: ProfilerStatus { running: false, since_unix_ms: None },
                log_filter: "info".into(),
                flamegraph_requests: Vec::new(),
                kills_requests: Vec::new(),
                metrics: "# HELP orrery_sessions Sessions.\n# TYPE orrery_sessions gauge\norrery_sessions 3\n".into(),
                calls: 0,
            }),
        })
    }

    /// The state, counting the call (so a test can check an unauthenticated request reached nothing).
    fn touch(&self) -> MutexGuard<'_, MockState> {
        let mut state = self.lock();
        state.calls += 1;
        state
    }

    /// The state, for a test to arrange or inspect without counting a call.
    pub fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock()
    }

    fn system_view(id: u32) -> SystemView {
        SystemView {
            system_id: id,
            name: format!("System {id}"),
            node_id: id % 2,
            players: u64::from(id) * 10,
            tidi: if id == 2 { 0.5 } else { 1.0 },
            tick_work_ms: 1.5,
            tick_ms: 1000,
            max_players: 2000,
            failed: id == 3,
            kills: u64::from(id) * 2,
        }
    }
}

#[async_trait::async_trait]
impl ClusterControl for Mock {
    fn cluster_name(&self) -> String {
        CLUSTER.into()
    }

    async fn cluster(&self) -> ClusterView {
        let shutdown = self.touch().shutdown.clone();
        ClusterView {
            cluster_name: CLUSTER.into(),
            epoch: 4,
            sessions: 60,
            nodes: (0..2)
                .map(|n| NodeView {
                    node_id: n,
                    systems: 2,
                    players: 30,
                    cpu_share: 0.25,
                    tick_work_ms: 250.0,
                    late_ticks: 1,
                    failed_systems: n,
                    store_queued_rows: 600 * u64::from(n),
                    store_down_ms: 4_000 * u64::from(n),
                    last_checkpoint_unix_ms: 1_796_000_000_000,
                })
                .collect(),
            systems: (1..=3).map(Mock::system_view).collect(),
            shutdown,
            services: ServicesView {
                bus_connected: true,
                bus_down_ms: 0,
                bus_disconnects: 1,
                store_down_ms: 4_000,
                store_queued_rows: 600,
                outage: Some("store unreachable for 4 s: 600 checkpoint rows queued".into()),
            },
        }
    }

    async fn system(&self, system_id: u32) -> Option<SystemDetail> {
        drop(self.touch());
        (1..=4).contains(&system_id).then(|| SystemDetail {
            system: Mock::system_view(system_id),
            security: 0.5,
            region: "The Forge".into(),
            constellation: "Kimotoro".into(),
            neighbours: vec![system_id % 4 + 1],
            queue: 0,
        })
    }

    async fn universe(&self) -> UniverseView {
        drop(self.touch());
        UniverseView {
            systems: (1..=4)
                .map(|id| MapSystem {
                    system_id: id,
                    name: format!("System {id}"),
                    x: f64::from(id),
                    z: -f64::from(id),
                    security: 0.5,
                    node_id: id % 2,
                })
                .collect(),
            gates: vec![[1, 2], [2, 3], [3, 4]],
        }
    }

    async fn settings(&self) -> Vec<SettingView> {
        self.touch().settings.clone()
    }

    async fn put_setting(&self, key: &str, value: Value) -> Result<SettingView, ControlError> {
        let mut state = self.touch();
        let setting = state
            .settings
            .iter_mut()
            .find(|s| s.key == key)
            .ok_or_else(|| ControlError::NotFound(format!("no setting `{key}`")))?;
        if setting.default.is_number() != value.is_number() || setting.default.is_string() != value.is_string() {
            return Err(ControlError::bad_request("value", "wrong type"));
        }
        setting.value = value;
        setting.updated_at_ms = Some(1_700_000_000_000);
        Ok(setting.clone())
    }

    async fn shutdown_status(&self) -> Option<ShutdownView> {
        self.touch().shutdown.clone()
    }

    async fn schedule_shutdown(&self, request: ShutdownRequest) -> Result<ShutdownView, ControlError> {
        let mut state = self.touch();
        if request.cluster != CLUSTER {
            return Err(ControlError::bad_request("cluster", format!("this cluster is `{CLUSTER}`")));
        }
        let view = ShutdownView {
            cluster: request.cluster,
            reason: request.reason,
            fires_at_unix_ms: 1_700_000_000_000 + request.in_seconds * 1000,
            seconds_left: request.in_seconds,
        };
        state.shutdown = Some(view.clone());
        Ok(view)
    }

    async fn cancel_shutdown(&self) -> Result<(), ControlError> {
        match self.touch().shutdown.take() {
            Some(_) => Ok(()),
            None => Err(ControlError::NotFound("no shutdown is scheduled".into())),
        }
    }

    async fn profiler_start(&self) -> Result<ProfilerStatus, ControlError> {
        let mut state = self.touch();
        if state.profiler.running {
            return Err(ControlError::Conflict("the profiler is already running".into()));
        }
        state.profiler = ProfilerStatus { running: true, since_unix_ms: Some(1_700_000_000_000) };
        Ok(state.profiler.clone())
    }

    async fn profiler_stop(&self) -> Result<ProfilerStatus, ControlError> {
        let mut state = self.touch();
        state.profiler.running = false;
        Ok(state.profiler.clone())
    }

    async fn profiler_report(&self) -> Value {
        let state = self.touch();
        json!({
            "running": state.profiler.running,
            "since_unix_ms": state.profiler.since_unix_ms,
            "elapsed_s": 1.0,
            "by_message": [{"name": "Move", "count": 3, "total_ms": 0.1, "mean_us": 33.0, "p50_us": 30.0,
                            "p99_us": 60.0, "max_us": 61.0}],
            "by_system": [],
        })
    }

    async fn profiler_flamegraph(&self, seconds: u32) -> Result<String, ControlError> {
        self.touch().flamegraph_requests.push(seconds);
        if seconds == 42 {
            return Err(ControlError::Internal("sampler unavailable".into()));
        }
        Ok("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into())
    }

    fn log_level(&self) -> String {
        self.touch().log_filter.clone()
    }

    fn set_log_level(&self, filter: &str) -> Result<(), ControlError> {
        let mut state = self.touch();
        if filter.is_empty() || filter.contains('!') {
            return Err(ControlError::bad_request("filter", format!("`{filter}` is not a filter directive")));
        }
        state.log_filter = filter.to_owned();
        Ok(())
    }

    fn metrics(&self) -> String {
        self.touch().metrics.clone()
    }

    async fn kills(&self, system_id: Option<u32>, limit: u32) -> Result<Vec<orrery_admin::KillView>, ControlError> {
        self.touch().kills_requests.push((system_id, limit));
        let ship = |ship_id: u64| orrery_admin::KillShip {
            ship_id,
            character_id: ship_id + 100,
            ship_type_id: 587,
            ship_type: "Rifter".into(),
            damage: 10.0,
        };
        let kill = |kill_id: u64| orrery_admin::KillView {
            kill_id,
            system_id: system_id.unwrap_or(1),
            system_name: "System 1".into(),
            tick: 7,
            sim_time_ms: 7000,
            killed_at_unix_ms: 1_700_000_000_000,
            victim: ship(1),
            capsule: false,
            position: [1.0, 2.0, 3.0],
            final_blow: ship(2),
            attackers: vec![ship(2), ship(3)],
        };
        Ok((1..=u64::from(limit).min(3)).rev().map(kill).collect())
    }
}

/// The app over a fresh mock.
pub fn app() -> (Router, Arc<Mock>) {
    let mock = Mock::new();
    (orrery_admin::router(TOKEN, mock.clone()), mock)
}

/// One answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a JSON error with this status, and the field it names (if any).
    pub fn assert_error(&self, status: StatusCode, field: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.content_type(), "application/json");
        let body = self.json();
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
        assert_eq!(body.get("field").and_then(Value::as_str), field, "{body}");
    }
}

/// Sends one request through the router, with `Authorization: <auth>` if given.
pub async fn send(app: &Router, method: Method, uri: &str, auth: Option<&str>, body: Option<&str>) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned()))).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

/// The same, with the right token.
pub async fn authed(app: &Router, method: Method, uri: &str, body: Option<&str>) -> Answer {
    send(app, method, uri, Some(&format!("Bearer {TOKEN}")), body).await
}
