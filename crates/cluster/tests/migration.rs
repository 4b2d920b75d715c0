//! Live migration of a solar system between sol nodes while pilots fly and talk in it: nothing a client sends
//! is lost or applied twice, nobody is disconnected, and the system ticks on from where it was. Run on the
//! in-process bus and on a real NATS server with PostgreSQL (ORRERY_TEST_NATS_URL / ORRERY_TEST_POSTGRES_URL,
//! which scripts/test.sh provides; the NATS case fails, saying so, without them).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Pilot, TestCluster, WAIT, name_starting_in, pilot, service};
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd};
use orrery_cluster::MoveError;

const MOVES: usize = 10;
const LINES_PER_MOVE: usize = 3;

/// Two pilots in one system; the system moves between the two nodes `MOVES` times while both keep talking.
/// Every pilot must then have heard every line exactly once, each sender's lines in the order sent.
async fn pilots_talk_through_moves(test: &TestCluster) {
    both_nodes_report(test).await;
    let first = pilot(&test.addr(), "mover-a").await;
    let system = first.system();
    let second = pilot(&test.addr(), &name_starting_in(test, system, "mover-b")).await;
    assert_eq!(second.system(), system);
    let mut pilots = [first, second];
    let epoch_before = test.cluster.epoch();
    let mut said: Vec<Vec<String>> = vec![Vec::new(); pilots.len()];
    for round in 0..MOVES {
        for (who, pilot) in pilots.iter_mut().enumerate() {
            for k in 0..LINES_PER_MOVE {
                let text = format!("p{who} r{round} k{k}");
                pilot.command(Cmd::Chat(v1::Chat { text: text.clone() })).await;
                said[who].push(text);
            }
        }
        let from = test.cluster.node_of(system).expect("mapped");
        let to = 1 - from;
        let report = test.cluster.coordinator().move_system(system, to).await.expect("the move succeeds");
        assert_eq!((report.system_id, report.from_node, report.to_node), (system, from, to));
        assert_eq!(test.cluster.node_of(system), Some(to), "the mapping follows the move");
        assert!(report.pause_ms >= 0.0 && report.pause_ms <= report.total_ms);
    }
    assert_eq!(test.cluster.epoch(), epoch_before + MOVES as u64, "one epoch per move");
    let total: usize = said.iter().map(Vec::len).sum();
    for pilot in &mut pilots {
        pilot.until(WAIT, "every line said in the moving system", |p| p.chat.len() >= total).await;
        // Lines still on their way would show up here as doubles: give them a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut heard: HashMap<usize, Vec<String>> = HashMap::new();
        for line in &pilot.chat {
            let who: usize = line.text[1..2].parse().expect("a line of this test");
            heard.entry(who).or_default().push(line.text.clone());
        }
        for (who, lines) in said.iter().enumerate() {
            assert_eq!(heard.get(&who), Some(lines), "pilot {who}'s lines, each once and in order");
        }
    }
    // The system still answers: a pilot flies, and the move kept its ship where it was.
    assert_moves(&mut pilots[0]).await;
    let node = test.cluster.node_of(system).expect("mapped");
    let hosted = |test: &TestCluster| {
        test.cluster.node_reports().iter().any(|r| r.node_id == node && r.systems.iter().any(|s| s.system_id == system))
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !hosted(test) {
        assert!(std::time::Instant::now() < deadline, "node {node} reports system {system}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elsewhere =
        test.cluster.node_reports().iter().filter(|r| r.systems.iter().any(|s| s.system_id == system)).count();
    assert_eq!(elsewhere, 1, "exactly one node reports the system");
}

/// A move needs a live destination: one that has reported.
async fn both_nodes_report(test: &TestCluster) {
    let deadline = std::time::Instant::now() + WAIT;
    while test.cluster.node_reports().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "both nodes report");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_moves(pilot: &mut Pilot) {
    let start = pilot.position();
    let target = v1::Vec3 { x: start[0] as i64 + 1_000_000, y: start[1] as i64, z: start[2] as i64 };
    pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    pilot.until(WAIT, "the ship to move after the moves", |p| (p.position()[0] - start[0]).abs() > 100.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_moves_between_nodes_while_its_pilots_talk_in_process() {
    let test = TestCluster::start_with(|config| config.rate_limit_per_s = 1_000).await;
    pilots_talk_through_moves(&test).await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_moves_between_nodes_while_its_pilots_talk_over_nats_and_postgres() {
    let postgres = orrery_store::create_scratch_database(&service("ORRERY_TEST_POSTGRES_URL"), "orrery_migration")
        .await
        .expect("a database of this test's own");
    let test = TestCluster::start_with(|config| {
        config.rate_limit_per_s = 1_000;
        common::on_real_services(config, &postgres);
    })
    .await;
    pilots_talk_through_moves(&test).await;
    let stored = test.cluster.store().load_mapping().await.expect("store").expect("mapping");
    assert_eq!(stored.epoch, test.cluster.epoch(), "every move is stored under its epoch");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_move_is_refused_and_changes_nothing() {
    let test = TestCluster::start().await;
    let system = test.universe.system(0).id.0;
    let home = test.cluster.node_of(system).expect("mapped");
    both_nodes_report(&test).await;
    let epoch = test.cluster.epoch();
    let coordinator = test.cluster.coordinator();
    assert!(matches!(coordinator.move_system(4_242_424, 1).await, Err(MoveError::UnknownSystem(4_242_424))));
    assert!(matches!(coordinator.move_system(system, 9).await, Err(MoveError::UnknownNode(9))));
    assert!(matches!(coordinator.move_system(system, home).await, Err(MoveError::AlreadyThere { .. })));
    // Two moves of one system at once: one goes, the other is told the system is already moving.
    let (a, b) = tokio::join!(coordinator.move_system(system, 1 - home), coordinator.move_system(system, 1 - home));
    let refused = [&a, &b].iter().filter(|r| matches!(r, Err(MoveError::Moving(_)))).count();
    let moved = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!((moved, refused), (1, 1), "one move, one refusal: {a:?} {b:?}");
    assert_eq!(test.cluster.epoch(), epoch + 1, "only the move that went changed the mapping");
    assert_eq!(test.cluster.node_of(system), Some(1 - home));
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rebalancer_moves_a_hot_system_off_an_overloaded_node_once() {
    let rule = orrery_cluster::Rebalance {
        every: Duration::from_millis(300),
        budget: 0.8,
        sustained: 2,
        cooldown: 1_000,
        min_gain: 0.05,
    };
    let test = TestCluster::start_with(|config| config.rebalance = Some(rule)).await;
    both_nodes_report(&test).await;
    // Two systems of node 0 start a fight each: half a core apiece, a core together — over the budget.
    let hot: Vec<u32> = test
        .universe
        .systems()
        .iter()
        .map(|system| system.id.0)
        .filter(|&system| test.cluster.node_of(system) == Some(0))
        .take(2)
        .collect();
    for &system in &hot {
        common::inject(&test, system, v1::InjectFault { panic: false, burn_ms_per_tick: 50 }).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while test.cluster.coordinator().rebalanced().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no rebalancing move within a minute");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved = test.cluster.coordinator().rebalanced()[0].clone();
    assert!(hot.contains(&moved.system_id), "a hot system moved, not a quiet one: {moved:?} (hot {hot:?})");
    assert_eq!((moved.from_node, moved.to_node), (0, 1));
    assert_eq!(test.cluster.node_of(moved.system_id), Some(1));
    // Each node now has one fight: moving either back would not help, so nothing else moves.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(test.cluster.coordinator().rebalanced().len(), 1, "{:?}", test.cluster.coordinator().rebalanced());
    for &system in &hot {
        common::inject(&test, system, v1::InjectFault { panic: false, burn_ms_per_tick: 0 }).await;
    }
    test.cluster.shutdown().await;
}

/// The SQL way (like every operator action): rows of `system_moves`, each run once and given its outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_requested_by_sql_runs_once_and_records_its_outcome() {
    let test = TestCluster::start().await;
    both_nodes_report(&test).await;
    let system = test.universe.system(0).id.0;
    let home = test.cluster.node_of(system).expect("mapped");
    let operator = orrery_store::SqliteStore::open(&test.dir.path().join("orrery.db").display().to_string())
        .await
        .expect("an operator's connection");
    let insert =
        format!("INSERT INTO system_moves (system_id, node_id) VALUES ({system}, {}), ({system}, 9)", 1 - home);
    sqlx::query(&insert).execute(operator.pool()).await.expect("sql runs");
    let deadline = std::time::Instant::now() + WAIT;
    let outcomes = loop {
        let rows: Vec<(Option<String>,)> = sqlx::query_as("SELECT outcome FROM system_moves ORDER BY move_id")
            .fetch_all(operator.pool())
            .await
            .expect("sql runs");
        if rows.iter().all(|(outcome,)| outcome.is_some()) {
            break rows.into_iter().filter_map(|(outcome,)| outcome).collect::<Vec<_>>();
        }
        assert!(std::time::Instant::now() < deadline, "move requests not done: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(outcomes[0].contains(&format!("\"to_node\":{}", 1 - home)), "{outcomes:?}");
    assert!(outcomes[1].starts_with("error: node 9"), "{outcomes:?}");
    assert_eq!(test.cluster.node_of(system), Some(1 - home));
    operator.close().await;
    test.cluster.shutdown().await;
}
