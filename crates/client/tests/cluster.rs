//! The client library against a real in-process cluster (two sol nodes, proxy on ephemeral TCP and WebSocket
//! ports, a throwaway SQLite file): pilots see each other and each other's chat, fly to a gate and jump, every
//! command's typed answer or refusal, and a dropped connection resumed onto the same ship.

use std::net::SocketAddr;
use std::time::Duration;

use orrery_client::orrery_proto::v1::{self, ErrorCode, ShipMotion, create_character::StartSystem};
use orrery_client::{ClientError, Connection, Event, Pilot, PilotOptions};
use orrery_cluster::{Cluster, ClusterConfig};
use orrery_proxy::PasswordPolicy;
use orrery_universe::GeneratorConfig;

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery";

struct TestCluster {
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// 300 generated systems on two nodes, 10 Hz ticks with the simulation fast-forwarded ten times (a warp
    /// takes a couple of seconds), cheap password hashing.
    async fn start() -> TestCluster {
        TestCluster::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut ClusterConfig)) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let universe = orrery_universe::generate(&GeneratorConfig { systems: 300, seed: 11 });
        let db = format!("sqlite://{}", dir.path().join("orrery.db").display());
        let mut config = ClusterConfig::new(universe, db);
        config.nodes = 2;
        config.tick_ms = 100;
        config.sim_speed = 10.0;
        config.tcp_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.ws_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.password_policy = PasswordPolicy { memory_kib: 64, iterations: 1 };
        adjust(&mut config);
        let cluster = Cluster::start(config).await.expect("cluster starts");
        TestCluster { cluster, _dir: dir }
    }

    fn tcp(&self) -> String {
        self.cluster.tcp_addr().to_string()
    }

    fn ws(&self) -> String {
        format!("ws://{}/", self.cluster.ws_addr().expect("the cluster listens on WebSocket"))
    }
}

/// Options that start a new character in `system` (to meet another pilot there).
fn starting_in(system: u32) -> PilotOptions {
    PilotOptions { start_system: Some(StartSystem::StartSystemId(system)), ..PilotOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pilots_see_each_other_and_chat_then_one_flies_through_a_gate() {
    let test = TestCluster::start().await;
    let mut alice = Pilot::start(&test.tcp(), "alice", PASSWORD).await.expect("alice in space");
    let system = alice.mirror().system_id();
    // Bob over WebSocket, meeting Alice in her starting system.
    let mut bob = Pilot::start_with(&test.ws(), "bob", PASSWORD, starting_in(system)).await.expect("bob in space");
    assert_eq!(bob.mirror().system_id(), system);
    assert_eq!(bob.character().name, "bob");

    let bob_ship = bob.mirror().own_ship_id();
    alice.wait_until(WAIT, |mirror| mirror.ship(bob_ship).is_some()).await.expect("alice sees bob arrive");
    assert_eq!(alice.mirror().ship(bob_ship).map(|ship| ship.pilot.as_str()), Some("bob"));
    let alice_ship = alice.mirror().own_ship_id();
    assert!(bob.mirror().ship(alice_ship).is_some(), "bob's snapshot shows alice");
    assert!(alice.mirror().celestials().count() > 1, "a star and more");
    assert!(alice.mirror().tidi() > 0.0 && alice.mirror().tidi() <= 1.0);

    bob.chat("o7 alice").await.expect("chat sent");
    alice
        .wait_until(WAIT, |mirror| mirror.chat().any(|line| line.pilot == "bob" && line.text == "o7 alice"))
        .await
        .expect("alice hears bob");

    // Alice flies to a gate and jumps; Bob sees her leave.
    let gate = alice.mirror().gates().next().cloned().expect("a starting system has a stargate");
    alice.fly_to(gate.id, Duration::from_secs(120)).await.expect("alice reaches the gate");
    assert!(alice.mirror().distance_to(gate.id).is_some_and(|d| d <= orrery_client::JUMP_RANGE_M));
    let arrived = alice.jump(gate.id).await.expect("jump");
    assert_eq!(arrived.system_id(), gate.destination_system_id);
    assert_eq!(arrived.own_ship_id(), alice_ship);
    assert_eq!(arrived.own_ship().map(|ship| ship.motion), Some(ShipMotion::Idle as i32));
    assert!(arrived.gate_to(system).is_some(), "the gate back is in the destination");
    bob.wait_until(WAIT, |mirror| mirror.ship(alice_ship).is_none()).await.expect("bob sees alice leave");

    alice.logout().await.expect("alice logs out");
    bob.logout().await.expect("bob logs out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_gets_its_typed_answer_or_refusal() {
    let test = TestCluster::start().await;
    let mut connection = Connection::connect(&test.tcp()).await.expect("connect");
    assert!(connection.ping().await.expect("ping before login") < WAIT);
    let refused = connection.undock(1).await.expect_err("not logged in");
    assert_eq!(refused.server_code(), Some(ErrorCode::NotLoggedIn));
    let session = connection.register("carol", PASSWORD).await.expect("register");
    assert!(!session.token.is_empty());
    assert!(!session.trade_hubs.is_empty(), "the server names trade hubs");
    let hub = session.trade_hubs[0].clone();
    let again = connection.register("dave", PASSWORD).await.expect_err("one account per connection");
    assert_eq!(again.server_code(), Some(ErrorCode::AlreadyLoggedIn));
    let character =
        connection.create_character_in("Carol", Some(StartSystem::StartSystemId(hub.system_id))).await.expect("create");
    assert_eq!(character.system_id, hub.system_id);
    let nowhere = connection.create_character_in("Carol Two", Some(StartSystem::StartSystemName("Nowhere".into())));
    assert_eq!(nowhere.await.expect_err("no such system").server_code(), Some(ErrorCode::NotAStartingSystem));
    let snapshot = connection.undock(character.character_id).await.expect("undock");
    assert_eq!(snapshot.system_id, hub.system_id);

    // Commands without an answer on success: refusals come back as events with the command's id.
    let gate = snapshot.celestials.iter().find(|c| c.kind == v1::CelestialKind::Stargate as i32).expect("gate");
    let too_far = connection.jump(gate.id).await.expect_err("the gate is AUs away");
    assert_eq!(too_far.server_code(), Some(ErrorCode::OutOfRange));
    let empty_chat = connection.chat("").await.expect("sent");
    let own = snapshot.your_ship_id;
    let near_warp = connection.warp_to(own, 0).await.expect("sent");
    let (mut chat_refused, mut warp_refused) = (false, false);
    while !(chat_refused && warp_refused) {
        match connection.next_typed_event(WAIT).await.expect("connection stays up") {
            Some(Event::Error { request_id, code, .. }) if request_id == empty_chat => {
                assert_eq!(code, ErrorCode::InvalidArgument);
                chat_refused = true;
            }
            Some(Event::Error { request_id, code, .. }) if request_id == near_warp => {
                assert_ne!(code, ErrorCode::Unspecified);
                warp_refused = true;
            }
            Some(Event::Error { request_id, code, reason }) => {
                panic!("unexpected refusal {request_id} {code:?} {reason}")
            }
            Some(_) => {}
            None => panic!("no refusal within {WAIT:?}"),
        }
    }
    let star = snapshot.celestials.iter().find(|c| c.kind == v1::CelestialKind::Star as i32).expect("star");
    connection.approach(star.id).await.expect("approach sent");
    connection.stop().await.expect("stop sent");
    connection.approach_point(v1::Vec3 { x: 1, y: 2, z: 3 }).await.expect("approach point sent");
    connection.logout().await.expect("logout answered Ok");
    // The server closes after Logout.
    loop {
        match connection.next_event(WAIT).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the server did not close after Logout"),
            Err(error) => {
                assert!(error.is_disconnect(), "{error}");
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_resumed_onto_the_same_ship() {
    let test = TestCluster::start().await;
    for (transport, target) in [("tcp", test.tcp()), ("ws", test.ws())] {
        let name = format!("erin-{transport}");
        let mut pilot = Pilot::start(&target, &name, PASSWORD).await.expect("in space");
        let ship = pilot.mirror().own_ship_id();
        let system = pilot.mirror().system_id();
        let token = pilot.session().token.clone();
        // Move a little, so that the ship is somewhere of its own before the connection goes.
        let star = pilot.mirror().celestials().find(|c| c.kind == v1::CelestialKind::Star as i32).map(|c| c.id);
        pilot.approach(star.expect("a star")).await.expect("approach");
        pilot.wait_until(WAIT, |mirror| !mirror.is_idle()).await.expect("the ship moves");
        let tick_before = pilot.mirror().tick();

        // Explicit: drop the socket, then resume.
        pilot.drop_connection().await;
        pilot.reconnect().await.expect("resume and undock");
        assert_eq!(pilot.reconnects(), 1);
        assert_eq!(pilot.session().token, token, "Resume keeps the session token");
        assert_eq!(pilot.mirror().own_ship_id(), ship, "the same ship");
        assert_eq!(pilot.mirror().system_id(), system);
        assert!(pilot.mirror().own_ship().is_some(), "the mirror shows the own ship");
        assert!(pilot.mirror().tick() > tick_before, "the mirror is the new snapshot's");

        // Automatic: the next read notices the lost connection and comes back.
        pilot.drop_connection().await;
        let event = pilot.next_event(WAIT).await.expect("reconnected");
        assert_eq!(event, Some(Event::Reconnected));
        assert_eq!(pilot.reconnects(), 2);
        assert_eq!(pilot.mirror().own_ship_id(), ship);
        pilot.wait_until(WAIT, |mirror| mirror.tick() > 0 && mirror.own_ship().is_some()).await.expect("deltas flow");
        pilot.chat("back").await.expect("chat after the reconnect");
        pilot
            .wait_until(WAIT, |mirror| mirror.chat().any(|line| line.text == "back"))
            .await
            .expect("the resumed session hears itself");
        pilot.logout().await.expect("logout");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_session_ends_the_pilot_instead_of_reconnecting() {
    let test = TestCluster::start().await;
    let mut first = Pilot::start(&test.tcp(), "frank", PASSWORD).await.expect("in space");
    let mut second = Connection::connect(&test.tcp()).await.expect("connect");
    second.login("frank", PASSWORD).await.expect("the same account logs in elsewhere");
    let ended = first.wait_until(WAIT, |_| false).await.expect_err("the first session ends");
    assert!(matches!(ended, ClientError::Closed), "{ended}");
    assert_eq!(first.reconnects(), 0, "a replaced session does not fight back");
}

/// A server that closes sessions quiet for 2 s.
async fn impatient_cluster() -> TestCluster {
    TestCluster::start_with(|config| config.idle_timeout = Duration::from_secs(2)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_closed_by_the_server_comes_back_on_its_own() {
    let test = impatient_cluster().await;
    let options = PilotOptions { keepalive: None, ..PilotOptions::default() };
    let mut pilot = Pilot::start_with(&test.tcp(), "grace", PASSWORD, options).await.expect("in space");
    let ship = pilot.mirror().own_ship_id();
    // Quiet: the server's idle timeout closes the session (an UNSPECIFIED error says why), the pilot resumes.
    let mut told = false;
    loop {
        match pilot.next_event(WAIT).await.expect("the pilot gets back") {
            Some(Event::Error { request_id: 0, code: ErrorCode::Unspecified, reason }) => {
                assert!(reason.contains("idle"), "{reason}");
                told = true;
            }
            Some(Event::Reconnected) => break,
            Some(_) => {}
            None => panic!("the server did not close the quiet session within {WAIT:?}"),
        }
    }
    assert!(told, "the server said why it closed");
    assert_eq!(pilot.reconnects(), 1);
    assert_eq!(pilot.mirror().own_ship_id(), ship);
    assert!(pilot.mirror().own_ship().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keepalive_keeps_a_quiet_pilot_in_space() {
    let test = impatient_cluster().await;
    let options = PilotOptions { keepalive: Some(Duration::from_millis(300)), ..PilotOptions::default() };
    let mut pilot = Pilot::start_with(&test.tcp(), "henry", PASSWORD, options).await.expect("in space");
    // Three idle timeouts long, only reading.
    let until = tokio::time::Instant::now() + Duration::from_secs(6);
    let mut pongs = 0;
    while let Some(event) = pilot.next_event_until(until).await.expect("still connected") {
        match event {
            Event::Other(v1::ServerEnvelope { body: Some(v1::server_envelope::Body::Pong(_)), .. }) => pongs += 1,
            Event::Reconnected | Event::Error { .. } => panic!("the quiet pilot was dropped: {event:?}"),
            _ => {}
        }
    }
    assert!(pongs >= 3, "{pongs} keepalive pongs");
    assert_eq!(pilot.reconnects(), 0);
}
