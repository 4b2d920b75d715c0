//! The cluster end to end over real sockets: register, log in, undock, fly, warp, chat, jump across nodes.

mod common;

use std::time::Duration;

use common::{TestCluster, WAIT, pilot, route};
use orrery_bots::Client;
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pilots_over_tcp_and_websocket_fly_and_chat_in_one_system() {
    let test = TestCluster::start().await;
    let mut tcp = pilot(&test.addr(), "tcp_pilot").await;
    assert!(!tcp.snapshot.celestials.is_empty(), "snapshot has the scenery");
    assert!(tcp.me().is_some(), "snapshot includes our own ship");
    assert_eq!(tcp.snapshot.tick_ms, 100);
    assert_eq!(tcp.snapshot.tidi_permille, 1000);
    assert_eq!(Some(tcp.snapshot.node_id), test.cluster.node_of(tcp.system()));

    // A WebSocket pilot whose character starts in the same system.
    let system = tcp.system();
    let friend = common::name_starting_in(&test, system, "ws_pilot_");
    let mut ws = common::pilot_on(Client::connect(&test.ws_url()).await.expect("ws connect"), &friend).await;
    assert_eq!(ws.system(), system, "both pilots in one system");
    let ws_ship = ws.ship_id();
    tcp.until(WAIT, "seeing the websocket pilot arrive", |p| p.ships.contains_key(&ws_ship)).await;

    // Movement: approach a point 20 km away; the ship moves and stops there.
    let start = tcp.position();
    let target = v1::Vec3 { x: start[0] as i64 + 20_000, y: start[1] as i64, z: start[2] as i64 };
    tcp.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    tcp.until(WAIT, "reaching the point", |p| {
        let now = p.position();
        (now[0] - (start[0] + 20_000.0)).abs() < 60.0 && p.me().is_some_and(|s| s.motion == v1::ShipMotion::Idle as i32)
    })
    .await;
    // The other pilot saw it move.
    let tcp_ship = tcp.ship_id();
    ws.until(WAIT, "seeing the TCP pilot move", |p| {
        p.ships.get(&tcp_ship).and_then(|s| s.position).is_some_and(|pos| (pos.x as f64 - start[0]).abs() > 10_000.0)
    })
    .await;

    // Local chat reaches everyone in the system, the sender included.
    tcp.command(Cmd::Chat(v1::Chat { text: "o7 from tcp".into() })).await;
    ws.command(Cmd::Chat(v1::Chat { text: "o/ from websocket".into() })).await;
    for pilot in [&mut tcp, &mut ws] {
        pilot
            .until(WAIT, "both chat lines", |p| {
                p.chat.iter().any(|line| line.text == "o7 from tcp")
                    && p.chat.iter().any(|line| line.text == "o/ from websocket")
            })
            .await;
    }

    // Stop, then a clean logout: answered Ok, and the other pilot sees the ship leave.
    tcp.command(Cmd::Stop(v1::Stop {})).await;
    tcp.client.logout().await.expect("logout answered");
    ws.until(WAIT, "the TCP pilot leaving", |p| !p.ships.contains_key(&tcp_ship)).await;
    let stored = test.cluster.store().ship(tcp_ship).await.expect("store").expect("ship row");
    assert!(!stored.in_space, "logged-out ship is stored out of space");
    assert_eq!(stored.system_id, system);
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_and_jumps_carry_a_ship_to_a_system_on_another_node_exactly_once() {
    let test = TestCluster::start().await;
    let mut pilot = pilot(&test.addr(), "traveller").await;
    let ship = pilot.ship_id();
    let home_node = test.cluster.node_of(pilot.system()).expect("mapped");
    let path = route(&test.universe, pilot.system(), |system| test.cluster.node_of(system) != Some(home_node));
    assert!(path.len() >= 2, "route leaves the home node: {path:?}");
    let mut nodes_seen = vec![pilot.snapshot.node_id];
    for next in &path[1..] {
        let gate = pilot.gate_to(*next).expect("gate on the route").id;
        pilot.go_to_gate(gate).await;
        let from = pilot.system();
        // A command sent right behind the jump reaches the old system after the ship left: it must follow
        // the ship, not fail.
        let jump = pilot.command(Cmd::Jump(v1::Jump { gate_id: gate })).await;
        let line = format!("said in transit to {next}");
        pilot.command(Cmd::Chat(v1::Chat { text: line.clone() })).await;
        let answer = pilot.client.wait_reply(jump, WAIT).await.expect("jump answered");
        let Some(v1::server_envelope::Body::Snapshot(snapshot)) = answer.body else { panic!("{answer:?}") };
        pilot.enter(snapshot.clone());
        pilot.until(WAIT, "the in-transit line in the new system", |p| p.chat.iter().any(|l| l.text == line)).await;
        assert_eq!(snapshot.system_id, *next);
        assert_eq!(snapshot.your_ship_id, ship);
        assert_eq!(Some(snapshot.node_id), test.cluster.node_of(*next));
        nodes_seen.push(snapshot.node_id);
        // Arrived next to the gate back, within jump range.
        let back = pilot.gate_to(from).expect("gate back").id;
        assert!(pilot.distance_to(back) <= 2_500.0, "arrival {} m from the gate back", pilot.distance_to(back));
    }
    assert!(nodes_seen.windows(2).any(|w| w[0] != w[1]), "a jump crossed nodes: {nodes_seen:?}");

    // Exactly one system in the whole cluster hosts the ship, and the store agrees.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let hosting: Vec<u32> = test
        .cluster
        .node_reports()
        .iter()
        .flat_map(|report| report.systems.iter().filter(|s| s.ships > 0).map(|s| s.system_id))
        .collect();
    assert_eq!(hosting, vec![pilot.system()], "the ship is in exactly one system");
    let stored = test.cluster.store().ship(ship).await.expect("store").expect("row");
    assert_eq!(stored.system_id, pilot.system());
    assert!(stored.in_space);
    assert_eq!(stored.handoff_seq, (path.len() - 1) as u64, "one handoff per jump");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_length_is_configurable_per_system() {
    let universe = common::universe();
    let world = orrery_cluster::proxy_world(&universe).expect("world");
    let fast_system = world.starting_system("fast_one pilot");
    let test = TestCluster::start_with(|config| {
        config.system_tick_ms.insert(fast_system, 50);
    })
    .await;
    let mut fast = pilot(&test.addr(), "fast_one").await;
    assert_eq!(fast.system(), fast_system);
    assert_eq!(fast.snapshot.tick_ms, 50);
    let slow_name = common::name_starting_elsewhere(&test, fast_system, "slow_one_");
    let mut slow = pilot(&test.addr(), &slow_name).await;
    assert_eq!(slow.snapshot.tick_ms, 100);
    // Over the same wall time the 20 Hz system ticks about twice as often as the 10 Hz one.
    let (fast_start, slow_start) = (fast.last_tick, slow.last_tick);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        for pilot in [&mut fast, &mut slow] {
            while let Ok(Some(envelope)) = pilot.client.next_event(Duration::from_millis(5)).await {
                pilot.absorb(&envelope);
            }
        }
    }
    let (fast_ticks, slow_ticks) = (fast.last_tick - fast_start, slow.last_tick - slow_start);
    assert!(fast_ticks as f64 > 1.6 * slow_ticks as f64, "20 Hz: {fast_ticks} ticks, 10 Hz: {slow_ticks} ticks");
    test.cluster.shutdown().await;
}
