//! The client side of the golden protocol cases (`proto/conformance/cases.json`), over real sockets (TCP and
//! WebSocket): every command the typed methods send is byte for byte the case's, every server message the
//! cases list is read back as its message, invalid payloads and oversized frames are refused, TCP streams are
//! split as the cases say, and the flows end with the answers, events and mirror the cases name.

use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use orrery_client::orrery_proto::conformance::{self, Envelope, Step, hex_bytes, to_hex};
use orrery_client::orrery_proto::frame::{self, FrameError};
use orrery_client::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_client::{ClientError, ClientOptions, Connection, Mirror};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(10);

fn cases() -> conformance::Cases {
    conformance::cases().expect("proto/conformance/cases.json reads")
}

fn client_json(json: &serde_json::Value) -> v1::ClientEnvelope {
    conformance::from_json(Envelope::ClientEnvelope, json).expect("JSON fits")
}

fn server_json(json: &serde_json::Value) -> v1::ServerEnvelope {
    conformance::from_json(Envelope::ServerEnvelope, json).expect("JSON fits")
}

/// One accepted connection of either transport, with raw access for the scripted side.
enum Peer {
    Tcp(TcpStream, BytesMut),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

impl Peer {
    async fn accept(listener: &TcpListener, websocket: bool) -> Peer {
        let (stream, _) = listener.accept().await.expect("accept");
        if websocket {
            Peer::Ws(Box::new(tokio_tungstenite::accept_async(stream).await.expect("WebSocket handshake")))
        } else {
            Peer::Tcp(stream, BytesMut::new())
        }
    }

    /// The next frame from the client exactly as it travelled: the TCP frame with its length prefix, or the
    /// WebSocket message's payload. `None` once the client is gone.
    async fn read_raw(&mut self) -> Option<Vec<u8>> {
        match self {
            Peer::Tcp(stream, buffer) => loop {
                if buffer.len() >= frame::HEADER_LEN {
                    let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
                    if buffer.len() >= frame::HEADER_LEN + len {
                        return Some(buffer.split_to(frame::HEADER_LEN + len).to_vec());
                    }
                }
                if stream.read_buf(buffer).await.ok()? == 0 {
                    return None;
                }
            },
            Peer::Ws(ws) => loop {
                match ws.next().await? {
                    Ok(WsMessage::Binary(payload)) => return Some(payload.to_vec()),
                    Ok(WsMessage::Close(_)) | Err(_) => return None,
                    Ok(_) => {}
                }
            },
        }
    }

    /// Sends one envelope's payload as the transport frames it.
    async fn write_payload(&mut self, payload: &[u8]) {
        match self {
            Peer::Tcp(stream, _) => stream.write_all(&frame::prefix(payload)).await.expect("write"),
            Peer::Ws(ws) => ws.send(WsMessage::Binary(payload.to_vec().into())).await.expect("send"),
        }
    }

    /// Waits until the client closes.
    async fn drain(mut self) {
        while self.read_raw().await.is_some() {}
    }
}

async fn listen(websocket: bool) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let target = if websocket { format!("ws://{addr}/") } else { addr.to_string() };
    (listener, target)
}

/// Calls the typed method that sends `envelope`'s command, with the connection's next id set to its id.
async fn call_typed(connection: &mut Connection, envelope: &v1::ClientEnvelope) {
    connection.set_next_request_id(envelope.request_id);
    let id = envelope.request_id;
    let sent_alone = |result: Result<u32, ClientError>| assert_eq!(result.expect("sent"), id);
    // Commands with an answer get an error answer from the capturing server; only their bytes matter here.
    match envelope.body.clone().expect("a command") {
        Cmd::Register(r) => drop(connection.register(&r.username, &r.password).await),
        Cmd::Login(l) => drop(connection.login(&l.username, &l.password).await),
        Cmd::Resume(r) => drop(connection.resume(&r.token).await),
        Cmd::CreateCharacter(c) => drop(connection.create_character_in(&c.name, c.start_system).await),
        Cmd::Undock(u) => drop(connection.undock(u.character_id).await),
        Cmd::Approach(a) => match a.target.expect("a target") {
            v1::approach::Target::Point(point) => sent_alone(connection.approach_point(point).await),
            v1::approach::Target::ObjectId(object) => sent_alone(connection.approach(object).await),
        },
        Cmd::Stop(_) => sent_alone(connection.stop().await),
        Cmd::WarpTo(w) => sent_alone(connection.warp_to(w.object_id, w.range_m).await),
        Cmd::Jump(j) => drop(connection.jump(j.gate_id).await),
        Cmd::Chat(c) => sent_alone(connection.chat(&c.text).await),
        Cmd::Orbit(o) => sent_alone(connection.orbit(o.object_id, o.radius_m).await),
        Cmd::Lock(l) => sent_alone(connection.lock(l.target_id).await),
        Cmd::Unlock(u) => sent_alone(connection.unlock(u.target_id).await),
        Cmd::ActivateModule(a) => sent_alone(connection.activate_module(a.module, a.target_id).await),
        Cmd::DeactivateModule(d) => sent_alone(connection.deactivate_module(d.module).await),
        Cmd::Logout(_) => drop(connection.logout().await),
        Cmd::Ping(p) => drop(connection.ping_with(p.nonce).await),
        // The market's requests have no typed methods: they go through `request`.
        market @ (Cmd::PlaceOrder(_)
        | Cmd::ModifyOrder(_)
        | Cmd::CancelOrder(_)
        | Cmd::GetMarketDepth(_)
        | Cmd::GetMyOrders(_)
        | Cmd::GetWallet(_)
        | Cmd::GetTransactions(_)
        | Cmd::GetMarketHistory(_)) => drop(connection.request(market, WAIT).await),
    }
}

/// What the connection writes for a command, as its transport frames it.
async fn captured(websocket: bool, command: impl AsyncFnOnce(&mut Connection)) -> Vec<u8> {
    let (listener, target) = listen(websocket).await;
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, websocket).await;
        let raw = peer.read_raw().await.expect("a frame");
        let payload = if websocket { &raw[..] } else { &raw[frame::HEADER_LEN..] };
        let id = v1::ClientEnvelope::decode(payload).map_or(0, |envelope| envelope.request_id);
        let _ = tx.send(raw);
        peer.write_payload(&orrery_proto_error(id)).await;
        peer.drain().await;
    });
    let mut connection = Connection::connect(&target).await.expect("connect");
    command(&mut connection).await;
    let raw = tokio::time::timeout(WAIT, rx).await.expect("the server got a frame").expect("captured");
    connection.close().await.expect("close");
    server.await.expect("server");
    raw
}

fn orrery_proto_error(request_id: u32) -> Vec<u8> {
    orrery_client::orrery_proto::error(request_id, v1::ErrorCode::Unspecified, "captured").encode_to_vec()
}

#[tokio::test]
async fn typed_commands_write_the_golden_bytes_on_both_transports() {
    let cases = cases();
    let commands: Vec<_> = cases.encoding.iter().filter(|case| case.message == Envelope::ClientEnvelope).collect();
    assert!(commands.len() >= 12);
    for websocket in [false, true] {
        for case in &commands {
            let envelope = client_json(&case.json);
            let payload = hex_bytes(&case.payload).expect("hex");
            let raw = if envelope.request_id == 0 {
                // The typed methods never use id 0 (it marks unsolicited messages): sent as is.
                captured(websocket, async |c: &mut Connection| c.send_envelope(&envelope).await.expect("sent")).await
            } else {
                captured(websocket, async |c: &mut Connection| call_typed(c, &envelope).await).await
            };
            let expected = if websocket { payload.clone() } else { frame::prefix(&payload).to_vec() };
            assert_eq!(to_hex(&raw), to_hex(&expected), "{} (websocket: {websocket})", case.name);
        }
    }
}

/// A server that sends `payloads` as soon as the client connects, then waits for it to close.
async fn sending(websocket: bool, payloads: Vec<Vec<u8>>) -> String {
    let (listener, target) = listen(websocket).await;
    tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, websocket).await;
        for payload in &payloads {
            peer.write_payload(payload).await;
        }
        peer.drain().await;
    });
    target
}

#[tokio::test]
async fn every_server_message_is_read_back_on_both_transports() {
    let cases = cases();
    let mut expected = Vec::new();
    let mut payloads = Vec::new();
    for case in cases.encoding.iter().filter(|case| case.message == Envelope::ServerEnvelope) {
        payloads.push(hex_bytes(&case.payload).expect("hex"));
        expected.push((case.name.clone(), server_json(&case.json)));
    }
    for case in cases.decoding.iter().filter(|case| case.message == Envelope::ServerEnvelope) {
        payloads.push(hex_bytes(&case.payload).expect("hex"));
        expected.push((case.name.clone(), server_json(&case.json)));
    }
    assert!(expected.len() >= 12);
    for websocket in [false, true] {
        let mut connection = Connection::connect(&sending(websocket, payloads.clone()).await).await.expect("connect");
        for (name, message) in &expected {
            let received = connection.next_event(WAIT).await.expect("readable").expect("arrived");
            assert_eq!(&received, message, "{name} (websocket: {websocket})");
        }
        connection.close().await.expect("close");
    }
}

#[tokio::test]
async fn invalid_server_payloads_are_refused_on_both_transports() {
    let cases = cases();
    let invalid: Vec<_> = cases.invalid.iter().filter(|case| case.message == Envelope::ServerEnvelope).collect();
    assert!(!invalid.is_empty(), "the cases hold invalid server payloads");
    for websocket in [false, true] {
        for case in &invalid {
            let target = sending(websocket, vec![hex_bytes(&case.payload).expect("hex")]).await;
            let mut connection = Connection::connect(&target).await.expect("connect");
            let refused = connection.next_event(WAIT).await.expect_err("refused");
            assert!(matches!(refused, ClientError::Frame(FrameError::Decode(_))), "{}: {refused}", case.name);
            assert!(refused.is_disconnect());
        }
    }
}

#[tokio::test]
async fn tcp_streams_are_split_as_the_cases_say() {
    for case in &cases().framing {
        let stream = hex_bytes(&case.stream).expect("hex");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            socket.write_all(&stream).await.expect("write");
            // Closing after the stream: whatever is left is a frame cut short.
        });
        let options = ClientOptions { max_frame: case.max, ..ClientOptions::default() };
        let mut connection = Connection::connect_tcp_with(addr, options).await.expect("connect");
        for payload in &case.frames {
            let expected: v1::ServerEnvelope = frame::decode(&hex_bytes(payload).expect("hex")).expect("decodes");
            assert_eq!(connection.next_event(WAIT).await.expect("a frame"), Some(expected), "{}", case.name);
        }
        let end = connection.next_event(WAIT).await.expect_err("the stream ends");
        match (case.refused, case.rest) {
            (true, _) => {
                assert!(matches!(end, ClientError::Frame(FrameError::TooLarge { .. })), "{}: {end}", case.name);
            }
            (false, 0) => assert!(matches!(end, ClientError::Closed), "{}: {end}", case.name),
            (false, _) => assert!(
                matches!(&end, ClientError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof),
                "{}: {end}",
                case.name
            ),
        }
    }
}

/// What a client concludes from a flow: each command's answer (the last envelope with its id: `Queued` is
/// progress), the events (everything else, in arrival order) and the mirror (snapshots and deltas in arrival
/// order).
#[tokio::test]
async fn flows_end_with_the_answers_events_and_mirror_the_cases_name() {
    let cases = cases();
    assert!(cases.flows.len() >= 3);
    for websocket in [false, true] {
        for flow in &cases.flows {
            let (listener, target) = listen(websocket).await;
            let steps = flow.steps.clone();
            let server = tokio::spawn(async move {
                let mut peer = Peer::accept(&listener, websocket).await;
                let mut mismatches = Vec::new();
                for step in &steps {
                    match step {
                        Step::Send(json) => {
                            let expected = conformance::json_to_bytes(Envelope::ClientEnvelope, json).expect("fits");
                            let raw = peer.read_raw().await.expect("the client's command");
                            let payload = if websocket { raw } else { raw[frame::HEADER_LEN..].to_vec() };
                            if payload != expected {
                                mismatches.push(format!("{json}: got {}", to_hex(&payload)));
                            }
                        }
                        Step::Receive(json) => {
                            peer.write_payload(
                                &conformance::json_to_bytes(Envelope::ServerEnvelope, json).expect("fits"),
                            )
                            .await;
                        }
                    }
                }
                peer.drain().await;
                mismatches
            });

            let sends: Vec<v1::ClientEnvelope> = flow
                .steps
                .iter()
                .filter_map(|step| if let Step::Send(json) = step { Some(client_json(json)) } else { None })
                .collect();
            let receives: Vec<v1::ServerEnvelope> = flow
                .steps
                .iter()
                .filter_map(|step| if let Step::Receive(json) = step { Some(server_json(json)) } else { None })
                .collect();
            let ids: Vec<u32> = sends.iter().map(|envelope| envelope.request_id).collect();

            let mut connection = Connection::connect(&target).await.expect("connect");
            for envelope in &sends {
                connection.send_envelope(envelope).await.expect("sent");
            }
            for id in &ids {
                let expected = receives.iter().rev().find(|r| r.request_id == *id).expect("an answer");
                let answer = loop {
                    match connection.wait_reply(*id, WAIT).await {
                        Ok(v1::ServerEnvelope { body: Some(Msg::Queued(_)), .. }) => {}
                        other => break other,
                    }
                };
                match (&expected.body, answer) {
                    (Some(Msg::Error(error)), Err(ClientError::Server { code, reason })) => {
                        assert_eq!(
                            (code as i32, reason.as_str()),
                            (error.code, error.reason.as_str()),
                            "{}",
                            flow.name
                        );
                    }
                    (_, Ok(envelope)) => assert_eq!(&envelope, expected, "{}", flow.name),
                    (_, Err(error)) => panic!("{}: answer to {id}: {error}", flow.name),
                }
            }
            for event in receives.iter().filter(|r| !ids.contains(&r.request_id)) {
                let received = connection.next_event(WAIT).await.expect("readable").expect("arrived");
                assert_eq!(&received, event, "{}", flow.name);
            }
            assert_eq!(connection.queued(), 0, "{}: nothing more", flow.name);
            connection.close().await.expect("close");
            assert_eq!(server.await.expect("server"), Vec::<String>::new(), "{}: the client's bytes", flow.name);

            if let Some(expected) = &flow.mirror {
                let mut mirror: Option<Mirror> = None;
                for envelope in &receives {
                    match (&mut mirror, &envelope.body) {
                        (None, Some(Msg::Snapshot(snapshot))) => mirror = Some(Mirror::new(snapshot)),
                        (Some(mirror), _) => {
                            mirror.apply(envelope);
                        }
                        (None, _) => {}
                    }
                }
                let mirror = mirror.expect("a snapshot in the flow");
                let seen = conformance::MirrorExpectation {
                    system_id: mirror.system_id(),
                    tick: mirror.tick(),
                    tidi_permille: mirror.tidi_permille(),
                    ships: mirror.ships().map(|ship| ship.ship_id).collect(),
                    chat: mirror.chat().map(|line| line.text.clone()).collect(),
                };
                assert_eq!(&seen, expected, "{}", flow.name);
            }
        }
    }
}
