//! A cluster for tests: small generated universe, two sol nodes, 10 Hz ticks with the simulation fast-forwarded
//! ten times, cheap password hashing, ephemeral ports, a throwaway SQLite file.

#![allow(dead_code)]

pub mod cutter;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};
use orrery_cluster::{Cluster, ClusterConfig};
use orrery_proxy::PasswordPolicy;
use orrery_universe::{GeneratorConfig, Universe};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn universe() -> Universe {
    orrery_universe::generate(&GeneratorConfig { systems: 300, seed: 11 })
}

pub fn config(universe: Universe, db: &std::path::Path) -> ClusterConfig {
    let mut config = ClusterConfig::new(universe, format!("sqlite://{}", db.display()));
    config.nodes = 2;
    config.tick_ms = 100;
    config.sim_speed = 10.0;
    config.tcp_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.ws_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.password_policy = PasswordPolicy { memory_kib: 64, iterations: 1 };
    config.allow_fault_injection = true;
    config.checkpoint_every = Duration::from_secs(1);
    config
}

pub struct TestCluster {
    pub cluster: Cluster,
    pub universe: Universe,
    pub dir: tempfile::TempDir,
}

impl TestCluster {
    pub async fn start() -> TestCluster {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ClusterConfig)) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let universe = universe();
        let mut config = config(universe.clone(), &dir.path().join("orrery.db"));
        adjust(&mut config);
        let cluster = Cluster::start(config).await.expect("cluster starts");
        TestCluster { cluster, universe, dir }
    }

    pub fn addr(&self) -> String {
        self.cluster.tcp_addr().to_string()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.cluster.ws_addr().expect("ws listener"))
    }
}

/// A logged-in pilot in space.
pub struct Pilot {
    pub client: Client,
    pub character: v1::Character,
    pub snapshot: v1::SystemSnapshot,
    pub token: String,
    /// Last known position of every ship in the current system.
    pub ships: HashMap<u64, v1::ShipState>,
    pub chat: Vec<v1::ChatLine>,
    pub last_tick: u64,
    /// Kill reports seen in deltas, in order.
    pub kills: Vec<v1::KillReport>,
    /// Fight events seen in deltas, in order.
    pub fight: Vec<v1::fight_event::Event>,
    /// The last Respawned received (the pilot's capsule was lost).
    pub respawned: Option<v1::Respawned>,
}

pub async fn pilot(target: &str, name: &str) -> Pilot {
    let client = Client::connect(target).await.expect("connect");
    pilot_on(client, name).await
}

pub async fn pilot_on(mut client: Client, name: &str) -> Pilot {
    let session = client.register_or_login(name, "correct horse battery").await.expect("login");
    let character = match session.characters.first() {
        Some(character) => character.clone(),
        None => client.create_character(&format!("{name} pilot")).await.expect("character"),
    };
    undocked(client, character, session.token).await
}

/// The pilot of `character` (created or listed on `client`'s session, whose token is `token`), undocked.
pub async fn undocked(mut client: Client, character: v1::Character, token: String) -> Pilot {
    let snapshot = client.undock(character.character_id).await.expect("undock");
    let mut pilot = Pilot {
        client,
        character,
        snapshot: v1::SystemSnapshot::default(),
        token,
        ships: HashMap::new(),
        chat: Vec::new(),
        last_tick: 0,
        kills: Vec::new(),
        fight: Vec::new(),
        respawned: None,
    };
    pilot.enter(snapshot);
    pilot
}

impl Pilot {
    pub fn ship_id(&self) -> u64 {
        self.snapshot.your_ship_id
    }

    pub fn system(&self) -> u32 {
        self.snapshot.system_id
    }

    pub fn enter(&mut self, snapshot: v1::SystemSnapshot) {
        self.chat.extend(snapshot.chat.iter().cloned());
        self.ships = snapshot.ships.iter().map(|ship| (ship.ship_id, ship.clone())).collect();
        self.last_tick = snapshot.tick;
        self.snapshot = snapshot;
    }

    pub fn me(&self) -> Option<&v1::ShipState> {
        self.ships.get(&self.ship_id())
    }

    pub fn position(&self) -> [f64; 3] {
        let p = self.me().and_then(|ship| ship.position).unwrap_or_default();
        [p.x as f64, p.y as f64, p.z as f64]
    }

    /// Distance to another ship, by the last positions seen (infinite for a ship not seen).
    pub fn distance_to_ship(&self, id: u64) -> f64 {
        let Some(p) = self.ships.get(&id).and_then(|ship| ship.position) else { return f64::INFINITY };
        let me = self.position();
        ((me[0] - p.x as f64).powi(2) + (me[1] - p.y as f64).powi(2) + (me[2] - p.z as f64).powi(2)).sqrt()
    }

    pub fn celestial(&self, id: u64) -> Option<&v1::Celestial> {
        self.snapshot.celestials.iter().find(|c| c.id == id)
    }

    pub fn gates(&self) -> Vec<v1::Celestial> {
        self.snapshot.celestials.iter().filter(|c| c.kind == v1::CelestialKind::Stargate as i32).cloned().collect()
    }

    pub fn gate_to(&self, system: u32) -> Option<v1::Celestial> {
        self.gates().into_iter().find(|gate| gate.destination_system_id == system)
    }

    pub fn distance_to(&self, id: u64) -> f64 {
        let Some(p) = self.celestial(id).and_then(|c| c.position) else { return f64::INFINITY };
        let me = self.position();
        ((me[0] - p.x as f64).powi(2) + (me[1] - p.y as f64).powi(2) + (me[2] - p.z as f64).powi(2)).sqrt()
    }

    /// Apply one unsolicited envelope (delta or snapshot); returns it for the caller to inspect.
    pub fn absorb(&mut self, envelope: &v1::ServerEnvelope) {
        match &envelope.body {
            Some(Msg::Delta(delta)) if delta.system_id == self.system() && delta.tick > self.last_tick => {
                self.last_tick = delta.tick;
                for ship in delta.arrived.iter().chain(&delta.moved) {
                    self.ships.insert(ship.ship_id, ship.clone());
                }
                for gone in &delta.departed {
                    self.ships.remove(gone);
                }
                self.chat.extend(delta.chat.iter().cloned());
                self.snapshot.celestials.extend(delta.new_celestials.iter().cloned());
                self.kills.extend(delta.kills.iter().cloned());
                self.fight.extend(delta.fight.iter().filter_map(|event| event.event));
            }
            Some(Msg::Respawned(respawned)) => self.respawned = Some(*respawned),
            Some(Msg::Snapshot(snapshot)) => self.enter(snapshot.clone()),
            _ => {}
        }
    }

    /// Read events until `done` holds (checked after each), or fail after `timeout`.
    pub async fn until(&mut self, timeout: Duration, what: &str, mut done: impl FnMut(&Pilot) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            match self.client.next_event_until(tokio::time::Instant::from_std(deadline)).await {
                Ok(Some(envelope)) => {
                    if let Some(Msg::Error(error)) = &envelope.body {
                        panic!("unexpected error while waiting for {what}: {error:?}");
                    }
                    self.absorb(&envelope);
                }
                Ok(None) => {}
                Err(error) => panic!("connection failed while waiting for {what}: {error}"),
            }
        }
    }

    /// Send a command that normally gets no answer; an error answer surfaces in later reads.
    pub async fn command(&mut self, body: Cmd) -> u32 {
        self.client.send(body).await.expect("send")
    }

    /// Send a command that must be refused, and return the error.
    pub async fn refused(&mut self, body: Cmd) -> (v1::ErrorCode, String) {
        match self.client.request(body, WAIT).await {
            Err(ClientError::Server { code, reason }) => (code, reason),
            other => panic!("expected an error answer, got {other:?}"),
        }
    }

    /// Warp to (or approach) a stargate and stop within jump range.
    pub async fn go_to_gate(&mut self, gate: u64) {
        if self.distance_to(gate) > 150_000.0 {
            self.command(Cmd::WarpTo(v1::WarpTo { object_id: gate, range_m: 0 })).await;
        } else {
            self.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::ObjectId(gate)) })).await;
        }
        self.until(WAIT, "arriving at the gate", |pilot| {
            pilot.distance_to(gate) < 2_400.0
                && pilot.me().is_some_and(|ship| ship.motion == v1::ShipMotion::Idle as i32)
        })
        .await;
    }

    /// Jump through a gate in range; returns the new system's snapshot.
    pub async fn jump(&mut self, gate: u64) -> v1::SystemSnapshot {
        let answer = self.client.request(Cmd::Jump(v1::Jump { gate_id: gate }), WAIT).await.expect("jump");
        let Some(Msg::Snapshot(snapshot)) = answer.body else { panic!("jump answered with {answer:?}") };
        self.enter(snapshot.clone());
        snapshot
    }
}

/// The shortest gate route from `from` to the nearest system satisfying `goal`.
pub fn route(universe: &Universe, from: u32, goal: impl Fn(u32) -> bool) -> Vec<u32> {
    let start = universe.index_of(orrery_universe::SystemId(from)).expect("known system");
    let mut previous = HashMap::new();
    let mut seen = HashSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(index) = queue.pop_front() {
        if goal(universe.system(index).id.0) {
            let mut path = vec![universe.system(index).id.0];
            let mut at = index;
            while let Some(&before) = previous.get(&at) {
                path.push(universe.system(before).id.0);
                at = before;
            }
            path.reverse();
            return path;
        }
        for &next in universe.neighbours(index) {
            if seen.insert(next) {
                previous.insert(next, index);
                queue.push_back(next);
            }
        }
    }
    panic!("no route from {from}");
}

/// A pilot name (as `pilot` uses it) whose new character starts in a system for which `wanted` holds: new
/// characters are spread over the starting systems by a hash of their name.
pub fn name_starting(test: &TestCluster, prefix: &str, wanted: impl Fn(u32) -> bool) -> String {
    let world = orrery_cluster::proxy_world(&test.universe).expect("world");
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|name| wanted(world.starting_system(&format!("{name} pilot"))))
        .expect("a name that starts where wanted")
}

pub fn name_starting_in(test: &TestCluster, system: u32, prefix: &str) -> String {
    name_starting(test, prefix, |start| start == system)
}

pub fn name_starting_elsewhere(test: &TestCluster, system: u32, prefix: &str) -> String {
    name_starting(test, prefix, |start| start != system)
}

/// Send a test-only fault to a system through the bus, as a sol node would receive it.
pub async fn inject(test: &TestCluster, system: u32, fault: v1::InjectFault) {
    use prost::Message;
    let message = v1::SystemInbox { body: Some(v1::system_inbox::Body::InjectFault(fault)), origin: 0, seq: 0 };
    test.cluster
        .bus()
        .publish(&format!("system.{system}"), bytes::Bytes::from(message.encode_to_vec()))
        .await
        .expect("publish");
}

/// A second proxy (id 2) on the test cluster's bus and store, as a cluster with several proxies has.
pub async fn extra_proxy(
    test: &TestCluster,
    adjust: impl FnOnce(&mut orrery_proxy::ProxyConfig),
) -> orrery_proxy::ProxyHandle {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = orrery_proxy::ProxyConfig::new(2, local, Some(local));
    config.password_policy = PasswordPolicy { memory_kib: 64, iterations: 1 };
    adjust(&mut config);
    let world = orrery_cluster::proxy_world(&test.universe).expect("world");
    let bus: std::sync::Arc<dyn orrery_bus::Bus> = test.cluster.bus().clone();
    orrery_proxy::start(config, bus, test.cluster.store().clone(), world).await.expect("second proxy starts")
}

/// A real service's URL from `variable` (scripts/test.sh starts NATS and PostgreSQL and sets them); without it
/// the test fails, saying what is missing — it never skips.
pub fn service(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: this test needs the real NATS and PostgreSQL servers. Run the tests through \
             scripts/test.sh, or start them with `eval \"$(scripts/services.sh start)\"`"
        )
    })
}

/// Point `config` at the real NATS server and at `postgres` (a database of the test's own), under a cluster name
/// of this test process's own: tests running at once on one NATS server must not hear each other's subjects.
pub fn on_real_services(config: &mut ClusterConfig, postgres: &str) {
    config.bus_url = Some(service("ORRERY_TEST_NATS_URL"));
    config.db_url = postgres.to_owned();
    config.cluster_name = format!("test-{}", std::process::id());
}

/// One HTTP/1.1 request to the admin port; returns (status, body).
pub async fn http(
    test: &TestCluster,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = test.cluster.admin_addr().expect("admin listening");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect admin");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await.expect("answer").unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    // Chunked encoding: keep it simple by stripping chunk-size lines when present.
    let body = if text.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    (status, body)
}

pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
