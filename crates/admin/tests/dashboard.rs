//! The dashboard's static files: served without a token, holding the elements operators and scripts rely on.

mod common;

use axum::http::{Method, StatusCode};
use common::{app, send};

/// Every element id the page promises (docs/admin-api.md lists them).
const IDS: &[&str] = &[
    "cluster-name",
    "epoch",
    "sessions",
    "last-update",
    "map",
    "tooltip",
    "nodes",
    "busiest",
    "settings",
    "shutdown",
    "shutdown-cluster",
    "shutdown-seconds",
    "shutdown-reason",
    "shutdown-schedule",
    "shutdown-cancel",
    "shutdown-status",
    "outage-banner",
    "profiler",
    "profiler-start",
    "profiler-stop",
    "profiler-report",
    "flamegraph",
    "log-level",
    "log-level-save",
    "login",
    "token-input",
];

#[tokio::test]
async fn page_is_served_without_a_token_and_has_every_element() {
    let (app, mock) = app();
    for path in ["/", "/dashboard"] {
        let answer = send(&app, Method::GET, path, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.content_type(), "text/html; charset=utf-8");
        let html = answer.text();
        for id in IDS {
            assert!(html.contains(&format!("id=\"{id}\"")), "{path} lacks id {id}");
        }
        assert!(html.contains(r#"<svg id="map""#), "the map is an inline SVG");
        assert!(html.contains(r#"id="shutdown-schedule" class="danger" type="button" disabled"#));
        assert!(html.contains(r#"src="/assets/app.js""#) && html.contains(r#"href="/assets/style.css""#));
        // Nothing from elsewhere: works offline, no CDN.
        for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!html.contains(attribute), "{path} loads {attribute}…");
        }
        let csp = answer.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(answer.headers.get("x-frame-options").unwrap(), "DENY");
    }
    assert_eq!(mock.lock().calls, 0, "the page holds no data");
}

#[tokio::test]
async fn assets_are_served_without_a_token() {
    let (app, _) = app();
    let js = send(&app, Method::GET, "/assets/app.js", None, None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.content_type(), "text/javascript; charset=utf-8");
    let js = js.text();
    // The page's contract with the API and with the tests that drive it in a browser.
    for needle in [
        "Authorization",
        "Bearer ",
        "sessionStorage",
        "#token=",
        "/api/v1/cluster",
        "/api/v1/universe",
        "/api/v1/settings",
        "/api/v1/shutdown",
        "/api/v1/profiler/flamegraph?seconds=",
        "/api/v1/log-level",
        "data-system",
        "node-bar",
        "data-node",
        "data-key",
        "data-save",
        "\"dilated\"",
        "\"failed\"",
    ] {
        assert!(js.contains(needle), "app.js lacks {needle}");
    }
    assert!(!js.contains("innerHTML"), "server data is never parsed as HTML");
    let without_namespace = js.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_namespace.contains("https://") && !without_namespace.contains("http://"),
        "nothing from elsewhere"
    );

    let css = send(&app, Method::GET, "/assets/style.css", None, None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.content_type(), "text/css; charset=utf-8");
    assert!(css.text().contains(".node-bar"));
    assert_eq!(send(&app, Method::GET, "/assets/other.js", None, None).await.status, StatusCode::NOT_FOUND);
}

/// The browser pilot client: page, script and style served without a token, holding no data, allowed to open
/// the game's WebSocket (the transport listens on a port of its own).
#[tokio::test]
async fn the_pilot_page_and_its_assets_are_served_without_a_token() {
    let (app, mock) = app();
    let answer = send(&app, Method::GET, "/play", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "text/html; charset=utf-8");
    let html = answer.text();
    for id in [
        "login",
        "server",
        "username",
        "password",
        "start-system",
        "login-button",
        "status",
        "notice",
        "tidi",
        "system-name",
        "map",
        "approach",
        "warp",
        "jump",
        "stop",
        "celestial-list",
        "ship-list",
        "chat-log",
        "chat-input",
        "chat-send",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "/play lacks id {id}");
    }
    assert!(html.contains(r#"src="/assets/play.js""#) && html.contains(r#"href="/assets/play.css""#));
    for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(attribute), "/play loads {attribute}…");
    }
    let csp = answer.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("connect-src 'self' ws: wss:") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(answer.headers.get("x-frame-options").unwrap(), "DENY");

    let js = send(&app, Method::GET, "/assets/play.js", None, None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.content_type(), "text/javascript; charset=utf-8");
    let js = js.text();
    for needle in ["orreryPlay", "arraybuffer", "ws://"] {
        assert!(js.contains(needle), "play.js lacks {needle}");
    }
    let css = send(&app, Method::GET, "/assets/play.css", None, None).await;
    assert_eq!((css.status, css.content_type()), (StatusCode::OK, "text/css; charset=utf-8"));
    assert_eq!(mock.lock().calls, 0, "the pilot page holds no data");
}
