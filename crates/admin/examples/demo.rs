//! Serves the admin dashboard over a simulated cluster, to look at the page without running a real one:
//! three sol nodes (or `--nodes N`), a few hundred systems on a disc with stargates, players drifting between
//! trade hubs and quiet space, and a battle that moves every 45 s and drives its node into Time Dilation.
//! Settings, the shutdown countdown, the profiler and the log level all work against in-memory state.
//!
//! ```sh
//! cargo run -p orrery-admin --example demo -- --listen 127.0.0.1:7780 [--token TOKEN] [--cluster NAME] [--nodes N]
//! ```
//!
//! It prints the dashboard's URL with the token in the fragment; Ctrl-C stops it.

use std::f64::consts::TAU;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orrery_admin::{
    AdminConfig, ClusterControl, ClusterView, ControlError, MapSystem, NodeView, ProfilerStatus, ServicesView,
    SettingView, ShutdownRequest, ShutdownView, SystemDetail, SystemView, UniverseView,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

const SYSTEMS: usize = 360;
/// Sol nodes simulated unless `--nodes` says otherwise.
const DEFAULT_NODES: u32 = 3;
const RADIUS_LY: f64 = 60.0;
const TICK_MS: u32 = 1000;
const BATTLE_PERIOD_S: f64 = 45.0;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("demo: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let mut listen: SocketAddr = orrery_admin::DEFAULT_LISTEN;
    let mut token = None;
    let mut cluster = "orrery-demo".to_owned();
    let mut nodes = DEFAULT_NODES;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                listen = text.parse().map_err(|e| format!("--listen {text}: {e}"))?;
            }
            "--token" => token = Some(value("--token")?),
            "--cluster" => cluster = value("--cluster")?,
            "--nodes" => {
                let text = value("--nodes")?;
                nodes = text.parse().ok().filter(|n| (1..=64).contains(n)).ok_or(format!("--nodes {text}: 1 to 64"))?;
            }
            "-h" | "--help" => {
                println!("usage: demo [--listen ADDR] [--token TOKEN] [--cluster NAME] [--nodes N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    let token = match token {
        Some(token) => token,
        None => orrery_admin::generate_token().map_err(|e| format!("generating a token: {e}"))?,
    };
    let control = Arc::new(Demo::new(cluster, nodes));
    let config = AdminConfig { listen, token: token.clone() };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let handle = orrery_admin::serve(config, control, shutdown).await.map_err(|e| e.to_string())?;
    println!("orrery admin demo: {}", handle.dashboard_url(&token));
    println!("API: curl -H 'Authorization: Bearer {token}' http://{}/api/v1/cluster", handle.local_addr());
    handle.join().await.map_err(|e| e.to_string())
}

/// SplitMix64: a few lines of seeded randomness, so the demo map is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A system of the simulated universe: its place and what makes it busy.
struct DemoSystem {
    map: MapSystem,
    region: String,
    constellation: String,
    neighbours: Vec<u32>,
    /// Typical players there; hubs have hundreds.
    base_players: f64,
    period_s: f64,
    phase: f64,
}

/// The simulated cluster.
struct Demo {
    name: String,
    started: Instant,
    systems: Vec<DemoSystem>,
    gates: Vec<[u32; 2]>,
    failed: u32,
    settings: Mutex<Vec<SettingView>>,
    shutdown: Mutex<Option<(ShutdownRequest, u64)>>,
    profiler_since: Mutex<Option<(bool, u64)>>,
    log_filter: Mutex<String>,
    nodes: u32,
    late_ticks: Mutex<Vec<u64>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn setting(key: &str, value: Value, description: &str) -> SettingView {
    SettingView {
        key: key.into(),
        value: value.clone(),
        default: value,
        description: description.into(),
        pending: None,
        updated_at_ms: None,
    }
}

impl Demo {
    fn new(name: String, nodes: u32) -> Self {
        let mut rng = Rng(0x0660_77E1);
        let syllables =
            ["ji", "ta", "amarr", "do", "dix", "ie", "rens", "hek", "o", "sa", "ku", "mo", "ne", "vel", "ar"];
        let regions = ["The Forge", "Domain", "Sinq Laison", "Heimatar", "Metropolis", "Delve"];
        let mut systems: Vec<DemoSystem> = Vec::with_capacity(SYSTEMS);
        while systems.len() < SYSTEMS {
            let r = RADIUS_LY * rng.unit().sqrt();
            let a = rng.unit() * TAU;
            let (x, z) = (r * a.cos(), r * a.sin() * 0.8);
            if systems.iter().any(|s| (s.map.x - x).hypot(s.map.z - z) < 2.2) {
                continue;
            }
            let id = 30_000_001 + systems.len() as u32;
            let mut name = String::new();
            for _ in 0..2 + rng.below(2) {
                name.push_str(syllables[rng.below(syllables.len())]);
            }
            let mut chars = name.chars();
            let name = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            let name =
                if rng.unit() < 0.3 { format!("{name}-{}", ["I", "II", "IV", "V", "VII"][rng.below(5)]) } else { name };
            // Nodes by sector (slices of the disc), as a premapper would give each node one region of space.
            let sector = ((a / TAU) * f64::from(nodes)).floor() as u32 % nodes;
            let security = (1.0 - 1.9 * r / RADIUS_LY).clamp(-1.0, 1.0);
            let region = regions[((a / TAU) * regions.len() as f64) as usize % regions.len()].to_owned();
            let quiet = rng.unit() < 0.45;
            let base_players = if quiet { 0.0 } else { (rng.unit() * 14.0).powf(1.3) * (1.2 - r / RADIUS_LY) };
            systems.push(DemoSystem {
                map: MapSystem { system_id: id, name, x, z, security, node_id: sector },
                region,
                constellation: format!("C-{:03}", (r / 12.0) as u32 * 10 + (a / TAU * 10.0) as u32),
                neighbours: Vec::new(),
                base_players,
                period_s: 20.0 + rng.unit() * 80.0,
                phase: rng.unit() * TAU,
            });
        }
        // Five trade hubs near the centre.
        let mut by_centre: Vec<usize> = (0..systems.len()).collect();
        by_centre.sort_by(|&a, &b| {
            let da = systems[a].map.x.hypot(systems[a].map.z);
            let db = systems[b].map.x.hypot(systems[b].map.z);
            da.total_cmp(&db)
        });
        for (rank, &i) in by_centre.iter().step_by(7).take(5).enumerate() {
            systems[i].base_players = [650.0, 320.0, 240.0, 180.0, 120.0][rank];
        }
        // Stargates: each system to its two or three nearest neighbours.
        let mut gates: Vec<[u32; 2]> = Vec::new();
        for i in 0..systems.len() {
            let mut near: Vec<(f64, usize)> = (0..systems.len())
                .filter(|&j| j != i)
                .map(|j| ((systems[i].map.x - systems[j].map.x).hypot(systems[i].map.z - systems[j].map.z), j))
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            for &(_, j) in near.iter().take(2 + (i % 2)) {
                let (a, b) = (
                    systems[i].map.system_id.min(systems[j].map.system_id),
                    systems[i].map.system_id.max(systems[j].map.system_id),
                );
                if !gates.contains(&[a, b]) {
                    gates.push([a, b]);
                }
            }
        }
        for &[a, b] in &gates {
            systems[(a - 30_000_001) as usize].neighbours.push(b);
            systems[(b - 30_000_001) as usize].neighbours.push(a);
        }
        let failed = systems[SYSTEMS - 17].map.system_id;
        let settings = vec![
            setting(
                "tidi.budget",
                json!(0.8),
                "Fraction of a core a node may spend on ticks before Time Dilation slows its busiest systems.",
            ),
            setting("tidi.floor", json!(0.1), "The slowest Time Dilation factor (0.1 = ten times slower)."),
            setting("system.max_players", json!(2000), "Ships allowed in one system at once; more wait in the queue."),
            setting("checkpoint.interval_s", json!(10), "Seconds between checkpoints of every ship in space."),
            setting("motd", json!("Welcome to orrery."), "Message of the day, shown at login."),
        ];
        Demo {
            name,
            started: Instant::now(),
            systems,
            gates,
            failed,
            settings: Mutex::new(settings),
            shutdown: Mutex::new(None),
            profiler_since: Mutex::new(None),
            log_filter: Mutex::new("info".into()),
            nodes,
            late_ticks: Mutex::new(vec![0; nodes as usize]),
        }
    }

    /// Players in each system at `t` seconds, with the battle added.
    fn players(&self, t: f64) -> Vec<u64> {
        let battle_round = (t / BATTLE_PERIOD_S).floor() as u64;
        let battle = Rng(battle_round.wrapping_mul(7919) + 3).below(self.systems.len());
        let progress = (t / BATTLE_PERIOD_S).fract();
        self.systems
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let wave = 1.0 + 0.35 * (t / s.period_s * TAU + s.phase).sin();
                let mut players = s.base_players * wave;
                if i == battle {
                    players += 2300.0 * (progress * std::f64::consts::PI).sin().powf(0.6);
                }
                players.max(0.0).round() as u64
            })
            .collect()
    }

    /// The live views: per system (players, work, TiDi) and per node, water-filling each node's budget.
    fn live(&self) -> (Vec<SystemView>, Vec<NodeView>) {
        let t = self.started.elapsed().as_secs_f64();
        let players = self.players(t);
        let budget = self.setting_f64("tidi.budget", 0.8);
        let floor = self.setting_f64("tidi.floor", 0.1);
        let max_players = self.setting_f64("system.max_players", 2000.0) as u32;
        let work: Vec<f64> = players.iter().map(|&p| 0.08 + 0.05 * p as f64 + 0.000_3 * (p as f64).powi(2)).collect();
        let mut tidi = vec![1.0; self.systems.len()];
        let mut nodes = Vec::new();
        let mut late = self.late_ticks.lock();
        for node in 0..self.nodes {
            let members: Vec<usize> =
                (0..self.systems.len()).filter(|&i| self.systems[i].map.node_id == node).collect();
            let mut demands: Vec<(f64, usize)> = members.iter().map(|&i| (work[i] / f64::from(TICK_MS), i)).collect();
            demands.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut left = budget;
            let mut used = 0.0;
            for (k, &(demand, i)) in demands.iter().enumerate() {
                let share = left / (demands.len() - k) as f64;
                let given = demand.min(share);
                tidi[i] = if demand > 0.0 { (given / demand).clamp(floor, 1.0) } else { 1.0 };
                let spent = demand * tidi[i];
                left -= spent.min(left);
                used += spent;
            }
            if used > budget * 0.98 {
                late[node as usize] += 1;
            }
            nodes.push(NodeView {
                node_id: node,
                systems: members.len() as u32,
                players: members.iter().map(|&i| players[i]).sum(),
                cpu_share: used,
                tick_work_ms: used * 1000.0,
                late_ticks: late[node as usize],
                failed_systems: members.iter().filter(|&&i| self.systems[i].map.system_id == self.failed).count()
                    as u32,
                store_queued_rows: 0,
                store_down_ms: 0,
                last_checkpoint_unix_ms: 0,
            });
        }
        let systems = self
            .systems
            .iter()
            .enumerate()
            .map(|(i, s)| SystemView {
                system_id: s.map.system_id,
                name: s.map.name.clone(),
                node_id: s.map.node_id,
                players: players[i],
                tidi: (tidi[i] * 100.0).round() / 100.0,
                tick_work_ms: work[i],
                tick_ms: TICK_MS,
                max_players,
                failed: s.map.system_id == self.failed,
                kills: 0,
            })
            .collect();
        (systems, nodes)
    }

    fn setting_f64(&self, key: &str, default: f64) -> f64 {
        let settings = self.settings.lock();
        settings.iter().find(|s| s.key == key).and_then(|s| s.value.as_f64()).unwrap_or(default)
    }

    fn shutdown_view(&self) -> Option<ShutdownView> {
        let mut guard = self.shutdown.lock();
        let (request, fires_at) = guard.as_ref()?;
        let now = now_ms();
        if now >= *fires_at {
            println!("demo: the shutdown of {} would start now ({}); clearing it", request.cluster, request.reason);
            *guard = None;
            return None;
        }
        Some(ShutdownView {
            cluster: request.cluster.clone(),
            reason: request.reason.clone(),
            fires_at_unix_ms: *fires_at,
            seconds_left: (fires_at - now).div_ceil(1000),
        })
    }
}

#[async_trait::async_trait]
impl ClusterControl for Demo {
    fn cluster_name(&self) -> String {
        self.name.clone()
    }

    async fn cluster(&self) -> ClusterView {
        let (systems, nodes) = self.live();
        let in_space: u64 = systems.iter().map(|s| s.players).sum();
        ClusterView {
            cluster_name: self.name.clone(),
            epoch: 7,
            sessions: in_space + in_space / 9,
            nodes,
            systems: systems.into_iter().filter(|s| s.players > 0 || s.tidi < 1.0 || s.failed).collect(),
            shutdown: self.shutdown_view(),
            services: ServicesView { bus_connected: true, ..ServicesView::default() },
        }
    }

    async fn system(&self, system_id: u32) -> Option<SystemDetail> {
        let index = self.systems.iter().position(|s| s.map.system_id == system_id)?;
        let (systems, _) = self.live();
        let live = systems.into_iter().nth(index)?;
        let s = &self.systems[index];
        let queue = live.players.saturating_sub(u64::from(live.max_players)) as u32;
        Some(SystemDetail {
            system: live,
            security: s.map.security,
            region: s.region.clone(),
            constellation: s.constellation.clone(),
            neighbours: s.neighbours.clone(),
            queue,
        })
    }

    async fn universe(&self) -> UniverseView {
        UniverseView { systems: self.systems.iter().map(|s| s.map.clone()).collect(), gates: self.gates.clone() }
    }

    async fn settings(&self) -> Vec<SettingView> {
        self.settings.lock().clone()
    }

    async fn put_setting(&self, key: &str, value: Value) -> Result<SettingView, ControlError> {
        let mut settings = self.settings.lock();
        let setting = settings
            .iter_mut()
            .find(|s| s.key == key)
            .ok_or_else(|| ControlError::NotFound(format!("no setting `{key}`")))?;
        let fits = match (&setting.default, &value) {
            (Value::Number(_), Value::Number(n)) => match key {
                "tidi.budget" | "tidi.floor" => n.as_f64().is_some_and(|v| (0.05..=1.0).contains(&v)),
                _ => n.as_u64().is_some_and(|v| v >= 1),
            },
            (Value::String(_), Value::String(s)) => s.len() <= 200,
            _ => false,
        };
        if !fits {
            return Err(ControlError::bad_request("value", format!("not a valid value for `{key}`: {value}")));
        }
        setting.value = value;
        setting.updated_at_ms = Some(now_ms());
        Ok(setting.clone())
    }

    async fn shutdown_status(&self) -> Option<ShutdownView> {
        self.shutdown_view()
    }

    async fn schedule_shutdown(&self, request: ShutdownRequest) -> Result<ShutdownView, ControlError> {
        if request.cluster != self.name {
            return Err(ControlError::bad_request("cluster", format!("this cluster is `{}`", self.name)));
        }
        let fires_at = now_ms() + request.in_seconds * 1000;
        *self.shutdown.lock() = Some((request, fires_at));
        self.shutdown_view().ok_or_else(|| ControlError::Internal("the shutdown fired at once".into()))
    }

    async fn cancel_shutdown(&self) -> Result<(), ControlError> {
        match self.shutdown.lock().take() {
            Some(_) => Ok(()),
            None => Err(ControlError::NotFound("no shutdown is scheduled".into())),
        }
    }

    async fn profiler_start(&self) -> Result<ProfilerStatus, ControlError> {
        let mut profiler = self.profiler_since.lock();
        if matches!(*profiler, Some((true, _))) {
            return Err(ControlError::Conflict("the profiler is already running".into()));
        }
        let since = now_ms();
        *profiler = Some((true, since));
        Ok(ProfilerStatus { running: true, since_unix_ms: Some(since) })
    }

    async fn profiler_stop(&self) -> Result<ProfilerStatus, ControlError> {
        let mut profiler = self.profiler_since.lock();
        let since = profiler.map(|(_, since)| since);
        *profiler = since.map(|since| (false, since));
        Ok(ProfilerStatus { running: false, since_unix_ms: since })
    }

    async fn profiler_report(&self) -> Value {
        let profiler = *self.profiler_since.lock();
        let Some((running, since)) = profiler else {
            return json!({"running": false, "since_unix_ms": null, "elapsed_s": 0.0,
                          "by_message": [], "by_system": []});
        };
        let elapsed = (now_ms().saturating_sub(since)) as f64 / 1000.0;
        let (systems, _) = self.live();
        let messages =
            [("Move", 60.0, 9.0), ("Warp", 9.0, 14.0), ("Jump", 3.0, 41.0), ("Chat", 5.0, 6.0), ("Login", 0.4, 2100.0)];
        let by_message: Vec<Value> = messages
            .iter()
            .map(|&(name, rate, mean)| {
                let count = (rate * elapsed * 10.0) as u64;
                json!({"name": name, "count": count, "total_ms": count as f64 * mean / 1000.0, "mean_us": mean,
                       "p50_us": mean * 0.8, "p99_us": mean * 4.5, "max_us": mean * 12.0})
            })
            .collect();
        let mut busy: Vec<&SystemView> = systems.iter().filter(|s| s.players > 0).collect();
        busy.sort_by(|a, b| b.tick_work_ms.total_cmp(&a.tick_work_ms));
        let by_system: Vec<Value> = busy
            .iter()
            .take(8)
            .map(|s| {
                let ticks = (elapsed * s.tidi) as u64;
                json!({"system_id": s.system_id, "name": s.name, "ticks": ticks,
                       "total_ms": ticks as f64 * s.tick_work_ms,
                       "mean_us": s.tick_work_ms * 1000.0, "p99_us": s.tick_work_ms * 1400.0})
            })
            .collect();
        json!({"running": running, "since_unix_ms": since, "elapsed_s": elapsed,
               "by_message": by_message, "by_system": by_system})
    }

    async fn profiler_flamegraph(&self, seconds: u32) -> Result<String, ControlError> {
        tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
        let frames = [
            (0.0, 1.0, 0, "all"),
            (0.0, 0.92, 1, "sol node"),
            (0.0, 0.6, 2, "tick"),
            (0.6, 0.25, 2, "publish delta"),
            (0.0, 0.45, 3, "sim::step"),
            (0.45, 0.15, 3, "drain inbox"),
            (0.92, 0.08, 1, "proxy"),
        ];
        let mut svg = String::from(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="140" font-family="sans-serif">"#,
        );
        for (x, w, depth, name) in frames {
            let y = 120 - depth * 20;
            svg.push_str(&format!(
                r##"<rect x="{:.0}" y="{y}" width="{:.0}" height="18" fill="#e8{:02x}40"/>
<text x="{:.0}" y="{}" font-size="12">{name}</text>"##,
                x * 1200.0,
                w * 1200.0 - 1.0,
                0x60 + depth * 0x20,
                x * 1200.0 + 4.0,
                y + 13
            ));
        }
        svg.push_str("</svg>\n");
        Ok(svg)
    }

    fn log_level(&self) -> String {
        self.log_filter.lock().clone()
    }

    fn set_log_level(&self, filter: &str) -> Result<(), ControlError> {
        let valid = !filter.trim().is_empty()
            && filter.chars().all(|c| c.is_ascii_alphanumeric() || "_=,:-.".contains(c))
            && filter.split(',').all(|d| {
                let level = d.rsplit('=').next().unwrap_or("");
                d.contains('=') && !level.is_empty()
                    || ["trace", "debug", "info", "warn", "error", "off"].contains(&level)
            });
        if !valid {
            return Err(ControlError::bad_request("filter", format!("`{filter}` is not a log filter directive")));
        }
        *self.log_filter.lock() = filter.to_owned();
        Ok(())
    }

    fn metrics(&self) -> String {
        let (systems, nodes) = self.live();
        let mut text = String::from(
            "# HELP orrery_node_cpu_share Fraction of one core used by ticks.\n# TYPE orrery_node_cpu_share gauge\n",
        );
        for n in &nodes {
            text.push_str(&format!("orrery_node_cpu_share{{node=\"{}\"}} {}\n", n.node_id, n.cpu_share));
        }
        text.push_str("# HELP orrery_node_players Players on the node.\n# TYPE orrery_node_players gauge\n");
        for n in &nodes {
            text.push_str(&format!("orrery_node_players{{node=\"{}\"}} {}\n", n.node_id, n.players));
        }
        let dilated = systems.iter().filter(|s| s.tidi < 1.0).count();
        text.push_str("# HELP orrery_systems_dilated Systems under Time Dilation.\n");
        text.push_str(&format!("# TYPE orrery_systems_dilated gauge\norrery_systems_dilated {dilated}\n"));
        text
    }
}
