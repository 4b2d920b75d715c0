//! The cluster as operators see it: [`orrery_admin::ClusterControl`] over the live state — node reports,
//! sessions, the settings in force, the emergency shutdown, the profiler, metrics and the log level.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orrery_admin::{
    ClusterControl, ClusterView, ControlError, KillShip, KillView, MapSystem, NodeView, ProfilerStatus, ServicesView,
    SettingView, ShutdownRequest, ShutdownView, SystemDetail, SystemView, UniverseView,
};
use orrery_node::NodeReport;
use orrery_telemetry::{Metrics, Profiler};
use orrery_universe::{LIGHT_YEAR_M, SystemId, Universe};

use crate::emergency::{EmergencyShutdown, ShutdownError};
use crate::live_settings::SharedSettings;

/// How the binary lets operators change the log level at runtime (a `tracing_subscriber` reload handle).
pub trait LogControl: Send + Sync + 'static {
    /// The filter in force (`tracing` `EnvFilter` syntax), for the dashboard.
    fn current(&self) -> String;
    /// Put `filter` in force; an error says why it was refused (the previous filter stays).
    fn set(&self, filter: &str) -> Result<(), String>;
}

/// The live state the control reads; filled by `Cluster`.
pub(crate) struct Control {
    pub universe: crate::runtime_systems::SharedUniverse,
    pub node_of: crate::runtime_systems::SharedMapping,
    pub coordinator: Arc<crate::Coordinator>,
    pub reports: Arc<dyn Fn() -> Vec<NodeReport> + Send + Sync>,
    pub sessions: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub store: Arc<dyn orrery_store::Store>,
    pub settings: SharedSettings,
    pub emergency: Arc<EmergencyShutdown>,
    pub profiler: Arc<Profiler>,
    pub metrics: Arc<Metrics>,
    pub refresh_metrics: Arc<dyn Fn() + Send + Sync>,
    pub log: Option<Arc<dyn LogControl>>,
    /// The coordinator's bus, for its health.
    pub bus: Arc<dyn orrery_bus::Bus>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Control {
    /// The universe as it is now (systems added at runtime included).
    fn universe(&self) -> Arc<Universe> {
        self.universe.read().clone()
    }

    fn name_of(&self, system_id: u32) -> String {
        self.universe().by_id(SystemId(system_id)).map_or_else(|| system_id.to_string(), |s| s.name.clone())
    }

    fn view(&self, node_id: u32, system: &orrery_node::SystemReport) -> SystemView {
        SystemView {
            system_id: system.system_id,
            name: self.name_of(system.system_id),
            node_id,
            players: system.ships as u64,
            tidi: system.factor,
            tick_work_ms: system.tick_work_ms,
            tick_ms: system.tick_ms,
            max_players: system.max_players,
            failed: system.failed,
            kills: system.kills,
        }
    }

    fn shutdown_view(&self) -> Option<ShutdownView> {
        self.emergency.status().map(|scheduled| ShutdownView {
            cluster: self.emergency.cluster_name().to_owned(),
            reason: scheduled.reason,
            fires_at_unix_ms: scheduled.fires_at_unix_ms,
            seconds_left: scheduled.fires_at_unix_ms.saturating_sub(now_ms()).div_ceil(1000),
        })
    }

    fn services(&self, reports: &[NodeReport]) -> ServicesView {
        let bus = self.bus.health();
        let bus_down_ms = if bus.connected { 0 } else { bus.since.elapsed().as_millis() as u64 };
        let store_down_ms = reports.iter().map(|report| report.store_down_ms).max().unwrap_or(0);
        let store_queued_rows = reports.iter().map(|report| report.store_queued_rows).sum();
        let mut outages = Vec::new();
        if !bus.connected {
            outages.push(format!("bus disconnected for {} s", bus_down_ms / 1000));
        }
        if store_down_ms > 0 {
            outages.push(format!(
                "store unreachable for {} s: {store_queued_rows} checkpoint rows queued",
                store_down_ms / 1000
            ));
        }
        ServicesView {
            bus_connected: bus.connected,
            bus_down_ms,
            bus_disconnects: bus.disconnects + reports.iter().map(|report| report.bus_disconnects).sum::<u64>(),
            store_down_ms,
            store_queued_rows,
            outage: (!outages.is_empty()).then(|| outages.join("; ")),
        }
    }

    fn profiler_status(&self) -> ProfilerStatus {
        let report = self.profiler.report();
        ProfilerStatus { running: report.running, since_unix_ms: report.since_unix_ms }
    }
}

/// Each refusal as the admin API reports it: the field at fault for a bad request, not found for a cancel
/// with nothing scheduled.
impl From<ShutdownError> for ControlError {
    fn from(problem: ShutdownError) -> ControlError {
        match problem {
            ShutdownError::WrongCluster { .. } => ControlError::bad_request("cluster", problem.to_string()),
            ShutdownError::TooLong(_) => ControlError::bad_request("in_seconds", problem.to_string()),
            ShutdownError::BadReason(_) => ControlError::bad_request("reason", problem.to_string()),
            ShutdownError::NoneScheduled => ControlError::NotFound(problem.to_string()),
        }
    }
}

#[async_trait::async_trait]
impl ClusterControl for Control {
    fn cluster_name(&self) -> String {
        self.emergency.cluster_name().to_owned()
    }

    async fn cluster(&self) -> ClusterView {
        let reports = (self.reports)();
        let nodes = reports
            .iter()
            .map(|report| {
                let cpu_share = report
                    .systems
                    .iter()
                    .filter(|s| s.tick_ms > 0)
                    .map(|s| s.tick_work_ms / f64::from(s.tick_ms) * s.factor)
                    .sum();
                NodeView {
                    node_id: report.node_id,
                    systems: report.systems.len() as u32,
                    players: report.systems.iter().map(|s| s.ships as u64).sum(),
                    cpu_share,
                    tick_work_ms: report.systems.iter().map(|s| s.tick_work_ms).sum(),
                    late_ticks: report.late_ticks,
                    failed_systems: report.systems.iter().filter(|s| s.failed).count() as u32,
                    store_queued_rows: report.store_queued_rows,
                    store_down_ms: report.store_down_ms,
                    last_checkpoint_unix_ms: report.last_checkpoint_unix_ms,
                }
            })
            .collect();
        let systems = reports
            .iter()
            .flat_map(|report| {
                report
                    .systems
                    .iter()
                    .filter(|s| s.ships > 0 || s.factor < 1.0 || s.failed || s.queued > 0)
                    .map(|s| self.view(report.node_id, s))
            })
            .collect();
        ClusterView {
            cluster_name: self.cluster_name(),
            epoch: self.coordinator.epoch(),
            sessions: (self.sessions)(),
            nodes,
            systems,
            shutdown: self.shutdown_view(),
            services: self.services(&reports),
        }
    }

    async fn system(&self, system_id: u32) -> Option<SystemDetail> {
        let universe = self.universe();
        let index = universe.index_of(SystemId(system_id))?;
        let info = universe.system(index);
        let reports = (self.reports)();
        let (node_id, report) = reports
            .iter()
            .find_map(|r| r.systems.iter().find(|s| s.system_id == system_id).map(|s| (r.node_id, s.clone())))?;
        let region = universe.regions().iter().find(|r| r.id == info.region).map_or(String::new(), |r| r.name.clone());
        let constellation = universe
            .constellations()
            .iter()
            .find(|c| c.id == info.constellation)
            .map_or(String::new(), |c| c.name.clone());
        Some(SystemDetail {
            system: self.view(node_id, &report),
            security: info.security,
            region,
            constellation,
            neighbours: universe.neighbours(index).iter().map(|&n| universe.system(n).id.0).collect(),
            queue: report.queued as u32,
        })
    }

    async fn universe(&self) -> UniverseView {
        let universe = self.universe();
        let node_of = self.node_of.read().clone();
        let systems = universe
            .systems()
            .iter()
            .map(|s| MapSystem {
                system_id: s.id.0,
                name: s.name.clone(),
                x: s.position.x / LIGHT_YEAR_M,
                z: s.position.z / LIGHT_YEAR_M,
                security: s.security,
                node_id: node_of.get(&s.id.0).copied().unwrap_or(0),
            })
            .collect();
        let gates = universe.gates().map(|(a, b)| [universe.system(a).id.0, universe.system(b).id.0]).collect();
        UniverseView { systems, gates }
    }

    async fn settings(&self) -> Vec<SettingView> {
        let current = self.settings.lock().clone();
        let stored: HashMap<String, (u64, String)> = match self.store.settings().await {
            Ok(rows) => rows.into_iter().map(|row| (row.key, (row.updated_at_ms, row.value))).collect(),
            Err(_) => HashMap::new(),
        };
        current
            .entries()
            .into_iter()
            .map(|(key, value)| {
                let spec = orrery_settings::spec_for(&key).map(|(spec, _)| spec);
                let row = stored.get(&key);
                // Read-your-writes: a row written since the last poll is shown as pending beside the value in
                // force, so a GET right after a PUT never looks as if the change was lost.
                let pending = row
                    .filter(|(_, raw)| orrery_settings::parse(&key, raw).ok().as_ref() != Some(&value))
                    .map(|(_, raw)| {
                        orrery_settings::parse(&key, raw).map_or_else(
                            |_| serde_json::Value::String(raw.clone()),
                            |parsed| serde_json::to_value(&parsed).unwrap_or(serde_json::Value::Null),
                        )
                    });
                SettingView {
                    value: serde_json::to_value(&value).unwrap_or(serde_json::Value::Null),
                    pending,
                    default: spec
                        .and_then(|spec| serde_json::from_str(spec.default).ok())
                        .unwrap_or(serde_json::Value::Null),
                    description: spec.map_or(String::new(), |spec| spec.description.to_owned()),
                    updated_at_ms: row.map(|(updated_at_ms, _)| *updated_at_ms),
                    key,
                }
            })
            .collect()
    }

    async fn put_setting(&self, key: &str, value: serde_json::Value) -> Result<SettingView, ControlError> {
        if orrery_settings::spec_for(key).is_none() {
            return Err(ControlError::NotFound(format!("no setting {key:?} (GET /api/v1/settings lists them)")));
        }
        let parsed = orrery_settings::parse_json(key, &value)
            .map_err(|problem| ControlError::bad_request("value", problem.to_string()))?;
        self.store
            .put_setting(key, &parsed.to_json_text())
            .await
            .map_err(|problem| ControlError::Internal(problem.to_string()))?;
        let spec = orrery_settings::spec_for(key).map(|(spec, _)| spec);
        Ok(SettingView {
            key: key.to_owned(),
            value: serde_json::to_value(&parsed).unwrap_or(serde_json::Value::Null),
            default: spec.and_then(|spec| serde_json::from_str(spec.default).ok()).unwrap_or(serde_json::Value::Null),
            description: spec.map_or(String::new(), |spec| spec.description.to_owned()),
            updated_at_ms: Some(now_ms()),
            pending: None,
        })
    }

    async fn economy(&self, days: u32) -> Result<serde_json::Value, ControlError> {
        let names = orrery_market_role::built_in_names();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let report = orrery_market_role::economy_report(self.store.as_ref(), days, now, &names)
            .await
            .map_err(|problem| ControlError::Internal(format!("reading the economy: {problem}")))?;
        serde_json::to_value(report).map_err(|problem| ControlError::Internal(problem.to_string()))
    }

    async fn move_system(&self, system_id: u32, node: u32) -> Result<serde_json::Value, ControlError> {
        use crate::MoveError as M;
        match self.coordinator.move_system(system_id, node).await {
            Ok(report) => serde_json::to_value(report).map_err(|problem| ControlError::Internal(problem.to_string())),
            Err(problem @ M::UnknownSystem(_)) => Err(ControlError::NotFound(problem.to_string())),
            Err(problem @ M::UnknownNode(_)) => {
                Err(ControlError::BadRequest { field: "node".into(), reason: problem.to_string() })
            }
            Err(problem @ (M::AlreadyThere { .. } | M::Moving(_))) => Err(ControlError::Conflict(problem.to_string())),
            Err(problem @ M::Failed(_)) => Err(ControlError::Internal(problem.to_string())),
        }
    }

    async fn shutdown_status(&self) -> Option<ShutdownView> {
        self.shutdown_view()
    }

    async fn schedule_shutdown(&self, request: ShutdownRequest) -> Result<ShutdownView, ControlError> {
        self.emergency.schedule(&request.cluster, request.in_seconds, &request.reason)?;
        self.shutdown_view().ok_or_else(|| ControlError::Internal("the shutdown vanished".into()))
    }

    async fn cancel_shutdown(&self) -> Result<(), ControlError> {
        Ok(self.emergency.cancel().await?)
    }

    async fn profiler_start(&self) -> Result<ProfilerStatus, ControlError> {
        self.profiler.start();
        Ok(self.profiler_status())
    }

    async fn profiler_stop(&self) -> Result<ProfilerStatus, ControlError> {
        self.profiler.stop();
        Ok(self.profiler_status())
    }

    async fn profiler_report(&self) -> serde_json::Value {
        serde_json::to_value(self.profiler.report()).unwrap_or(serde_json::Value::Null)
    }

    async fn profiler_flamegraph(&self, seconds: u32) -> Result<String, ControlError> {
        let duration = Duration::from_secs(u64::from(seconds.clamp(1, 60)));
        tokio::task::spawn_blocking(move || orrery_telemetry::flamegraph(duration, 99))
            .await
            .map_err(|problem| ControlError::Internal(problem.to_string()))?
            .map_err(|problem| ControlError::Conflict(problem.to_string()))
    }

    fn log_level(&self) -> String {
        self.log.as_ref().map_or_else(|| "unknown".to_owned(), |log| log.current())
    }

    fn set_log_level(&self, filter: &str) -> Result<(), ControlError> {
        let log = self.log.as_ref().ok_or_else(|| ControlError::Conflict("logging is not reloadable here".into()))?;
        log.set(filter).map_err(|reason| ControlError::bad_request("filter", reason))
    }

    fn metrics(&self) -> String {
        (self.refresh_metrics)();
        self.metrics.encode()
    }

    async fn kills(&self, system_id: Option<u32>, limit: u32) -> Result<Vec<KillView>, ControlError> {
        let stored =
            self.store.kills(system_id, limit).await.map_err(|problem| ControlError::Internal(problem.to_string()))?;
        let types = orrery_sim::ShipTypes::builtin().unwrap_or_default();
        let ship = |ship_id, character_id, ship_type_id, damage| KillShip {
            ship_id,
            character_id,
            ship_type_id,
            ship_type: types.get(ship_type_id).map_or_else(String::new, |t| t.name.clone()),
            damage,
        };
        let line = |a: &orrery_store::KillAttacker| ship(a.ship_id, a.character_id, a.ship_type_id, a.damage);
        Ok(stored
            .iter()
            .map(|kill| KillView {
                kill_id: kill.kill_id,
                system_id: kill.system_id,
                system_name: self.name_of(kill.system_id),
                tick: kill.tick,
                sim_time_ms: kill.sim_time_ms,
                killed_at_unix_ms: kill.killed_at_ms,
                victim: ship(kill.victim_ship_id, kill.victim_character_id, kill.ship_type_id, 0.0),
                capsule: kill.capsule,
                position: kill.position,
                final_blow: line(&kill.final_blow),
                attackers: kill.attackers.iter().map(line).collect(),
            })
            .collect())
    }
}
