//! The real services going away while the cluster runs, and coming back. A TCP forwarder between the cluster and
//! the server (`common::cutter`) closes every connection and refuses new ones, as a partition or a crashed
//! server would; the server itself stays up for the other tests. What must hold (issue 21, "bad input and
//! faults"): the nodes keep ticking, checkpoints wait (bounded: the newest row per ship) and are written when the
//! store returns, the admin API reports the outage while it lasts, and a coordinator that lost the bus does not
//! take the nodes it could not hear for dead.
//!
//! Needs ORRERY_TEST_NATS_URL and ORRERY_TEST_POSTGRES_URL (scripts/test.sh starts both servers); fails, saying
//! so, without them.

mod common;

use std::time::{Duration, Instant};

use common::cutter::{Cutter, through};
use common::{TestCluster, WAIT, pilot, service};
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Poll the cluster's admin view until `done` holds, or fail naming `what` and the last view.
async fn until_view(
    test: &TestCluster,
    what: &str,
    done: impl Fn(&orrery_admin::ClusterView) -> bool,
) -> orrery_admin::ClusterView {
    let deadline = Instant::now() + WAIT;
    loop {
        let view = test.cluster.cluster_view().await;
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: services {:?}", view.services);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_goes_on_while_postgres_is_unreachable_and_the_queued_checkpoints_land_when_it_returns() {
    let postgres = orrery_store::create_scratch_database(&service("ORRERY_TEST_POSTGRES_URL"), "orrery_outage")
        .await
        .expect("a database of this test's own");
    let (_, upstream) = through(&postgres, "127.0.0.1:1".parse().expect("address"));
    let cutter = Cutter::start(upstream).await;
    let (through_cutter, _) = through(&postgres, cutter.addr());
    let test = TestCluster::start_with(|config| {
        config.db_url = through_cutter;
        config.checkpoint_every = Duration::from_millis(200);
    })
    .await;
    let mut pilot = pilot(&test.addr(), "outage-pilot").await;
    let ship = pilot.ship_id();

    cutter.cut();
    // The ship flies 15 km while nothing can be written: its system ticks on, its pilot sees it move.
    let start = pilot.position();
    let target = v1::Vec3 { x: start[0] as i64, y: start[1] as i64, z: start[2] as i64 + 15_000 };
    pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    pilot
        .until(WAIT, "arriving while the store is down", |p| {
            p.me().is_some_and(|s| s.motion == v1::ShipMotion::Idle as i32) && distance(p.position(), start) > 14_000.0
        })
        .await;
    let here = pilot.position();
    let during = until_view(&test, "the outage reported with checkpoints queued", |view| {
        view.services.store_down_ms > 0 && view.services.store_queued_rows > 0
    })
    .await;
    let line = during.services.outage.clone().expect("an outage line for operators");
    assert!(line.contains("store unreachable"), "{line}");
    assert!(during.nodes.iter().any(|node| node.store_queued_rows > 0), "per node: {:?}", during.nodes);
    // Chat needs no store: it goes on.
    pilot.command(Cmd::Chat(v1::Chat { text: "still here".into() })).await;
    pilot.until(WAIT, "chat during the outage", |p| p.chat.iter().any(|l| l.text == "still here")).await;
    let stored = orrery_store::open(&postgres).await.expect("the store, directly");
    let before = stored.ship(ship).await.expect("read").expect("ship row");
    assert!(distance(before.position, here) > 1_000.0, "nothing was written through the cut: {before:?}");

    cutter.restore();
    let after = until_view(&test, "the queue drained and the outage over", |view| {
        view.services.store_down_ms == 0 && view.services.store_queued_rows == 0 && view.services.outage.is_none()
    })
    .await;
    assert!(after.nodes.iter().all(|node| node.store_down_ms == 0), "{:?}", after.nodes);
    // The position flown during the outage is in the store now, the ship in one system, in space.
    let deadline = Instant::now() + WAIT;
    loop {
        let row = stored.ship(ship).await.expect("read").expect("ship row");
        if row.in_space && distance(row.position, here) < 60.0 {
            assert_eq!(row.system_id, pilot.system());
            break;
        }
        assert!(Instant::now() < deadline, "the flight during the outage never reached the store: {row:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_tick_through_a_nats_outage_and_the_coordinator_fails_no_one_over() {
    let postgres = orrery_store::create_scratch_database(&service("ORRERY_TEST_POSTGRES_URL"), "orrery_outage")
        .await
        .expect("a database of this test's own");
    let (_, upstream) = through(&service("ORRERY_TEST_NATS_URL"), "127.0.0.1:1".parse().expect("address"));
    let cutter = Cutter::start(upstream).await;
    let lease = Duration::from_millis(1000);
    let test = TestCluster::start_with(|config| {
        common::on_real_services(config, &postgres);
        config.bus_url = Some(through(&service("ORRERY_TEST_NATS_URL"), cutter.addr()).0);
        config.failover = true;
        config.lease = lease;
    })
    .await;
    let mut pilot = pilot(&test.addr(), "bus-outage-pilot").await;
    let epoch = test.cluster.epoch();
    let reports = test.cluster.node_reports();
    let ticks_before: u64 = reports.iter().map(|report| report.ticks).sum();
    let sequences_before = reports.iter().map(|report| report.sequence).max().unwrap_or(0) + 1;

    cutter.cut();
    let during = until_view(&test, "the bus outage reported", |view| !view.services.bus_connected).await;
    assert!(during.services.outage.as_deref().is_some_and(|line| line.contains("bus disconnected")), "{during:?}");
    // Three leases without hearing a node.
    tokio::time::sleep(lease * 3).await;
    cutter.restore();

    until_view(&test, "the bus connected again", |view| view.services.bus_connected && view.services.outage.is_none())
        .await;
    // The same client connection works again: its chat line comes back (a line sent while the proxy was still
    // reconnecting may be refused or lost; the pilot says it again).
    let line = "back on the bus".to_owned();
    let deadline = Instant::now() + WAIT;
    'heard: loop {
        assert!(Instant::now() < deadline, "the pilot's chat never came back after the outage");
        pilot.command(Cmd::Chat(v1::Chat { text: line.clone() })).await;
        let resend = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Some(envelope) = pilot.client.next_event_until(resend).await.expect("the connection survives") {
            pilot.absorb(&envelope);
            if matches!(&envelope.body, Some(Msg::Delta(delta)) if delta.chat.iter().any(|l| l.text == line)) {
                break 'heard;
            }
        }
    }
    // The nodes ticked all along: their first reports after the outage count at least a second's worth of ticks
    // of every system more than before it (the outage lasted three), and the coordinator took no one for dead.
    let deadline = Instant::now() + WAIT;
    let after = loop {
        let reports = test.cluster.node_reports();
        if reports.iter().all(|report| report.sequence > sequences_before) {
            break reports;
        }
        assert!(Instant::now() < deadline, "no node report after the outage: {reports:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ticks: u64 = after.iter().map(|report| report.ticks).sum();
    let second_of_ticks = test.universe.len() as u64 * 10;
    assert!(ticks >= ticks_before + second_of_ticks, "ticks {ticks_before} before the outage, {ticks} after");
    assert!(test.cluster.coordinator().failovers().is_empty(), "{:?}", test.cluster.coordinator().failovers());
    assert_eq!(test.cluster.epoch(), epoch, "the mapping did not change");
    let view = test.cluster.cluster_view().await;
    assert!(view.services.bus_disconnects >= 1, "{:?}", view.services);
    test.cluster.shutdown().await;
}
