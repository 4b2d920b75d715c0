//! The whole cluster in one process on the real services — a NATS server as the bus and a PostgreSQL server
//! as the store — as `orrery run --bus nats://… --store postgres://…` runs it. Needs ORRERY_TEST_NATS_URL and
//! ORRERY_TEST_POSTGRES_URL (scripts/services.sh starts both; scripts/test.sh does it for you); fails, saying
//! so, without them.

mod common;

use std::time::Duration;

use common::{TestCluster, WAIT, pilot, route, service};
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pilot_flies_across_nodes_over_nats_and_is_stored_in_postgres() {
    let postgres = orrery_store::create_scratch_database(&service("ORRERY_TEST_POSTGRES_URL"), "orrery_cluster")
        .await
        .expect("a database of this test's own");
    let test = TestCluster::start_with(|config| {
        common::on_real_services(config, &postgres);
    })
    .await;

    let mut pilot = pilot(&test.addr(), "nats-traveller").await;
    let ship = pilot.ship_id();
    let home_node = test.cluster.node_of(pilot.system()).expect("mapped");
    let path = route(&test.universe, pilot.system(), |system| test.cluster.node_of(system) != Some(home_node));
    for next in &path[1..] {
        let gate = pilot.gate_to(*next).expect("gate on the route").id;
        pilot.go_to_gate(gate).await;
        let snapshot = pilot.jump(gate).await;
        assert_eq!((snapshot.system_id, snapshot.node_id), (*next, test.cluster.node_of(*next).expect("mapped")));
    }
    assert_ne!(test.cluster.node_of(pilot.system()), Some(home_node), "the pilot crossed to another node");
    let line = "o7 over NATS".to_owned();
    pilot.command(Cmd::Chat(v1::Chat { text: line.clone() })).await;
    pilot.until(WAIT, "its own chat line back", |p| p.chat.iter().any(|l| l.text == line)).await;

    // Both nodes' reports reached the coordinator over NATS.
    let deadline = std::time::Instant::now() + WAIT;
    while test.cluster.node_reports().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "node reports over NATS: {:?}", test.cluster.node_reports());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The store (PostgreSQL) has the ship where it is, with one handoff per jump.
    let stored = test.cluster.store().ship(ship).await.expect("store").expect("ship row");
    assert_eq!(
        (stored.system_id, stored.handoff_seq, stored.in_space),
        (pilot.system(), (path.len() - 1) as u64, true)
    );
    let mapping = test.cluster.store().load_mapping().await.expect("store").expect("mapping saved");
    assert_eq!((mapping.epoch, mapping.assignments.len()), (test.cluster.epoch(), test.universe.len()));

    test.cluster.shutdown().await;
    let store = orrery_store::open(&postgres).await.expect("reopen");
    let stored = store.ship(ship).await.expect("store").expect("ship row");
    assert!(!stored.in_space, "a graceful shutdown stores the ship out of space");
}
