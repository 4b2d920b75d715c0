//! Hostile or broken clients get clear errors (code + reason), framing errors disconnect them, and nobody
//! else notices.

mod common;

use std::time::Duration;

use bytes::BufMut;
use common::{TestCluster, WAIT, pilot};
use futures::{SinkExt, StreamExt};
use orrery_bots::orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Read one framed envelope from a raw socket (or None at end of stream).
async fn read_envelope(stream: &mut TcpStream) -> Option<v1::ServerEnvelope> {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    tokio::time::timeout(WAIT, stream.read_exact(&mut payload)).await.ok()?.ok()?;
    v1::ServerEnvelope::decode(&payload[..]).ok()
}

async fn expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(_) | Err(_))), "the server closes the connection");
}

fn error_of(envelope: &v1::ServerEnvelope) -> (ErrorCode, String) {
    match &envelope.body {
        Some(Msg::Error(error)) => {
            (ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified), error.reason.clone())
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_errors_are_answered_then_disconnected_and_others_fly_on() {
    let test = TestCluster::start_with(|config| config.max_frame_bytes = 1024).await;
    let mut bystander = pilot(&test.addr(), "bystander").await;

    // Oversized frame: refused by its header, before the body is read.
    let mut raw = TcpStream::connect(test.cluster.tcp_addr()).await.unwrap();
    raw.write_all(&(1_000_000u32).to_be_bytes()).await.unwrap();
    let (code, reason) = error_of(&read_envelope(&mut raw).await.expect("an error frame"));
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(reason.contains("1000000") && reason.contains("1024"), "{reason}");
    expect_closed(&mut raw).await;

    // Garbage that is not protobuf.
    let mut raw = TcpStream::connect(test.cluster.tcp_addr()).await.unwrap();
    let mut frame = Vec::new();
    frame.put_u32(5);
    frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff]);
    raw.write_all(&frame).await.unwrap();
    let (code, _) = error_of(&read_envelope(&mut raw).await.expect("an error frame"));
    assert_eq!(code, ErrorCode::BadFrame);
    expect_closed(&mut raw).await;

    // A WebSocket text message is not an envelope either.
    let (mut ws, _) = tokio_tungstenite::connect_async(test.ws_url()).await.unwrap();
    ws.send(WsMessage::Text("hello".into())).await.unwrap();
    let answer = loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(payload))) => break v1::ServerEnvelope::decode(&payload[..]).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("expected an error message, got {other:?}"),
        }
    };
    let (code, reason) = error_of(&answer);
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(reason.contains("text"), "{reason}");
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                None | Some(Err(_) | Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the websocket is closed after a framing error");

    // The bystander kept flying through all of it.
    let tick = bystander.last_tick;
    bystander.until(WAIT, "more ticks", |p| p.last_tick > tick + 3).await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_misuse_gets_a_code_and_a_reason() {
    let test = TestCluster::start().await;
    let mut client = Client::connect(&test.addr()).await.unwrap();

    // An envelope with no body.
    client.send_envelope(&v1::ClientEnvelope { request_id: 900, body: None }).await.unwrap();
    let answer = client.wait_reply(900, WAIT).await;
    assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::UnknownMessage, .. })), "{answer:?}");

    // Commands before login.
    for body in [
        Cmd::Undock(v1::Undock { character_id: 1 }),
        Cmd::CreateCharacter(v1::CreateCharacter { name: "Nobody".into(), start_system: None }),
        Cmd::Chat(v1::Chat { text: "hi".into() }),
    ] {
        let answer = client.request(body, WAIT).await;
        assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::NotLoggedIn, .. })), "{answer:?}");
    }

    // Bad credentials and bad registrations name what was wrong.
    let answer = client.login("nobody_here", "whatever123").await;
    assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::BadCredentials, .. })), "{answer:?}");
    let short = client
        .request(Cmd::Register(v1::Register { username: "ab".into(), password: "long enough".into() }), WAIT)
        .await;
    assert!(
        matches!(&short, Err(ClientError::Server { code: ErrorCode::InvalidArgument, reason }) if reason.contains("username")),
        "{short:?}"
    );

    // Someone else's character, and commands while docked.
    let mut owner = pilot(&test.addr(), "owner").await;
    let theirs = owner.character.character_id;
    client.register_or_login("intruder", "correct horse battery").await.unwrap();
    let answer = client.request(Cmd::Undock(v1::Undock { character_id: theirs }), WAIT).await;
    assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::NotYours, .. })), "{answer:?}");
    let answer = client.request(Cmd::Stop(v1::Stop {}), WAIT).await;
    assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::NotInSpace, .. })), "{answer:?}");

    // Impossible moves in space.
    let elsewhere = test
        .universe
        .systems()
        .iter()
        .map(|s| s.id.0)
        .find(|id| *id != owner.system() && owner.gate_to(*id).is_none())
        .unwrap();
    let foreign_gate = orrery_sim::celestial_id(elsewhere, 1);
    let (code, reason) = owner.refused(Cmd::WarpTo(v1::WarpTo { object_id: foreign_gate, range_m: 0 })).await;
    assert_eq!(code, ErrorCode::NotInSystem, "{reason}");
    let (code, _) = owner.refused(Cmd::Jump(v1::Jump { gate_id: foreign_gate })).await;
    assert_eq!(code, ErrorCode::NotInSystem);
    let far_gate = owner.gates()[0].id;
    let (code, reason) = owner.refused(Cmd::Jump(v1::Jump { gate_id: far_gate })).await;
    assert_eq!(code, ErrorCode::OutOfRange, "{reason}");
    assert!(reason.contains("2500"), "{reason}");
    let star = owner.snapshot.celestials[0].id;
    let (code, _) = owner.refused(Cmd::Jump(v1::Jump { gate_id: star })).await;
    assert_eq!(code, ErrorCode::NotInSystem, "a star is not a gate");
    let (code, reason) = owner.refused(Cmd::Chat(v1::Chat { text: "x".repeat(501) })).await;
    assert_eq!(code, ErrorCode::InvalidArgument);
    assert!(reason.contains("chat.text"), "{reason}");
    let (code, _) = owner.refused(Cmd::Approach(v1::Approach { target: None })).await;
    assert_eq!(code, ErrorCode::InvalidArgument);

    // Undocking twice.
    let (code, _) = owner.refused(Cmd::Undock(v1::Undock { character_id: theirs })).await;
    assert_eq!(code, ErrorCode::AlreadyInSpace);
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_refuses_the_excess_only() {
    let test = TestCluster::start_with(|config| config.rate_limit_per_s = 5).await;
    let mut client = Client::connect(&test.addr()).await.unwrap();
    let mut ids = Vec::new();
    for nonce in 0..12 {
        ids.push(client.send(Cmd::Ping(v1::Ping { nonce })).await.unwrap());
    }
    let mut pongs = 0;
    let mut limited = 0;
    for id in ids {
        match client.wait_reply(id, WAIT).await {
            Ok(_) => pongs += 1,
            Err(ClientError::Server { code: ErrorCode::RateLimited, .. }) => limited += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(pongs + limited, 12);
    assert!((5..=6).contains(&pongs), "a burst of the rate passes: {pongs}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.ping().await.expect("the bucket refills");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_disconnected_and_their_ships_stored() {
    let test = TestCluster::start_with(|config| config.idle_timeout = Duration::from_millis(800)).await;
    let mut idle = pilot(&test.addr(), "sleepy").await;
    let ship = idle.ship_id();
    // Deltas keep coming, but the client sends nothing: the server closes it.
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match idle.client.next_event(WAIT).await {
                Ok(Some(_)) => continue,
                Ok(None) => continue,
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle client disconnected");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let row = test.cluster.store().ship(ship).await.unwrap().unwrap();
    assert!(!row.in_space, "the dropped client's ship left space and was stored");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_memory_stays_bounded() {
    let test = TestCluster::start_with(|config| {
        config.outbound_queue = 8;
        config.socket_send_buffer = Some(4096);
        config.rate_limit_per_s = 50;
    })
    .await;
    // The slow client shares a system with a chatty one, then never reads again.
    let slow = pilot(&test.addr(), "slowpoke").await;
    let system = slow.system();
    let name = common::name_starting_in(&test, system, "chatter_");
    let mut chatter = pilot(&test.addr(), &name).await;
    let opened = test.cluster.proxy().expect("the embedded cluster runs a proxy").open_sessions();
    let text = "y".repeat(480);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while test
        .cluster
        .proxy()
        .expect("the embedded cluster runs a proxy")
        .stats()
        .slow_clients_dropped
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "the slow client was never dropped");
        for _ in 0..4 {
            chatter.command(Cmd::Chat(v1::Chat { text: text.clone() })).await;
        }
        // Keep the chatter's own socket drained.
        while let Ok(Some(envelope)) = chatter.client.next_event(Duration::from_millis(1)).await {
            chatter.absorb(&envelope);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = std::time::Instant::now() + WAIT;
    while test.cluster.proxy().expect("the embedded cluster runs a proxy").open_sessions() != opened - 1 {
        assert!(std::time::Instant::now() < deadline, "the slow session's task ends");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The chatter is unaffected.
    chatter.client.ping().await.expect("chatter still connected");
    drop(slow);
    test.cluster.shutdown().await;
}
