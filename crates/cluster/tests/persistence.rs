//! Nothing is lost: ships are checkpointed while in space, a graceful shutdown stores everyone, and a
//! restart on the same database brings every character back where it was.

mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, WAIT, pilot};
use orrery_bots::Client;
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd};
use orrery_cluster::Cluster;

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ships_in_space_are_checkpointed_without_any_logout() {
    let test = TestCluster::start().await;
    let mut pilot = pilot(&test.addr(), "checkpointed").await;
    let start = pilot.position();
    let target = v1::Vec3 { x: start[0] as i64, y: start[1] as i64, z: start[2] as i64 + 15_000 };
    pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    pilot
        .until(WAIT, "arriving", |p| {
            p.me().is_some_and(|s| s.motion == v1::ShipMotion::Idle as i32) && distance(p.position(), start) > 14_000.0
        })
        .await;
    let here = pilot.position();
    // The periodic checkpoint (every second in tests) stores the new position while the ship stays in space.
    let deadline = Instant::now() + WAIT;
    loop {
        let row = test.cluster.store().ship(pilot.ship_id()).await.unwrap().unwrap();
        if row.in_space && distance(row.position, here) < 60.0 {
            break;
        }
        assert!(Instant::now() < deadline, "never checkpointed: {row:?}, ship at {here:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_and_restart_bring_every_character_back_where_it_was() {
    let test = TestCluster::start().await;
    let mut pilots = Vec::new();
    for i in 0..4 {
        pilots.push(pilot(&test.addr(), &format!("persistent_{i}")).await);
    }
    // Everyone flies somewhere different; one ends mid-flight.
    for (i, pilot) in pilots.iter_mut().enumerate() {
        let start = pilot.position();
        let target = v1::Vec3 { x: start[0] as i64 + 5_000 * (i as i64 + 1), y: start[1] as i64, z: start[2] as i64 };
        pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    }
    for pilot in pilots.iter_mut().take(3) {
        pilot.until(WAIT, "arriving", |p| p.me().is_some_and(|s| s.motion == v1::ShipMotion::Idle as i32)).await;
    }
    // Stationary ships must come back to the metre (quantised); the one still flying may have moved on for
    // the few ticks between the client's last delta and the shutdown.
    let last_seen: Vec<(u64, u32, [f64; 3], String, f64)> = pilots
        .iter()
        .enumerate()
        .map(|(i, p)| (p.ship_id(), p.system(), p.position(), p.token.clone(), if i < 3 { 2.0 } else { 3_500.0 }))
        .collect();
    let epoch = test.cluster.epoch();

    // Shut down with everyone still connected: each is told, and every ship is stored out of space.
    let TestCluster { cluster, universe, dir } = test;
    cluster.shutdown().await;
    for pilot in &mut pilots {
        let end = tokio::time::timeout(WAIT, async {
            loop {
                match pilot.client.next_event(WAIT).await {
                    Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(end.is_ok(), "the server closed every connection");
    }

    // Restart on the same database: a new mapping epoch, and every character back where it was.
    let db = dir.path().join("orrery.db");
    let cluster = Cluster::start(common::config(universe, &db)).await.expect("restart");
    assert_eq!(cluster.epoch(), epoch + 1);
    assert!(cluster.store().ships_in_space().await.unwrap().is_empty(), "nobody in space before they log in");
    for (ship, system, position, token, tolerance) in last_seen {
        let mut client = Client::connect(&cluster.tcp_addr().to_string()).await.unwrap();
        let session = client.resume(&token).await.expect("the session token survives a restart");
        let character = session.characters.iter().find(|c| c.ship_id == ship).expect("character").clone();
        assert_eq!(character.system_id, system);
        assert!(!character.in_space);
        let snapshot = client.undock(character.character_id).await.expect("undock");
        assert_eq!(snapshot.system_id, system);
        let me = snapshot.ships.iter().find(|s| s.ship_id == ship).expect("own ship");
        let p = me.position.unwrap();
        let back = [p.x as f64, p.y as f64, p.z as f64];
        assert!(distance(back, position) < tolerance, "ship {ship} back at {back:?}, last seen at {position:?}");
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_login_and_undock_agree_about_ships_left_in_space() {
    let test = TestCluster::start().await;
    let mut pilot = pilot(&test.addr(), "crashed").await;
    let (ship, token) = (pilot.ship_id(), pilot.token.clone());
    pilot.client.request(Cmd::Ping(v1::Ping { nonce: 1 }), WAIT).await.expect("in space");
    let TestCluster { cluster, universe, dir } = test;
    let store = cluster.store().clone();
    cluster.shutdown().await;
    // What a crash leaves behind: the ship's last checkpoint still says "in space".
    let mut row = store.ship(ship).await.unwrap().expect("stored ship");
    row.in_space = true;
    store.save_ships(&[row]).await.unwrap();
    drop(store);

    let cluster = Cluster::start(common::config(universe, &dir.path().join("orrery.db"))).await.expect("restart");
    let mut client = Client::connect(&cluster.tcp_addr().to_string()).await.unwrap();
    let session = client.resume(&token).await.expect("resume");
    let character = session.characters.iter().find(|c| c.ship_id == ship).expect("character").clone();
    assert!(!character.in_space, "nothing is in space after a restart: {character:?}");
    let snapshot = client.undock(character.character_id).await.expect("undock");
    let me = snapshot.ships.iter().find(|s| s.ship_id == ship).expect("own ship").position.unwrap();
    let back = [me.x as f64, me.y as f64, me.z as f64];
    assert!(distance(back, row.position) < 2.0, "undocked where last checkpointed: {back:?} against {row:?}");
    cluster.shutdown().await;
}
