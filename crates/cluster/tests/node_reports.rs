//! The coordinator knows the nodes' health only from their reports on the bus (`node.<id>.report`).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TestCluster;
use orrery_node::{NodeReport, SystemReport};
use prost::Message;

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_reports_on_the_bus_and_the_coordinator_keeps_the_latest() {
    let test = TestCluster::start().await;
    let bus = test.cluster.bus().clone();

    // Both nodes are heard from, each hosting its share of the universe, with a rising report count.
    wait_for("a report from both nodes", || test.cluster.node_reports().len() == 2).await;
    let hosted: usize = test.cluster.node_reports().iter().map(|report| report.systems.len()).sum();
    assert_eq!(hosted, test.universe.len(), "every system is in exactly one node's report");
    let first = test.cluster.reports().heard(0).expect("node 0 heard").report.sequence;
    wait_for("a later report from node 0", || {
        test.cluster.reports().heard(0).is_some_and(|heard| heard.report.sequence > first)
    })
    .await;

    // A report reaches the coordinator through the bus and nothing else: one published by hand on node 1's
    // subject (with a sequence far ahead of the node's own) is what the coordinator then shows for node 1.
    let incarnation = test.cluster.reports().heard(1).expect("node 1 heard").report.incarnation;
    let forged = NodeReport {
        node_id: 1,
        systems: vec![SystemReport {
            system_id: 424242,
            ships: 3,
            factor: 0.5,
            tick_work_ms: 1.0,
            failed: false,
            tick_ms: 100,
            max_players: 10,
            queued: 0,
            kills: 0,
        }],
        ticks: 1,
        late_ticks: 0,
        sequence: u64::MAX / 2,
        incarnation,
        ..NodeReport::default()
    };
    let payload = Bytes::from(forged.to_message().encode_to_vec());
    bus.publish(&orrery_proto::node_report_subject(1), payload).await.expect("publish");
    wait_for("the forged report to be kept", || {
        test.cluster.node_reports().iter().any(|report| report.node_id == 1 && report == &forged)
    })
    .await;
    // The node's own later reports have lower sequence numbers: they are older news and do not replace it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(test.cluster.reports().heard(1).expect("node 1 heard").report, forged);

    // A restarted node is another incarnation: its reports replace the kept one whatever their sequence (its
    // first ones may have been lost on the way).
    let restarted = NodeReport { sequence: 3, incarnation: incarnation.wrapping_add(1), ..forged.clone() };
    bus.publish(&orrery_proto::node_report_subject(1), Bytes::from(restarted.to_message().encode_to_vec()))
        .await
        .expect("publish");
    wait_for("the restarted node's report to be kept", || {
        test.cluster.reports().heard(1).is_some_and(|heard| heard.report == restarted)
    })
    .await;

    // A report claiming another node's id on node 0's subject is ignored.
    let claims_1 = NodeReport { sequence: u64::MAX, ..forged.clone() };
    bus.publish(&orrery_proto::node_report_subject(0), Bytes::from(claims_1.to_message().encode_to_vec()))
        .await
        .expect("publish");
    // Garbage on the subject is ignored too.
    bus.publish(&orrery_proto::node_report_subject(0), Bytes::from_static(b"\xff\xff\xff")).await.expect("publish");
    let before = test.cluster.reports().heard(0).expect("node 0 heard").report.sequence;
    wait_for("node 0's own next report", || {
        test.cluster.reports().heard(0).is_some_and(|heard| heard.report.sequence > before)
    })
    .await;
    assert_eq!(test.cluster.reports().heard(0).expect("node 0 heard").report.node_id, 0);
    assert!(test.cluster.reports().heard(0).expect("node 0").report.systems.iter().all(|s| s.system_id != 424242));
    test.cluster.shutdown().await;
}
