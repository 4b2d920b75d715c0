//! Time Dilation under load and a panicking system: the trouble stays where it starts.

mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, WAIT, inject, name_starting_elsewhere, name_starting_in, pilot};
use orrery_bots::orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd, server_envelope::Body as Msg};

/// The factor the node last reported for a system (1.0 until the first report).
fn factor_of(test: &TestCluster, system: u32) -> f64 {
    test.cluster
        .node_reports()
        .iter()
        .flat_map(|report| report.systems.iter())
        .find(|s| s.system_id == system)
        .map_or(1.0, |s| s.factor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_system_is_dilated_while_its_quiet_neighbours_keep_full_speed_and_nothing_is_dropped() {
    // One node, so that the busy and the quiet system share its CPU budget.
    let test = TestCluster::start_with(|config| config.nodes = 1).await;
    let mut busy = pilot(&test.addr(), "fighter").await;
    let busy_system = busy.system();
    let mut quiet = pilot(&test.addr(), &name_starting_elsewhere(&test, busy_system, "miner")).await;
    let quiet_system = quiet.system();
    assert_ne!(busy_system, quiet_system);

    // The fight: 150 ms of work per 100 ms tick is more than the node's budget (80% of a core).
    inject(&test, busy_system, v1::InjectFault { panic: false, burn_ms_per_tick: 150 }).await;
    let deadline = Instant::now() + WAIT;
    while factor_of(&test, busy_system) > 0.7 {
        assert!(Instant::now() < deadline, "the busy system was never dilated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let busy_factor = factor_of(&test, busy_system);
    assert!(busy_factor >= 0.1, "never below the floor: {busy_factor}");
    assert_eq!(factor_of(&test, quiet_system), 1.0, "the quiet neighbour keeps full speed");

    // Clients in the busy system are told the factor; commands sent while dilated are all applied.
    let mut saw_dilation = false;
    let deadline = Instant::now() + WAIT;
    while !saw_dilation {
        assert!(Instant::now() < deadline, "no delta carried the dilation");
        if let Ok(Some(envelope)) = busy.client.next_event(WAIT).await {
            if let Some(Msg::Delta(delta)) = &envelope.body {
                saw_dilation = delta.tidi_permille < 1000;
            }
            busy.absorb(&envelope);
        }
    }
    for i in 0..5 {
        busy.command(Cmd::Chat(v1::Chat { text: format!("dilated line {i}") })).await;
    }
    busy.until(WAIT, "every line said while dilated", |p| {
        (0..5).all(|i| p.chat.iter().any(|line| line.text == format!("dilated line {i}")))
    })
    .await;
    // The quiet system's pilot keeps getting undilated deltas.
    let mut quiet_factors = Vec::new();
    while quiet_factors.len() < 5 {
        if let Ok(Some(envelope)) = quiet.client.next_event(WAIT).await
            && let Some(Msg::Delta(delta)) = &envelope.body
        {
            quiet_factors.push(delta.tidi_permille);
        }
    }
    assert!(quiet_factors.iter().all(|f| *f == 1000), "quiet deltas: {quiet_factors:?}");

    // The fight ends: the factor recovers, gradually, to 1.0.
    inject(&test, busy_system, v1::InjectFault { panic: false, burn_ms_per_tick: 0 }).await;
    let mut seen = vec![factor_of(&test, busy_system)];
    let deadline = Instant::now() + WAIT;
    while factor_of(&test, busy_system) < 1.0 {
        assert!(Instant::now() < deadline, "never recovered: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen.push(factor_of(&test, busy_system));
    }
    let steps: Vec<f64> = seen.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(steps.iter().all(|step| *step <= 0.1 + 1e-9), "recovery is gradual: {seen:?}");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_system_is_isolated_and_the_rest_of_its_node_keeps_ticking() {
    let test = TestCluster::start_with(|config| config.nodes = 1).await;
    let mut victim = pilot(&test.addr(), "unlucky").await;
    let broken = victim.system();
    let mut other = pilot(&test.addr(), &name_starting_elsewhere(&test, broken, "lucky")).await;
    let mut neighbour = pilot(&test.addr(), &name_starting_in(&test, broken, "neighbour")).await;
    assert_eq!(neighbour.system(), broken);

    inject(&test, broken, v1::InjectFault { panic: true, burn_ms_per_tick: 0 }).await;
    let deadline = Instant::now() + WAIT;
    while !test.cluster.node_reports().iter().flat_map(|r| r.systems.iter()).any(|s| s.system_id == broken && s.failed)
    {
        assert!(Instant::now() < deadline, "the system was never marked failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its pilots are told it is unavailable; nobody else is affected.
    let (code, reason) = victim.refused(Cmd::Stop(v1::Stop {})).await;
    assert_eq!(code, ErrorCode::Unavailable, "{reason}");
    let tick = other.last_tick;
    other.until(WAIT, "the other system ticking on", |p| p.last_tick > tick + 5).await;
    other.client.ping().await.expect("other pilot connected");
    let (code, _) = neighbour.refused(Cmd::Chat(v1::Chat { text: "anyone?".into() })).await;
    assert_eq!(code, ErrorCode::Unavailable);
    test.cluster.shutdown().await;
}
