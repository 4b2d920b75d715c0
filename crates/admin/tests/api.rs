//! The admin API over HTTP: authentication on every route, the JSON shapes, and refusals that name the field.

mod common;

use axum::http::{Method, StatusCode};
use common::{CLUSTER, TOKEN, app, authed, send};
use serde_json::{Value, json};

/// Every route that carries data or changes something, with a body that would succeed.
const PROTECTED: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/cluster", None),
    ("GET", "/api/v1/systems/1", None),
    ("GET", "/api/v1/universe", None),
    ("GET", "/api/v1/settings", None),
    ("PUT", "/api/v1/settings/max_players", Some(r#"{"value": 10}"#)),
    ("GET", "/api/v1/shutdown", None),
    ("POST", "/api/v1/shutdown", Some(r#"{"cluster": "tranquility", "in_seconds": 60, "reason": "patch"}"#)),
    ("DELETE", "/api/v1/shutdown", None),
    ("POST", "/api/v1/profiler/start", None),
    ("POST", "/api/v1/profiler/stop", None),
    ("GET", "/api/v1/profiler/report", None),
    ("GET", "/api/v1/profiler/flamegraph?seconds=1", None),
    ("GET", "/api/v1/log-level", None),
    ("GET", "/api/v1/kills?system=1&limit=2", None),
    ("PUT", "/api/v1/log-level", Some(r#"{"filter": "debug"}"#)),
    ("GET", "/metrics", None),
];

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap()
}

#[tokio::test]
async fn every_protected_route_refuses_a_missing_or_wrong_token_and_leaks_nothing() {
    let (app, mock) = app();
    let wrong = [
        None,
        Some("Bearer wrong-token".to_owned()),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer".to_owned()),
    ];
    for &(name, uri, body) in PROTECTED {
        for auth in &wrong {
            let answer = send(&app, method(name), uri, auth.as_deref(), body).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name} {uri} with {auth:?}");
            assert_eq!(answer.text(), r#"{"error":"unauthorized"}"#, "{name} {uri}");
            assert_eq!(answer.headers.get("www-authenticate").unwrap(), "Bearer");
            assert_eq!(answer.content_type(), "application/json");
        }
    }
    // Nothing reached the cluster: no call, no shutdown scheduled, no setting changed.
    let state = mock.lock();
    assert_eq!(state.calls, 0);
    assert!(state.shutdown.is_none());
    assert_eq!(state.settings[0].value, json!(2000));
}

#[tokio::test]
async fn unknown_api_routes_and_methods_are_hidden_behind_the_token() {
    let (app, _) = app();
    for (name, uri) in [("GET", "/api/v1/nope"), ("GET", "/api/v1/systems"), ("PATCH", "/api/v1/cluster")] {
        let answer = send(&app, method(name), uri, None, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name} {uri}");
        assert_eq!(answer.text(), r#"{"error":"unauthorized"}"#);
    }
    authed(&app, Method::GET, "/api/v1/nope", None).await.assert_error(StatusCode::NOT_FOUND, None);
    authed(&app, Method::PATCH, "/api/v1/cluster", None).await.assert_error(StatusCode::METHOD_NOT_ALLOWED, None);
    authed(&app, Method::POST, "/api/v1/log-level", Some("{}"))
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, None);
    // Outside the API an unknown path is a plain 404 that reveals nothing either.
    let answer = send(&app, Method::GET, "/nothing-here", None, None).await;
    answer.assert_error(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn every_protected_route_answers_with_the_token() {
    let (app, _) = app();
    for &(name, uri, body) in PROTECTED {
        let answer = authed(&app, method(name), uri, body).await;
        let expected = if name == "DELETE" { StatusCode::NO_CONTENT } else { StatusCode::OK };
        assert_eq!(answer.status, expected, "{name} {uri}: {}", answer.text());
        assert_eq!(answer.headers.get("cache-control").unwrap(), "no-store", "{uri}");
        assert_eq!(answer.headers.get("x-content-type-options").unwrap(), "nosniff", "{uri}");
    }
    // The scheme is case-insensitive (RFC 6750 follows RFC 7235).
    let answer = send(&app, Method::GET, "/api/v1/cluster", Some(&format!("bearer {TOKEN}")), None).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn cluster_view_shape() {
    let (app, _) = app();
    let answer = authed(&app, Method::GET, "/api/v1/cluster", None).await;
    assert_eq!(answer.content_type(), "application/json");
    let body = answer.json();
    assert_eq!(body["cluster_name"], CLUSTER);
    assert_eq!(body["epoch"], 4);
    assert_eq!(body["sessions"], 60);
    assert_eq!(body["shutdown"], Value::Null);
    let node = &body["nodes"][1];
    for key in ["node_id", "systems", "players", "cpu_share", "tick_work_ms", "late_ticks", "failed_systems"] {
        assert!(node.get(key).is_some(), "node lacks {key}: {node}");
    }
    assert_eq!(node["cpu_share"], 0.25);
    assert_eq!((node["store_queued_rows"].as_u64(), node["store_down_ms"].as_u64()), (Some(600), Some(4000)));
    let services = &body["services"];
    assert_eq!(services["bus_connected"], true);
    assert_eq!(services["store_queued_rows"], 600);
    assert!(services["outage"].as_str().is_some_and(|line| line.contains("store unreachable")), "{services}");
    let system = &body["systems"][1];
    assert_eq!(
        system,
        &json!({"system_id": 2, "name": "System 2", "node_id": 0, "players": 20, "tidi": 0.5, "tick_work_ms": 1.5,
                "tick_ms": 1000, "max_players": 2000, "failed": false, "kills": 4})
    );
    // The typed view round-trips.
    let view: orrery_admin::ClusterView = serde_json::from_value(body).unwrap();
    assert_eq!(view.systems.len(), 3);
}

#[tokio::test]
async fn system_detail_is_flat_and_unknown_systems_are_404() {
    let (app, _) = app();
    let body = authed(&app, Method::GET, "/api/v1/systems/2", None).await.json();
    assert_eq!(body["system_id"], 2);
    assert_eq!(body["tidi"], 0.5);
    assert_eq!(body["security"], 0.5);
    assert_eq!(body["region"], "The Forge");
    assert_eq!(body["constellation"], "Kimotoro");
    assert_eq!(body["neighbours"], json!([3]));
    assert_eq!(body["queue"], 0);
    assert!(body.get("system").is_none(), "the live numbers are flattened: {body}");

    authed(&app, Method::GET, "/api/v1/systems/99", None).await.assert_error(StatusCode::NOT_FOUND, None);
    for bad in ["abc", "-1", "4294967296", "1.5"] {
        let answer = authed(&app, Method::GET, &format!("/api/v1/systems/{bad}"), None).await;
        answer.assert_error(StatusCode::BAD_REQUEST, Some("id"));
    }
}

#[tokio::test]
async fn universe_shape() {
    let (app, _) = app();
    let body = authed(&app, Method::GET, "/api/v1/universe", None).await.json();
    assert_eq!(body["systems"].as_array().unwrap().len(), 4);
    assert_eq!(
        body["systems"][0],
        json!({"system_id": 1, "name": "System 1", "x": 1.0, "z": -1.0, "security": 0.5, "node_id": 1})
    );
    assert_eq!(body["gates"], json!([[1, 2], [2, 3], [3, 4]]));
}

#[tokio::test]
async fn settings_are_listed_and_changed() {
    let (app, mock) = app();
    let list = authed(&app, Method::GET, "/api/v1/settings", None).await.json();
    assert_eq!(
        list[0],
        json!({"key": "max_players", "value": 2000, "default": 2000, "description": "ships per system",
               "updated_at_ms": null})
    );
    let answer = authed(&app, Method::PUT, "/api/v1/settings/max_players", Some(r#"{"value": 500}"#)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["value"], 500);
    assert_eq!(answer.json()["updated_at_ms"], 1_700_000_000_000u64);
    assert_eq!(mock.lock().settings[0].value, json!(500));
    // `null` is a value like any other: the cluster judges it.
    let answer = authed(&app, Method::PUT, "/api/v1/settings/motd", Some(r#"{"value": null}"#)).await;
    answer.assert_error(StatusCode::BAD_REQUEST, Some("value"));
}

#[tokio::test]
async fn malformed_setting_bodies_name_the_field() {
    let (app, mock) = app();
    let uri = "/api/v1/settings/max_players";
    let put = |body: &'static str| {
        let app = app.clone();
        async move { authed(&app, Method::PUT, uri, Some(body)).await }
    };
    put(r#"{}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("value"));
    put(r#"{"valeu": 3}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("value"));
    put(r#"{"value": "many"}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("value"));
    put(r#"{"value": 3"#).await.assert_error(StatusCode::BAD_REQUEST, None);
    put(r#"[3]"#).await.assert_error(StatusCode::BAD_REQUEST, None);
    put("").await.assert_error(StatusCode::BAD_REQUEST, None);
    put("not json").await.assert_error(StatusCode::BAD_REQUEST, None);
    authed(&app, Method::PUT, "/api/v1/settings/nope", Some(r#"{"value": 1}"#))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    assert_eq!(mock.lock().settings[0].value, json!(2000));
}

#[tokio::test]
async fn shutdown_is_scheduled_read_and_cancelled() {
    let (app, _) = app();
    let none = authed(&app, Method::GET, "/api/v1/shutdown", None).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.text(), "null");

    let body = r#"{"cluster": "tranquility", "in_seconds": 300, "reason": "emergency patch"}"#;
    let answer = authed(&app, Method::POST, "/api/v1/shutdown", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let expected = json!({"cluster": "tranquility", "reason": "emergency patch",
                          "fires_at_unix_ms": 1_700_000_300_000u64, "seconds_left": 300});
    assert_eq!(answer.json(), expected);
    assert_eq!(authed(&app, Method::GET, "/api/v1/shutdown", None).await.json(), expected);
    assert_eq!(authed(&app, Method::GET, "/api/v1/cluster", None).await.json()["shutdown"], expected);

    let cancelled = authed(&app, Method::DELETE, "/api/v1/shutdown", None).await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT);
    assert!(cancelled.body.is_empty());
    authed(&app, Method::DELETE, "/api/v1/shutdown", None).await.assert_error(StatusCode::NOT_FOUND, None);
    assert_eq!(authed(&app, Method::GET, "/api/v1/shutdown", None).await.text(), "null");
}

#[tokio::test]
async fn shutdown_refuses_the_wrong_cluster_and_malformed_bodies() {
    let (app, mock) = app();
    let post = |body: &'static str| {
        let app = app.clone();
        async move { authed(&app, Method::POST, "/api/v1/shutdown", Some(body)).await }
    };
    let cases: &[(&str, Option<&str>)] = &[
        (r#"{"cluster": "Tranquility", "in_seconds": 60, "reason": "x"}"#, Some("cluster")),
        (r#"{"cluster": "tranquility ", "in_seconds": 60, "reason": "x"}"#, Some("cluster")),
        (r#"{"cluster": "", "in_seconds": 60, "reason": "x"}"#, Some("cluster")),
        (r#"{"in_seconds": 60, "reason": "x"}"#, Some("cluster")),
        (r#"{"cluster": 7, "in_seconds": 60, "reason": "x"}"#, Some("cluster")),
        (r#"{"cluster": "tranquility", "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": "60", "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": -1, "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": 1.5, "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": null, "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": 99999999999, "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": 18446744073709551616, "reason": "x"}"#, Some("in_seconds")),
        (r#"{"cluster": "tranquility", "in_seconds": 60}"#, Some("reason")),
        (r#"{"cluster": "tranquility", "in_seconds": 60, "reason": ["x"]}"#, Some("reason")),
        (r#"{"cluster": "tranquility", "in_seconds": 60, "reason": "x""#, None),
        (r#""tranquility""#, None),
        ("", None),
    ];
    for &(body, field) in cases {
        let answer = post(body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}: {}", answer.text());
        answer.assert_error(StatusCode::BAD_REQUEST, field);
    }
    assert!(mock.lock().shutdown.is_none());
    // The longest delay accepted is allowed.
    let body =
        format!(r#"{{"cluster": "tranquility", "in_seconds": {}, "reason": ""}}"#, orrery_admin::MAX_SHUTDOWN_SECONDS);
    assert_eq!(authed(&app, Method::POST, "/api/v1/shutdown", Some(&body)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn profiler_routes() {
    let (app, mock) = app();
    let started = authed(&app, Method::POST, "/api/v1/profiler/start", None).await;
    assert_eq!(started.json(), json!({"running": true, "since_unix_ms": 1_700_000_000_000u64}));
    // The cluster's refusal keeps its status: 409 for a profiler already running.
    authed(&app, Method::POST, "/api/v1/profiler/start", None).await.assert_error(StatusCode::CONFLICT, None);
    let report = authed(&app, Method::GET, "/api/v1/profiler/report", None).await.json();
    assert_eq!(report["running"], true);
    assert_eq!(report["by_message"][0]["name"], "Move");
    let stopped = authed(&app, Method::POST, "/api/v1/profiler/stop", None).await;
    assert_eq!(stopped.json(), json!({"running": false, "since_unix_ms": 1_700_000_000_000u64}));

    let svg = authed(&app, Method::GET, "/api/v1/profiler/flamegraph?seconds=5", None).await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.content_type(), "image/svg+xml");
    assert!(svg.text().starts_with("<svg"));
    assert!(svg.headers.get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
    authed(&app, Method::GET, "/api/v1/profiler/flamegraph", None).await;
    authed(&app, Method::GET, "/api/v1/profiler/flamegraph?seconds=60", None).await;
    assert_eq!(mock.lock().flamegraph_requests, vec![5, orrery_admin::DEFAULT_FLAMEGRAPH_SECONDS, 60]);
}

#[tokio::test]
async fn flamegraph_seconds_out_of_range_is_refused_before_sampling() {
    let (app, mock) = app();
    for bad in ["0", "61", "-5", "ten", "", "1e1", "4294967296"] {
        let answer = authed(&app, Method::GET, &format!("/api/v1/profiler/flamegraph?seconds={bad}"), None).await;
        answer.assert_error(StatusCode::BAD_REQUEST, Some("seconds"));
    }
    assert!(mock.lock().flamegraph_requests.is_empty());
    // A failure inside the cluster is a 500 with its reason.
    let answer = authed(&app, Method::GET, "/api/v1/profiler/flamegraph?seconds=42", None).await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, None);
    assert!(answer.json()["error"].as_str().unwrap().contains("sampler unavailable"));
}

#[tokio::test]
async fn log_level_is_read_and_replaced() {
    let (app, mock) = app();
    assert_eq!(authed(&app, Method::GET, "/api/v1/log-level", None).await.json(), json!({"filter": "info"}));
    let answer = authed(&app, Method::PUT, "/api/v1/log-level", Some(r#"{"filter": "orrery=debug,info"}"#)).await;
    assert_eq!(answer.json(), json!({"filter": "orrery=debug,info"}));
    assert_eq!(mock.lock().log_filter, "orrery=debug,info");

    let put = |body: &'static str| {
        let app = app.clone();
        async move { authed(&app, Method::PUT, "/api/v1/log-level", Some(body)).await }
    };
    put(r#"{"filter": "no!"}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("filter"));
    put(r#"{}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("filter"));
    put(r#"{"level": "debug"}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("filter"));
    put(r#"{"filter": 3}"#).await.assert_error(StatusCode::BAD_REQUEST, Some("filter"));
    put(r#"{"filter": "debug""#).await.assert_error(StatusCode::BAD_REQUEST, None);
    assert_eq!(mock.lock().log_filter, "orrery=debug,info");
}

#[tokio::test]
async fn metrics_carry_the_content_type_of_their_format() {
    let (app, mock) = app();
    let answer = authed(&app, Method::GET, "/metrics", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    assert!(answer.text().contains("orrery_sessions 3"));

    mock.lock().metrics = "# TYPE orrery_sessions gauge\norrery_sessions 3\n# EOF\n".into();
    let answer = authed(&app, Method::GET, "/metrics", None).await;
    assert_eq!(answer.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused() {
    let (app, mock) = app();
    let big = format!(r#"{{"filter": "{}"}}"#, "a".repeat(orrery_admin::BODY_LIMIT));
    let answer = authed(&app, Method::PUT, "/api/v1/log-level", Some(&big)).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_eq!(mock.lock().log_filter, "info");
    // Just under the limit is read (and judged by the cluster).
    let fits = format!(r#"{{"filter": "{}"}}"#, "a".repeat(orrery_admin::BODY_LIMIT - 20));
    assert_eq!(authed(&app, Method::PUT, "/api/v1/log-level", Some(&fits)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn kills_are_listed_by_system_and_limit_and_bad_queries_name_their_field() {
    let (app, mock) = app();
    let listed = authed(&app, Method::GET, "/api/v1/kills?system=30000142&limit=2", None).await.json();
    let kills = listed.as_array().expect("an array");
    assert_eq!(kills.len(), 2);
    assert_eq!(kills[0]["kill_id"], 2, "newest first, as the cluster gives them");
    assert_eq!(kills[0]["system_id"], 30000142);
    assert_eq!(kills[0]["final_blow"]["ship_type"], "Rifter");
    assert_eq!(kills[0]["attackers"].as_array().map(Vec::len), Some(2));
    authed(&app, Method::GET, "/api/v1/kills", None).await;
    authed(&app, Method::GET, "/api/v1/kills?limit=1000", None).await;
    assert_eq!(
        mock.lock().kills_requests,
        vec![(Some(30000142), 2), (None, orrery_admin::DEFAULT_KILLS_LIMIT), (None, orrery_admin::MAX_KILLS_LIMIT)]
    );
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("system=-1", "system"),
        ("system=abc", "system"),
    ] {
        let answer = authed(&app, Method::GET, &format!("/api/v1/kills?{query}"), None).await;
        answer.assert_error(StatusCode::BAD_REQUEST, Some(field));
    }
    assert_eq!(mock.lock().kills_requests.len(), 3, "refused before reaching the cluster");
}
