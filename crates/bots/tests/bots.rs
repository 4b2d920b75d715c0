//! Whole load-generator runs against the fake server of `common`: the bots' own logic over real sockets —
//! ramp, login, undock, travel and jumps, the hub, chat echoes, latency, reconnect with Resume, logout.

mod common;

use std::time::Duration;

use common::{FakeServer, Options, TIDI_PERMILLE};
use orrery_bots::{BotsConfig, HubRoute, Scenario, run};
use tokio::time::Instant;

fn options(websocket: bool) -> Options {
    Options { websocket, tick: Duration::from_millis(50), drop_at: None }
}

fn config(server: &FakeServer, websocket: bool, count: usize, scenario: Scenario, secs: u64) -> BotsConfig {
    BotsConfig {
        name_prefix: format!("{}bot", scenario.as_str()),
        max_connecting: 3,
        ..BotsConfig::new(server.target(websocket), count, scenario, Duration::from_secs(secs))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travelling_bots_jump_across_nodes_and_measure_latency() {
    let server = FakeServer::start(options(false)).await;
    let summary = run(config(&server, false, 6, Scenario::Travel, 3), None).await.expect("valid config");
    eprintln!("{summary}");
    assert_eq!(summary.clients, 6);
    assert_eq!(summary.connected, 6);
    assert_eq!(summary.errors, 0, "{summary:?}");
    assert_eq!(summary.disconnects, 0);
    // A jump cycle takes under 2 s here (a think pause under 1.5 s, a three-tick warp): margin for a busy machine.
    assert!(summary.jumps >= 3, "bots jump: {summary:?}");
    assert!(summary.cross_node_jumps >= 1, "the ring spans two nodes: {summary:?}");
    assert!(summary.latency_ms.samples >= summary.jumps, "one warp per jump at least: {summary:?}");
    assert!(summary.latency_ms.p50 > 0.0 && summary.latency_ms.p50 < 1000.0);
    assert_eq!(summary.tidi_min, Some(f64::from(TIDI_PERMILLE) / 1000.0));
    assert!(summary.deltas_received > 6 * 20);
    let world = server.world();
    // A jump sent just before the deadline may be done on the server but its snapshot never read.
    assert!(world.jumps >= summary.jumps && world.jumps <= summary.jumps + 6, "{} vs {summary:?}", world.jumps);
    assert_eq!(world.logouts, 6, "every bot logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_bots_gather_at_the_hub_and_see_their_own_chat() {
    let server = FakeServer::start(options(true)).await;
    let hub = HubRoute::without_map(3);
    let config = BotsConfig { hub: Some(hub), ..config(&server, true, 4, Scenario::Hub, 9) };
    let summary = run(config, None).await.expect("valid config");
    eprintln!("{summary}");
    assert_eq!((summary.connected, summary.errors), (4, 0), "{summary:?}");
    // Each bot chats within 5 s of reaching the hub (~3 s in): most will have by the end, on a busy machine too.
    assert!(summary.chat_sent >= 2, "bots chat at the hub: {summary:?}");
    // The fake echoes each line to its sender only; a line sent just before the deadline may not come back.
    assert!(summary.chat_received <= summary.chat_sent && summary.chat_received + 4 >= summary.chat_sent);
    assert!(summary.latency_ms.samples >= summary.chat_received);
    let world = server.world();
    assert_eq!(world.ship_system.len(), 4);
    assert!(world.ship_system.values().all(|&system| system == 3), "all at the hub: {:?}", world.ship_system);
    assert_eq!(world.jumps, 4, "system 3 is one jump from the start either way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_reconnect_and_resume_after_a_restart() {
    let drop_at = Instant::now() + Duration::from_millis(1500);
    let server = FakeServer::start(Options { drop_at: Some(drop_at), ..options(false) }).await;
    let summary = run(config(&server, false, 10, Scenario::Mixed, 4), None).await;
    assert!(summary.is_err(), "mixed needs a hub");
    let config = BotsConfig { hub: Some(HubRoute::without_map(2)), ..config(&server, false, 10, Scenario::Mixed, 4) };
    let summary = run(config, None).await.expect("valid config");
    eprintln!("{summary}");
    assert_eq!(summary.connected, 10);
    assert_eq!(summary.disconnects, 10, "every connection was dropped once: {summary:?}");
    assert_eq!(summary.errors, 0, "{summary:?}");
    let world = server.world();
    assert_eq!(world.resumes, 10, "each bot resumed with its token");
    assert_eq!(world.connections, 20);
    assert_eq!(world.logouts, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_counts_one_error_per_bot_and_the_run_still_ends() {
    // A listener that accepts and then says nothing: every login times out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut config = BotsConfig::new(addr.to_string(), 3, Scenario::Idle, Duration::from_secs(1));
    config.client.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let summary = run(config, None).await.expect("valid config");
    eprintln!("{summary}");
    assert!(started.elapsed() < Duration::from_secs(3), "bounded by the duration");
    assert_eq!((summary.connected, summary.errors), (0, 3), "{summary:?}");
    assert_eq!(summary.tidi_min, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_bots_stay_connected_and_log_out() {
    let server = FakeServer::start(options(false)).await;
    let summary = run(config(&server, false, 8, Scenario::Idle, 2), None).await.expect("valid config");
    eprintln!("{summary}");
    assert_eq!((summary.connected, summary.errors, summary.jumps), (8, 0, 0), "{summary:?}");
    assert!(summary.duration_s >= 2.0 && summary.duration_s < 6.0);
    assert_eq!(server.world().logouts, 8);
    // A second run logs in to the same accounts (Register → NAME_TAKEN → Login) and finds the characters.
    let summary = run(config(&server, false, 8, Scenario::Idle, 1), None).await.expect("valid config");
    eprintln!("{summary}");
    assert_eq!((summary.connected, summary.errors), (8, 0), "{summary:?}");
}
