//! The connection against a scripted server over real sockets (TCP and WebSocket): framing, answers matched by
//! request id, unsolicited envelopes queued in order, typed errors, timeouts and closes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use orrery_client::{ClientError, ClientOptions, Connection as Client};
use orrery_proto::v1::server_envelope::Body as Msg;
use orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd};
use orrery_proto::{error, frame, reply};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(5);

/// What the scripted server does with one command: envelopes to send, raw bytes to send, or close.
enum Act {
    Send(Vec<v1::ServerEnvelope>),
    Raw(Vec<u8>),
    Close,
}

fn script(envelope: v1::ClientEnvelope) -> Act {
    let id = envelope.request_id;
    match envelope.body {
        Some(Cmd::Ping(ping)) => Act::Send(vec![
            reply(0, Msg::Notice(v1::Notice { text: "before pong".into() })),
            reply(0, Msg::Delta(v1::SystemDelta { system_id: 1, tick: ping.nonce, ..Default::default() })),
            reply(id, Msg::Pong(v1::Pong { nonce: ping.nonce })),
        ]),
        Some(Cmd::Register(r)) if r.username == "taken" => Act::Send(vec![error(id, ErrorCode::NameTaken, "taken")]),
        Some(Cmd::Register(_)) => Act::Send(vec![logged_in(id, 1)]),
        Some(Cmd::Login(_)) => Act::Send(vec![logged_in(id, 2)]),
        Some(Cmd::Chat(c)) if c.text == "silence" => Act::Send(Vec::new()),
        Some(Cmd::Chat(c)) if c.text == "huge" => Act::Raw(vec![0x7f, 0xff, 0xff, 0xff]),
        Some(Cmd::Chat(c)) if c.text == "garbage" => Act::Raw(vec![0, 0, 0, 3, 0xff, 0xff, 0xff]),
        Some(Cmd::Chat(c)) if c.text == "bye" => Act::Close,
        // Answer out of order: first an unrelated error for another id, then an error for this one.
        Some(Cmd::Undock(_)) => Act::Send(vec![
            error(id + 1000, ErrorCode::RateLimited, "someone else's"),
            error(id, ErrorCode::InvalidArgument, "undock.character_id: unknown"),
        ]),
        Some(Cmd::Logout(_)) => Act::Send(vec![reply(id, Msg::Ok(v1::Ok {}))]),
        _ => Act::Send(vec![error(id, ErrorCode::UnknownMessage, "not scripted")]),
    }
}

fn logged_in(id: u32, account_id: u64) -> v1::ServerEnvelope {
    reply(
        id,
        Msg::LoggedIn(v1::LoggedIn {
            account_id,
            token: format!("t{account_id}"),
            characters: Vec::new(),
            trade_hubs: Vec::new(),
        }),
    )
}

/// A server on 127.0.0.1 following [`script`] over TCP, or over WebSocket when `websocket`.
async fn scripted_server(websocket: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if websocket {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                    while let Some(Ok(message)) = ws.next().await {
                        let WsMessage::Binary(payload) = message else { continue };
                        let Ok(envelope) = frame::decode::<v1::ClientEnvelope>(&payload) else { return };
                        match script(envelope) {
                            Act::Send(replies) => {
                                for r in replies {
                                    let _ = ws.send(WsMessage::Binary(r.encode_to_vec().into())).await;
                                }
                            }
                            Act::Raw(bytes) => {
                                let _ = ws.send(WsMessage::Binary(bytes.into())).await;
                            }
                            Act::Close => return,
                        }
                    }
                } else {
                    let mut buffer = BytesMut::new();
                    loop {
                        let payload = match frame::split(&mut buffer, frame::DEFAULT_MAX_FRAME) {
                            Ok(Some(payload)) => payload,
                            Ok(None) => match stream.read_buf(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => continue,
                            },
                            Err(_) => return,
                        };
                        let Ok(envelope) = frame::decode::<v1::ClientEnvelope>(&payload) else { return };
                        match script(envelope) {
                            Act::Send(replies) => {
                                // All in one write, so that the client must split several frames from one read.
                                let mut out = Vec::new();
                                for r in replies {
                                    out.extend_from_slice(&frame::encode(&r));
                                }
                                let _ = stream.write_all(&out).await;
                            }
                            Act::Raw(bytes) => {
                                let _ = stream.write_all(&bytes).await;
                            }
                            Act::Close => return,
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn connect(websocket: bool) -> Client {
    let addr = scripted_server(websocket).await;
    let target = if websocket { format!("ws://{addr}/") } else { addr.to_string() };
    let client = Client::connect(&target).await.expect("connect");
    assert_eq!(client.is_websocket(), websocket);
    client
}

fn ping(nonce: u64) -> Cmd {
    Cmd::Ping(v1::Ping { nonce })
}

async fn answers_are_matched_and_unsolicited_envelopes_queued_in_order(websocket: bool) {
    let mut client = connect(websocket).await;
    let pong = client.request(ping(41), WAIT).await.expect("pong");
    assert_eq!(pong.request_id, 1, "the first request id is 1");
    assert_eq!(pong.body, Some(Msg::Pong(v1::Pong { nonce: 41 })));
    assert_eq!(client.queued(), 2);
    let pong = client.request(ping(42), WAIT).await.expect("pong");
    assert_eq!(pong.request_id, 2);
    assert_eq!(client.queued(), 4);
    let mut seen = Vec::new();
    while let Some(event) = client.next_event(Duration::from_millis(200)).await.expect("no error") {
        assert_eq!(event.request_id, 0);
        seen.push(match event.body {
            Some(Msg::Notice(n)) => n.text,
            Some(Msg::Delta(d)) => format!("delta {}", d.tick),
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(seen, ["before pong", "delta 41", "before pong", "delta 42"]);
    assert_eq!(client.dropped_events(), 0);
}

#[tokio::test]
async fn tcp_answers_are_matched_and_unsolicited_envelopes_queued_in_order() {
    answers_are_matched_and_unsolicited_envelopes_queued_in_order(false).await;
}

#[tokio::test]
async fn ws_answers_are_matched_and_unsolicited_envelopes_queued_in_order() {
    answers_are_matched_and_unsolicited_envelopes_queued_in_order(true).await;
}

async fn server_errors_are_typed_and_registration_falls_back_to_login(websocket: bool) {
    let mut client = connect(websocket).await;
    let session = client.register_or_login("fresh", "password1").await.expect("registered");
    assert_eq!(session.account_id, 1);
    let session = client.register_or_login("taken", "password1").await.expect("logged in instead");
    assert_eq!(session.account_id, 2, "NAME_TAKEN made it log in");
    match client.undock(5).await {
        Err(ClientError::Server { code: ErrorCode::InvalidArgument, reason }) => assert!(reason.contains("undock")),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
    // The error for another request id arrived first and waits in the queue, untouched.
    let queued = client.next_event(Duration::ZERO).await.expect("ok").expect("queued");
    assert!(matches!(queued.body, Some(Msg::Error(ref e)) if e.code == ErrorCode::RateLimited as i32));
    client.logout().await.expect("logout answered by Ok");
}

#[tokio::test]
async fn tcp_server_errors_are_typed_and_registration_falls_back_to_login() {
    server_errors_are_typed_and_registration_falls_back_to_login(false).await;
}

#[tokio::test]
async fn ws_server_errors_are_typed_and_registration_falls_back_to_login() {
    server_errors_are_typed_and_registration_falls_back_to_login(true).await;
}

async fn silence_times_out_and_a_close_is_reported(websocket: bool) {
    let mut client = connect(websocket).await;
    let chat = |text: &str| Cmd::Chat(v1::Chat { text: text.into() });
    match client.request(chat("silence"), Duration::from_millis(100)).await {
        Err(ClientError::Timeout { after }) => assert_eq!(after, Duration::from_millis(100)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(client.next_event(Duration::from_millis(50)).await.expect("still connected").is_none());
    client.send(chat("bye")).await.expect("sent");
    match client.next_event(WAIT).await {
        Err(error) => assert!(error.is_disconnect(), "{error:?}"),
        Ok(other) => panic!("expected the close, got {other:?}"),
    }
    assert!(matches!(client.send(ping(1)).await, Err(ClientError::Closed)), "unusable after a close");
}

#[tokio::test]
async fn tcp_silence_times_out_and_a_close_is_reported() {
    silence_times_out_and_a_close_is_reported(false).await;
}

#[tokio::test]
async fn ws_silence_times_out_and_a_close_is_reported() {
    silence_times_out_and_a_close_is_reported(true).await;
}

#[tokio::test]
async fn oversized_frames_are_refused_before_buffering() {
    let addr = scripted_server(false).await;
    let options = ClientOptions { max_frame: 1024, ..ClientOptions::default() };
    let mut client = Client::connect_tcp_with(addr, options).await.expect("connect");
    client.send(Cmd::Chat(v1::Chat { text: "huge".into() })).await.expect("sent");
    match client.next_event(WAIT).await {
        Err(ClientError::Frame(frame::FrameError::TooLarge { len, max })) => {
            assert_eq!((len, max), (0x7fff_ffff, 1024));
        }
        other => panic!("expected a frame error, got {other:?}"),
    }
}

async fn garbage_is_a_frame_error(websocket: bool) {
    let mut client = connect(websocket).await;
    client.send(Cmd::Chat(v1::Chat { text: "garbage".into() })).await.expect("sent");
    match client.next_event(WAIT).await {
        Err(ClientError::Frame(frame::FrameError::Decode(_))) => {}
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn tcp_garbage_is_a_frame_error() {
    garbage_is_a_frame_error(false).await;
}

#[tokio::test]
async fn ws_garbage_is_a_frame_error() {
    garbage_is_a_frame_error(true).await;
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_events() {
    let addr = scripted_server(false).await;
    let options = ClientOptions { max_queued: 3, ..ClientOptions::default() };
    let mut client = Client::connect_tcp_with(addr, options).await.expect("connect");
    for nonce in 1..=3 {
        client.request(ping(nonce), WAIT).await.expect("pong");
    }
    assert_eq!(client.queued(), 3);
    assert_eq!(client.dropped_events(), 3);
    // The newest three remain: the last ping's notice and delta, and the delta before them.
    let mut remaining = Vec::new();
    while let Some(event) = client.next_event(Duration::ZERO).await.expect("ok") {
        remaining.push(event.body);
    }
    assert!(
        matches!(remaining.as_slice(), [Some(Msg::Delta(a)), Some(Msg::Notice(_)), Some(Msg::Delta(b))] if a.tick == 2 && b.tick == 3)
    );
}

#[tokio::test]
async fn connecting_to_nothing_fails_with_io() {
    // Bind then drop a listener to find a port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
    match Client::connect(&addr.to_string()).await {
        Err(ClientError::Io(_)) => {}
        Err(other) => panic!("expected an I/O error, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
    match Client::connect(&format!("ws://{addr}/")).await {
        Err(ClientError::Io(_)) => {}
        Err(other) => panic!("expected an I/O error, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
}
