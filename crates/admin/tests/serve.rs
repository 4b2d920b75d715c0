//! `serve` over a real socket: binding (port 0, a taken port, a bad token), answering, stopping gracefully.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Mock, TOKEN};
use orrery_admin::{AdminConfig, AdminError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// One HTTP/1.1 request over a fresh connection; returns the status line and the body.
async fn request(addr: SocketAddr, path: &str, auth: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn config(listen: &str, token: &str) -> AdminConfig {
    AdminConfig { listen: listen.parse().unwrap(), token: token.to_owned() }
}

#[tokio::test]
async fn serves_on_a_free_port_and_stops_when_told() {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = orrery_admin::serve(config("127.0.0.1:0", TOKEN), Mock::new(), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let addr = handle.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(handle.dashboard_url(TOKEN), format!("http://{addr}/#token={TOKEN}"));

    let (status, body) = request(addr, "/api/v1/cluster", None).await;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    assert!(body.contains(r#"{"error":"unauthorized"}"#), "{body}");
    let (status, body) = request(addr, "/api/v1/cluster", Some(&format!("Bearer {TOKEN}"))).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(body.contains(r#""cluster_name":"tranquility""#), "{body}");
    let (status, body) = request(addr, "/", None).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(body.contains(r#"id="cluster-name""#));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle.join()).await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn a_taken_port_is_reported_with_its_address() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let error =
        orrery_admin::serve(config(&addr.to_string(), TOKEN), Mock::new(), std::future::pending()).await.unwrap_err();
    assert!(matches!(error, AdminError::Bind { addr: a, .. } if a == addr), "{error}");
    assert!(error.to_string().contains(&addr.to_string()));
}

#[tokio::test]
async fn an_empty_or_unusable_token_is_refused() {
    let empty = orrery_admin::serve(config("127.0.0.1:0", ""), Mock::new(), std::future::pending()).await;
    assert!(matches!(empty, Err(AdminError::EmptyToken)));
    let spaced = orrery_admin::serve(config("127.0.0.1:0", "two words"), Mock::new(), std::future::pending()).await;
    assert!(matches!(spaced, Err(AdminError::InvalidToken)));
}

#[test]
fn config_debug_hides_the_token() {
    let shown = format!("{:?}", config("127.0.0.1:7780", "secret-value"));
    assert!(!shown.contains("secret-value"), "{shown}");
    assert!(shown.contains("127.0.0.1:7780"));
}

#[tokio::test]
async fn an_empty_router_token_admits_nobody() {
    let app = orrery_admin::router("", Mock::new());
    let answer = common::send(&app, axum::http::Method::GET, "/api/v1/cluster", Some("Bearer "), None).await;
    assert_eq!(answer.status, axum::http::StatusCode::UNAUTHORIZED);
}
