//! Operating a live cluster: settings changed with SQL take effect, invalid ones are refused, player caps
//! queue and admit, the emergency shutdown counts down, cancels and fires, the profiler and the admin API.

mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, WAIT, http, name_starting_in, pilot};
use orrery_bots::orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};

const TOKEN: &str = "test-admin-token-0123456789";

async fn admin_cluster() -> TestCluster {
    TestCluster::start_with(|config| {
        config.admin_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        config.admin_token = Some(TOKEN.into());
        config.cluster_name = "tranquility-test".into();
        config.settings_poll = Duration::from_millis(200);
    })
    .await
}

/// Run SQL against the cluster's database file with a separate connection, as an operator's SQL client would.
async fn sql(test: &TestCluster, statement: &str) {
    let store = orrery_store::SqliteStore::open(&test.dir.path().join("orrery.db").display().to_string())
        .await
        .expect("second connection");
    sqlx::query(statement).execute(store.pool()).await.expect("sql runs");
    store.close().await;
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !check() {
        assert!(Instant::now() < deadline, "not within 2 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next Notice the pilot receives (other envelopes are applied on the way).
async fn next_notice(pilot: &mut common::Pilot) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no notice");
        if let Ok(Some(envelope)) = pilot.client.next_event(WAIT).await {
            if let Some(Msg::Notice(notice)) = &envelope.body {
                return notice.text.clone();
            }
            pilot.absorb(&envelope);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_with_sql_take_effect_and_invalid_ones_are_refused() {
    let test = admin_cluster().await;
    let live = test.cluster.proxy().expect("the embedded cluster runs a proxy").live();
    assert_eq!(live.rate_limit_per_s(), 20);
    sql(&test, "INSERT INTO settings (key, value, updated_at_ms) VALUES ('session.rate_limit_per_s', '7', 0)").await;
    eventually("the rate limit from SQL", || {
        test.cluster.proxy().expect("the embedded cluster runs a proxy").live().rate_limit_per_s() == 7
    })
    .await;

    // An invalid value is refused: the previous value stays in force.
    sql(&test, "UPDATE settings SET value = '\"seven\"' WHERE key = 'session.rate_limit_per_s'").await;
    sql(&test, "INSERT INTO settings (key, value, updated_at_ms) VALUES ('tidi.floor', '1.5', 0)").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(test.cluster.proxy().expect("the embedded cluster runs a proxy").live().rate_limit_per_s(), 7);
    assert_eq!(test.cluster.settings().tidi_floor, 0.1);

    // The message of the day reaches clients at login, without a restart.
    sql(&test, "INSERT INTO settings (key, value, updated_at_ms) VALUES ('motd', 'Fly safe o7', 0)").await;
    eventually("the motd", || test.cluster.settings().motd == "Fly safe o7").await;
    let mut client = Client::connect(&test.addr()).await.unwrap();
    client.register_or_login("reader", "correct horse battery").await.unwrap();
    let notice = client.next_event(WAIT).await.unwrap().expect("a notice after login");
    assert!(matches!(&notice.body, Some(Msg::Notice(n)) if n.text == "Fly safe o7"), "{notice:?}");

    // A system's tick length, live.
    let mut fast = pilot(&test.addr(), "ticker").await;
    let system = fast.system();
    sql(
        &test,
        &format!("INSERT INTO settings (key, value, updated_at_ms) VALUES ('system.tick_ms.{system}', '50', 0)"),
    )
    .await;
    let report_tick = |test: &TestCluster| {
        test.cluster
            .node_reports()
            .iter()
            .flat_map(|r| r.systems.clone())
            .find(|s| s.system_id == system)
            .map(|s| s.tick_ms)
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while report_tick(&test) != Some(50) {
        assert!(Instant::now() < deadline, "system tick never changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tick = fast.last_tick;
    fast.until(WAIT, "ticks at the new rate", |p| p.last_tick > tick + 10).await;

    // Through the API: a valid change is stored, an invalid one is a 400 naming the field.
    let (status, body) =
        http(&test, "PUT", "/api/v1/settings/session.idle_timeout_s", Some(TOKEN), Some(r#"{"value": 120}"#)).await;
    assert_eq!(status, 200, "{body}");
    eventually("idle timeout from the API", || {
        test.cluster.proxy().expect("the embedded cluster runs a proxy").live().idle_timeout()
            == Duration::from_secs(120)
    })
    .await;
    let (status, body) =
        http(&test, "PUT", "/api/v1/settings/session.idle_timeout_s", Some(TOKEN), Some(r#"{"value": -3}"#)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("value"), "{body}");
    // An unknown key is not found, as documented.
    let (status, body) = http(&test, "PUT", "/api/v1/settings/no.such.key", Some(TOKEN), Some(r#"{"value": 1}"#)).await;
    assert_eq!(status, 404, "{body}");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_system_queues_entries_refuses_jumps_and_admits_when_the_cap_is_raised() {
    let test = admin_cluster().await;
    let mut first = pilot(&test.addr(), "first_in").await;
    let system = first.system();
    sql(
        &test,
        &format!("INSERT INTO settings (key, value, updated_at_ms) VALUES ('system.max_players.{system}', '1', 0)"),
    )
    .await;
    eventually("the cap", || test.cluster.settings().max_players_for(system) == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A second pilot undocking into the full system waits in line and is told its position.
    let name = name_starting_in(&test, system, "second_in_");
    let mut second = Client::connect(&test.addr()).await.unwrap();
    let session = second.register_or_login(&name, "correct horse battery").await.unwrap();
    let character = match session.characters.first() {
        Some(c) => c.clone(),
        None => second.create_character(&format!("{name} pilot")).await.unwrap(),
    };
    let undock = second.send(Cmd::Undock(v1::Undock { character_id: character.character_id })).await.unwrap();
    let queued = second.wait_reply(undock, WAIT).await.expect("queued answer");
    assert!(
        matches!(&queued.body, Some(Msg::Queued(q)) if q.position == 1 && q.cap == 1 && q.system_id == system),
        "{queued:?}"
    );

    // Raising the cap admits the waiting pilot at once.
    sql(&test, &format!("UPDATE settings SET value = '5' WHERE key = 'system.max_players.{system}'")).await;
    let admitted = second.wait_reply(undock, WAIT).await.expect("snapshot after the cap was raised");
    assert!(matches!(&admitted.body, Some(Msg::Snapshot(s)) if s.system_id == system), "{admitted:?}");

    // A jump into a full system is refused with the reason; the ship stays at the gate it jumped from.
    let neighbour = first.gates()[0].destination_system_id;
    sql(
        &test,
        &format!("INSERT INTO settings (key, value, updated_at_ms) VALUES ('system.max_players.{neighbour}', '0', 0)"),
    )
    .await;
    eventually("the closed neighbour", || test.cluster.settings().max_players_for(neighbour) == 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gate = first.gate_to(neighbour).unwrap().id;
    first.go_to_gate(gate).await;
    match first.client.request(Cmd::Jump(v1::Jump { gate_id: gate }), WAIT).await {
        Err(ClientError::Server { code: ErrorCode::SystemFull, reason }) => {
            assert!(reason.contains("full"), "{reason}");
        }
        other => panic!("expected SYSTEM_FULL, got {other:?}"),
    }
    first.until(WAIT, "the ship back home", |p| p.snapshot.system_id == system && p.distance_to(gate) < 2_500.0).await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_shutdown_counts_down_cancels_then_fires_and_everything_is_restored() {
    let test = admin_cluster().await;
    let mut pilot = pilot(&test.addr(), "witness").await;
    let ship = pilot.ship_id();
    let system = pilot.system();

    // The wrong cluster name is refused.
    let (status, body) = http(
        &test,
        "POST",
        "/api/v1/shutdown",
        Some(TOKEN),
        Some(r#"{"cluster": "tranquility", "in_seconds": 30, "reason": "patch"}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("cluster"), "{body}");

    // Scheduled, announced, cancelled, announced.
    let (status, body) = http(
        &test,
        "POST",
        "/api/v1/shutdown",
        Some(TOKEN),
        Some(r#"{"cluster": "tranquility-test", "in_seconds": 30, "reason": "patch day"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut notices = Vec::new();
    notices.push(next_notice(&mut pilot).await);
    assert!(notices[0].contains("30 s") && notices[0].contains("patch day"), "{notices:?}");
    let (status, _) = http(&test, "DELETE", "/api/v1/shutdown", Some(TOKEN), None).await;
    assert!(status == 200 || status == 204, "{status}");
    notices.push(next_notice(&mut pilot).await);
    assert!(notices[1].contains("cancelled"), "{notices:?}");
    let (status, body) = http(&test, "GET", "/api/v1/shutdown", Some(TOKEN), None).await;
    assert_eq!((status, body.trim()), (200, "null"));

    // Scheduled again, and this time it fires: logins refused, clients told and disconnected.
    let (status, _) = http(
        &test,
        "POST",
        "/api/v1/shutdown",
        Some(TOKEN),
        Some(r#"{"cluster": "tranquility-test", "in_seconds": 2, "reason": "for real"}"#),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::timeout(WAIT, test.cluster.shutdown_fired().cancelled()).await.expect("fired");
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match pilot.client.next_event(WAIT).await {
                Ok(Some(envelope)) => {
                    if let Some(Msg::Error(error)) = &envelope.body {
                        assert_eq!(error.code, ErrorCode::ShuttingDown as i32);
                        assert!(error.reason.contains("for real"), "{}", error.reason);
                    }
                }
                Ok(None) => {}
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the client was disconnected");
    let mut late = Client::connect(&test.addr()).await.unwrap();
    let refused = late.login("witness", "correct horse battery").await;
    assert!(matches!(refused, Err(ClientError::Server { code: ErrorCode::ShuttingDown, .. })), "{refused:?}");

    let TestCluster { cluster, universe, dir } = test;
    cluster.shutdown().await;
    let restarted =
        orrery_cluster::Cluster::start(common::config(universe, &dir.path().join("orrery.db"))).await.unwrap();
    let row = restarted.store().ship(ship).await.unwrap().unwrap();
    assert_eq!(row.system_id, system);
    assert!(!row.in_space);
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiler_metrics_and_the_token() {
    let test = admin_cluster().await;
    // No token, a wrong token: 401 and nothing else.
    for path in ["/api/v1/cluster", "/metrics", "/api/v1/settings", "/api/v1/profiler/report"] {
        let (status, body) = http(&test, "GET", path, None, None).await;
        assert_eq!(status, 401, "{path}");
        assert!(!body.contains("cluster_name") && !body.contains("orrery_"), "{path}: {body}");
        let (status, _) = http(&test, "GET", path, Some("wrong"), None).await;
        assert_eq!(status, 401, "{path}");
    }

    let (status, body) = http(&test, "POST", "/api/v1/profiler/start", Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(test.cluster.profiler().is_running());
    let mut pilot = pilot(&test.addr(), "profiled").await;
    let start = pilot.position();
    let target = v1::Vec3 { x: start[0] as i64 + 3_000, y: start[1] as i64, z: start[2] as i64 };
    pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
    pilot.command(Cmd::Chat(v1::Chat { text: "profile me".into() })).await;
    pilot.until(WAIT, "the chat line", |p| p.chat.iter().any(|l| l.text == "profile me")).await;
    let (status, body) = http(&test, "GET", "/api/v1/profiler/report", Some(TOKEN), None).await;
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON report");
    let names: Vec<&str> =
        report["by_message"].as_array().unwrap().iter().filter_map(|row| row["name"].as_str()).collect();
    assert!(names.contains(&"approach") && names.contains(&"chat"), "{names:?}");
    assert!(!report["by_system"].as_array().unwrap().is_empty());
    let (status, _) = http(&test, "POST", "/api/v1/profiler/stop", Some(TOKEN), None).await;
    assert_eq!(status, 200);
    assert!(!test.cluster.profiler().is_running());

    // Prometheus text format: every sample line is `name{labels} value`, every family has HELP and TYPE.
    let (status, text) = http(&test, "GET", "/metrics", Some(TOKEN), None).await;
    assert_eq!(status, 200);
    // OpenMetrics names a counter family without `_total`; its samples carry it.
    for family in ["orrery_sessions", "orrery_ticks", "orrery_tick_duration_seconds", "orrery_commands"] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }
    assert!(text.contains("orrery_ticks_total{node=\"0\"}"), "{text}");
    assert!(text.contains("orrery_commands_total{type=\"approach\"} 1"), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').expect("sample line");
        assert!(value.parse::<f64>().is_ok(), "value of {line}");
        assert!(name.starts_with("orrery_"), "{line}");
    }
    assert!(text.contains("orrery_sessions 1"), "{text}");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systems_inserted_with_sql_come_online_and_accept_jumps_and_arenas_take_invited_pilots() {
    let test = admin_cluster().await;
    let mut explorer = pilot(&test.addr(), "explorer").await;
    let home = explorer.system();
    let home_position = test.universe.by_id(orrery_universe::SystemId(home)).unwrap().position;
    let (x, z) = (home_position.x + 3.0e16, home_position.z);
    sql(
        &test,
        &format!(
            "INSERT INTO added_systems (system_id, name, x, y, z, security) VALUES (99000001, 'Newfound', {x}, 0, {z}, 0.5)"
        ),
    )
    .await;
    sql(&test, &format!("INSERT INTO added_stargates (from_system, to_system) VALUES ({home}, 99000001)")).await;

    // The new gate appears in the home system (a delta carries it), and the new system accepts the jump.
    explorer.until(WAIT, "the new stargate", |p| p.gate_to(99000001).is_some()).await;
    assert!(test.cluster.node_of(99000001).is_some(), "placed on a node");
    let gate = explorer.gate_to(99000001).unwrap().id;
    explorer.go_to_gate(gate).await;
    let snapshot = explorer.jump(gate).await;
    assert_eq!(snapshot.system_id, 99000001);
    assert_eq!(snapshot.system_name, "Newfound");
    assert_eq!(Some(snapshot.node_id), test.cluster.node_of(99000001));
    assert!(explorer.gate_to(home).is_some(), "the new system has the gate back");
    let (status, body) = http(&test, "GET", "/api/v1/systems/99000001", Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");

    // An arena: no stargates, entered by invitation at the next undock.
    sql(&test, "INSERT INTO added_systems (system_id, name, arena) VALUES (99000002, 'Proving Ground', 1)").await;
    let deadline = Instant::now() + WAIT;
    while test.cluster.node_of(99000002).is_none() {
        assert!(Instant::now() < deadline, "the arena never came online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let character = explorer.character.character_id;
    sql(&test, &format!("INSERT INTO arena_invites (system_id, character_id) VALUES (99000002, {character})")).await;
    explorer.client.logout().await.unwrap();
    let mut again = Client::connect(&test.addr()).await.unwrap();
    again.login("explorer", "correct horse battery").await.unwrap();
    let inside = again.undock(character).await.unwrap();
    assert_eq!(inside.system_id, 99000002);
    assert!(inside.celestials.iter().all(|c| c.kind != v1::CelestialKind::Stargate as i32), "an arena has no gates");
    test.cluster.shutdown().await;
}

/// The operator's premap options (an allowance, kicks) reach the mapping the cluster stores: the same as
/// `premap_with` gives for them, and not the mapping of the default or of the allowance alone (which the test
/// checks differ, so it can fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_premap_options_decide_the_stored_mapping() {
    use orrery_premap::{Options, Strategy, premap_with};
    const NODES: usize = 4;
    let chosen = Options { imbalance: Some(0.05), kicks_per_node: Some(0), region_nodes: None };
    let test = TestCluster::start_with(|config| {
        config.nodes = NODES;
        config.premap = chosen;
    })
    .await;
    let load = orrery_universe::LoadProfile::synthesise(&test.universe, 0).cpu(&test.universe);
    let expected = |options: Options| {
        let mapping = premap_with(&test.universe, &load, NODES, Strategy::Best, &options).expect("premaps");
        let mut rows: Vec<(u32, u32)> =
            (0..test.universe.len()).map(|i| (test.universe.system(i).id.0, mapping.node_of(i) as u32)).collect();
        rows.sort_unstable();
        rows
    };
    let (loose, default) = (expected(chosen), expected(Options::default()));
    assert_ne!(loose, default, "the allowance must change this mapping, or the test cannot tell it was used");
    let kicked = expected(Options { kicks_per_node: None, ..chosen });
    assert_ne!(loose, kicked, "the kicks must change this mapping, or the test cannot tell they were used");
    let store = orrery_store::SqliteStore::open(&test.dir.path().join("orrery.db").display().to_string())
        .await
        .expect("second connection");
    let stored = orrery_store::Store::load_mapping(&store).await.expect("reads").expect("a mapping is stored");
    store.close().await;
    assert_eq!(stored.assignments, loose, "the stored mapping is not the one for a 5% allowance without kicks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_read_right_after_a_write_show_the_write() {
    // A poll interval longer than the test: the change cannot be in force yet when it is read back.
    let test = TestCluster::start_with(|config| {
        config.admin_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        config.admin_token = Some(TOKEN.into());
        config.settings_poll = Duration::from_secs(600);
    })
    .await;
    let (status, body) = http(&test, "PUT", "/api/v1/settings/motd", Some(TOKEN), Some(r#"{"value": "o7"}"#)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&test, "GET", "/api/v1/settings", Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    let settings: serde_json::Value = serde_json::from_str(&body).expect("json");
    let motd = settings
        .as_array()
        .or_else(|| settings["settings"].as_array())
        .and_then(|all| all.iter().find(|s| s["key"] == "motd"))
        .unwrap_or_else(|| panic!("motd listed: {body}"))
        .clone();
    assert!(motd["value"] == "o7" || motd["pending"] == "o7", "the write is neither in force nor pending: {motd}");
    assert!(motd["updated_at_ms"].is_u64());
    test.cluster.shutdown().await;
}
