//! Hostile clients — slowloris, floods, connection storms, garbage, password guessing, stolen or stale tokens,
//! acting for another's ship — are refused or disconnected, and well-behaved pilots on the same proxy keep
//! flying and answering pings.
//!
//! Most tests run a second proxy on the test cluster's bus and store, with the limits under test set low
//! (the cluster's own proxy keeps the defaults). Hostile clients connect from other loopback addresses
//! (127.0.0.2, …) so that per-address limits can be told apart from the good pilots on 127.0.0.1.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{TestCluster, WAIT, extra_proxy, pilot};
use orrery_bots::orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};
use orrery_proxy::PasswordPolicy;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PASSWORD: &str = "correct horse battery";

/// A second proxy (id 2) on the test cluster, with `adjust`ed limits.
fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

fn framed(envelope: &v1::ClientEnvelope) -> Vec<u8> {
    let payload = envelope.encode_to_vec();
    let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&payload);
    bytes
}

/// Read one framed envelope (None at end of stream, on error or after `timeout`).
async fn read_envelope(stream: &mut TcpStream, timeout: Duration) -> Option<v1::ServerEnvelope> {
    let mut len = [0u8; 4];
    tokio::time::timeout(timeout, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    tokio::time::timeout(timeout, stream.read_exact(&mut payload)).await.ok()?.ok()?;
    v1::ServerEnvelope::decode(&payload[..]).ok()
}

/// True if the server closes the connection within `timeout` (everything before the end is skipped).
async fn closed_within(stream: &mut TcpStream, timeout: Duration) -> bool {
    let mut rest = Vec::new();
    matches!(tokio::time::timeout(timeout, stream.read_to_end(&mut rest)).await, Ok(Ok(_) | Err(_)))
}

fn error_of(envelope: &v1::ServerEnvelope) -> (ErrorCode, String) {
    match &envelope.body {
        Some(Msg::Error(error)) => {
            (ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified), error.reason.clone())
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A minimal protocol client over a raw socket (any source address).
struct Raw {
    stream: TcpStream,
    next_id: u32,
}

impl Raw {
    async fn connect(from: IpAddr, addr: SocketAddr) -> Raw {
        Raw { stream: connect_from(from, addr).await.expect("connect"), next_id: 1 }
    }

    async fn request(&mut self, body: Cmd) -> v1::ServerEnvelope {
        let request_id = self.next_id;
        self.next_id += 1;
        let envelope = v1::ClientEnvelope { request_id, body: Some(body) };
        self.stream.write_all(&framed(&envelope)).await.expect("send");
        loop {
            let answer = read_envelope(&mut self.stream, WAIT).await.expect("an answer");
            if answer.request_id == request_id {
                return answer;
            }
        }
    }

    async fn login(&mut self, username: &str, password: &str) -> v1::ServerEnvelope {
        self.request(Cmd::Login(v1::Login { username: username.into(), password: password.into() })).await
    }
}

fn refused_with(answer: &v1::ServerEnvelope, expected: ErrorCode) -> String {
    let (code, reason) = error_of(answer);
    assert_eq!(code, expected, "{reason}");
    reason
}

fn logged_in(answer: &v1::ServerEnvelope) -> v1::LoggedIn {
    match &answer.body {
        Some(Msg::LoggedIn(logged_in)) => logged_in.clone(),
        other => panic!("expected LoggedIn, got {other:?}"),
    }
}

/// The pilot still receives deltas and answers a ping quickly.
async fn still_flying(pilot: &mut common::Pilot, what: &str) {
    let tick = pilot.last_tick;
    pilot.until(WAIT, &format!("ticks after {what}"), |p| p.last_tick > tick + 2).await;
    let rtt = pilot.client.ping().await.expect("ping");
    assert!(rtt < Duration::from_millis(500), "ping took {rtt:?} after {what}");
}

/// A small deterministic generator for garbage (the cluster's tests do not depend on `rand`).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_frames_are_closed_at_the_frame_deadline_and_idle_clients_are_not() {
    let test = TestCluster::start().await;
    let deadline = Duration::from_millis(600);
    let proxy = extra_proxy(&test, |config| config.frame_deadline = deadline).await;
    let addr = proxy.tcp_addr();
    let mut bystander = pilot(&addr.to_string(), "bystander").await;
    let hostile = loopback(2);

    // Half a header, held.
    let mut half_header = connect_from(hostile, addr).await.unwrap();
    half_header.write_all(&[0, 0]).await.unwrap();
    // A header announcing 1,000 bytes, then 10 of them, held.
    let mut short_body = connect_from(hostile, addr).await.unwrap();
    short_body.write_all(&1000u32.to_be_bytes()).await.unwrap();
    short_body.write_all(&[0u8; 10]).await.unwrap();
    // A frame trickled one byte every 100 ms: progress, but never complete within the deadline.
    let mut trickle = connect_from(hostile, addr).await.unwrap();
    trickle.write_all(&200u32.to_be_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        let mut sent = 0;
        while sent < 100 && trickle.write_all(&[0]).await.is_ok() {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sent
    });
    // A client with no partial frame is governed by the idle timeout (300 s here), not the deadline.
    let mut idle = Raw::connect(hostile, addr).await;
    // A WebSocket client holding the first two bytes of a frame.
    let ws_addr = proxy.ws_addr().unwrap();
    let mut ws = connect_from(hostile, ws_addr).await.unwrap();
    let upgrade = format!(
        "GET / HTTP/1.1\r\nHost: {ws_addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    ws.write_all(upgrade.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, ws.read_exact(&mut byte)).await.expect("handshake answer").unwrap();
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&response));
    ws.write_all(&[0x82, 0x85]).await.unwrap(); // FIN + binary, masked, 5 bytes: then nothing

    let start = Instant::now();
    for (name, stream) in [("half header", &mut half_header), ("short body", &mut short_body)] {
        let (code, reason) = error_of(&read_envelope(stream, WAIT).await.unwrap_or_else(|| panic!("{name}: error")));
        assert_eq!(code, ErrorCode::BadFrame, "{name}: {reason}");
        assert!(reason.contains("incomplete frame"), "{name}: {reason}");
        assert!(closed_within(stream, WAIT).await, "{name}: closed");
    }
    let trickled = trickle.await.unwrap();
    assert!(trickled < 40, "the trickling client was closed ({trickled} bytes sent)");
    assert!(closed_within(&mut ws, WAIT).await, "websocket with a partial frame closed");
    assert!(start.elapsed() < Duration::from_secs(8), "closed near the deadline: {:?}", start.elapsed());
    assert!(proxy.stats().incomplete_frames.load(Ordering::Relaxed) >= 4);

    // The idle client, well past the deadline, is still served.
    let answer = idle.request(Cmd::Ping(v1::Ping { nonce: 5 })).await;
    assert!(matches!(answer.body, Some(Msg::Pong(v1::Pong { nonce: 5 }))), "{answer:?}");
    still_flying(&mut bystander, "slowloris clients").await;
    drop(bystander);
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_throttled_then_kicked_and_others_fly_on() {
    let test = TestCluster::start().await;
    let proxy = extra_proxy(&test, |config| {
        config.rate_limit_per_s = 5;
        config.flood_kick_after = 30;
    })
    .await;
    let addr = proxy.tcp_addr();
    let mut bystander = pilot(&addr.to_string(), "bystander").await;

    // Under the kick threshold: throttled only.
    let mut modest = Raw::connect(loopback(2), addr).await;
    let burst: Vec<u8> = (1..=12).flat_map(|id| framed(&ping(id))).collect();
    modest.stream.write_all(&burst).await.unwrap();
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..12 {
        match read_envelope(&mut modest.stream, WAIT).await.expect("an answer").body {
            Some(Msg::Pong(_)) => pongs += 1,
            Some(Msg::Error(error)) if error.code == ErrorCode::RateLimited as i32 => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(pongs >= 5 && limited >= 5, "{pongs} pongs, {limited} refused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    modest.next_id = 100;
    let answer = modest.request(Cmd::Ping(v1::Ping { nonce: 1 })).await;
    assert!(matches!(answer.body, Some(Msg::Pong(_))), "still served: {answer:?}");

    // A flood: refused, then disconnected with a reason.
    let mut flood = connect_from(loopback(2), addr).await.unwrap();
    let burst: Vec<u8> = (1..=500).flat_map(|id| framed(&ping(id))).collect();
    let _ = flood.write_all(&burst).await;
    let (mut pongs, mut refused, mut kicked) = (0, 0, None);
    while let Some(envelope) = read_envelope(&mut flood, WAIT).await {
        match &envelope.body {
            Some(Msg::Pong(_)) => pongs += 1,
            Some(Msg::Error(error)) if envelope.request_id != 0 => {
                assert_eq!(error.code, ErrorCode::RateLimited as i32, "{error:?}");
                refused += 1;
            }
            Some(Msg::Error(error)) => kicked = Some(error.clone()),
            other => panic!("{other:?}"),
        }
    }
    let kicked = kicked.unwrap_or_else(|| panic!("a final error before the close ({pongs} pongs, {refused} refused)"));
    assert_eq!(kicked.code, ErrorCode::RateLimited as i32);
    assert!(kicked.reason.contains("disconnected"), "{}", kicked.reason);
    assert_eq!(refused, 29, "refused answers before the kick ({pongs} pongs)");
    assert!(closed_within(&mut flood, WAIT).await);
    assert!(proxy.stats().flooders_kicked.load(Ordering::Relaxed) >= 1);

    still_flying(&mut bystander, "a flood").await;
    drop(bystander);
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

fn ping(request_id: u32) -> v1::ClientEnvelope {
    v1::ClientEnvelope { request_id, body: Some(Cmd::Ping(v1::Ping { nonce: u64::from(request_id) })) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_storm_from_one_address_is_capped_and_others_still_connect() {
    let test = TestCluster::start().await;
    let limit = 40;
    let proxy = extra_proxy(&test, |config| config.max_connections_per_ip = limit).await;
    let addr = proxy.tcp_addr();
    let mut bystander = pilot(&addr.to_string(), "bystander").await;
    let storm = loopback(2);

    let mut held = Vec::new();
    for _ in 0..limit {
        held.push(connect_from(storm, addr).await.unwrap());
    }
    // Every held connection is served (the last one answers a ping).
    let last = held.last_mut().unwrap();
    last.write_all(&framed(&ping(1))).await.unwrap();
    assert!(matches!(read_envelope(last, WAIT).await.and_then(|e| e.body), Some(Msg::Pong(_))));

    // 100 more: each told why, and closed.
    let mut refused = Vec::new();
    for _ in 0..100 {
        refused.push(connect_from(storm, addr).await.unwrap());
    }
    for stream in &mut refused {
        let (code, reason) = error_of(&read_envelope(stream, WAIT).await.expect("an error frame"));
        assert_eq!(code, ErrorCode::RateLimited, "{reason}");
        assert!(reason.contains("too many connections"), "{reason}");
        assert!(closed_within(stream, WAIT).await);
    }
    // The WebSocket listener counts against the same limit.
    let ws = connect_from(storm, proxy.ws_addr().unwrap()).await.unwrap();
    let (mut ws_stream, _) = tokio_tungstenite::client_async(format!("ws://{}/", proxy.ws_addr().unwrap()), ws)
        .await
        .expect("the handshake of a refused websocket completes");
    let answer = loop {
        use futures::StreamExt;
        match ws_stream.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(payload))) => {
                break v1::ServerEnvelope::decode(&payload[..]).unwrap();
            }
            Some(Ok(_)) => continue,
            other => panic!("expected an error message, got {other:?}"),
        }
    };
    assert_eq!(error_of(&answer).0, ErrorCode::RateLimited);
    assert!(proxy.stats().connections_refused.load(Ordering::Relaxed) >= 101);

    // Another address is unaffected: new clients connect and log in.
    let mut newcomer = Client::connect(&addr.to_string()).await.unwrap();
    newcomer.register_or_login("newcomer", PASSWORD).await.expect("a good client still connects");
    still_flying(&mut bystander, "a connection storm").await;

    // Places free up as connections close.
    held.truncate(limit - 5);
    let deadline = Instant::now() + WAIT;
    let mut again = loop {
        let mut stream = connect_from(storm, addr).await.unwrap();
        stream.write_all(&framed(&ping(2))).await.unwrap();
        match read_envelope(&mut stream, WAIT).await.and_then(|e| e.body) {
            Some(Msg::Pong(_)) => break stream,
            _ => assert!(Instant::now() < deadline, "a freed place is usable again"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    again.shutdown().await.unwrap();
    drop(held);
    drop(bystander);
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_garbage_connections_do_not_slow_good_pilots() {
    let test = TestCluster::start().await;
    // A short idle timeout too: random bytes can happen to be a valid envelope, leaving a quiet connection.
    let proxy = extra_proxy(&test, |config| {
        config.frame_deadline = Duration::from_millis(500);
        config.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let addr = proxy.tcp_addr();
    let mut pilots = Vec::new();
    for i in 0..20 {
        pilots.push(pilot(&addr.to_string(), &format!("good{i}")).await);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let pingers: Vec<_> = pilots
        .into_iter()
        .map(|mut pilot| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut pings = 0;
                while !stop.is_cancelled() {
                    let rtt = pilot.client.ping().await.expect("a good pilot's ping");
                    worst = worst.max(rtt);
                    pings += 1;
                    // Keep reading deltas too.
                    while let Ok(Some(envelope)) = pilot.client.next_event(Duration::from_millis(1)).await {
                        pilot.absorb(&envelope);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                still_flying(&mut pilot, "garbage").await;
                (worst, pings)
            })
        })
        .collect();

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let garbage = loopback(3);
    for burst in 0..10u64 {
        let mut tasks = Vec::new();
        for i in 0..100u64 {
            let kind = (burst * 100 + i) % 5;
            let bytes = match kind {
                // Random bytes: usually an absurd length.
                0 => {
                    let len = 1 + (rng.next() % 300) as usize;
                    rng.bytes(len)
                }
                // A plausible length, then bytes that are not an envelope.
                1 => {
                    let len = 1 + (rng.next() % 200) as usize;
                    let body = rng.bytes(len);
                    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
                    frame.extend(body);
                    frame
                }
                // A partial header, held until the frame deadline.
                2 => vec![0, 0, 1],
                // A header announcing more than is sent.
                3 => {
                    let mut frame = 512u32.to_be_bytes().to_vec();
                    frame.extend(rng.bytes(100));
                    frame
                }
                // A frame over the size limit.
                _ => (1u32 << 30).to_be_bytes().to_vec(),
            };
            tasks.push(tokio::spawn(async move {
                let Ok(mut stream) = connect_from(garbage, addr).await else { return false };
                let _ = stream.write_all(&bytes).await;
                // Every kind of garbage ends with the server closing the connection.
                closed_within(&mut stream, Duration::from_secs(10)).await
            }));
        }
        for task in tasks {
            assert!(task.await.expect("no panic"), "every garbage connection is closed by the server");
        }
    }
    let deadline = Instant::now() + WAIT;
    while proxy.open_sessions() != 20 {
        assert!(Instant::now() < deadline, "only the good pilots remain: {}", proxy.open_sessions());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(proxy.stats().incomplete_frames.load(Ordering::Relaxed) >= 400, "partial frames closed by deadline");
    stop.cancel();
    let mut pings = 0;
    for pinger in pingers {
        let (worst, count) = pinger.await.expect("a good pilot flew through it all");
        assert!(worst < Duration::from_millis(500), "a good pilot's ping took {worst:?}");
        pings += count;
    }
    assert!(pings >= 20 * 10, "pings answered during the storm: {pings}");
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_locked_out_per_account_and_per_address() {
    // The cluster's own proxy, with the default limits: 5 failures per name, 20 per address, per minute.
    let test = TestCluster::start().await;
    let addr = test.cluster.tcp_addr();
    for name in ["victim", "bystander"] {
        let mut client = Client::connect(&addr.to_string()).await.unwrap();
        client.register_or_login(name, PASSWORD).await.unwrap();
    }

    // Guessing one account's password from 127.0.0.2: five failures, then even the right password is refused.
    let mut guesser = Raw::connect(loopback(2), addr).await;
    for guess in 0..5 {
        let reason =
            refused_with(&guesser.login("victim", &format!("guess number {guess}")).await, ErrorCode::BadCredentials);
        assert_eq!(reason, "unknown username or wrong password");
    }
    let reason = refused_with(&guesser.login("victim", PASSWORD).await, ErrorCode::RateLimited);
    assert!(reason.contains("too many failed logins"), "{reason}");
    // The lock is on the name, wherever the login comes from.
    let mut owner = Raw::connect(loopback(1), addr).await;
    refused_with(&owner.login("victim", PASSWORD).await, ErrorCode::RateLimited);
    // Another account is unaffected, from the guesser's address too (on a connection of its own: a session
    // that is logged in cannot log in again).
    logged_in(&Raw::connect(loopback(2), addr).await.login("bystander", PASSWORD).await);
    // An unknown name is locked out the same way: the lockout tells nothing about which names exist.
    for guess in 0..5 {
        refused_with(&guesser.login("ghost", &format!("guess number {guess}")).await, ErrorCode::BadCredentials);
    }
    let locked_ghost = refused_with(&guesser.login("ghost", PASSWORD).await, ErrorCode::RateLimited);
    assert_eq!(locked_ghost, reason);

    // Spraying many names from one address (127.0.0.3): after 20 failures, nothing from there logs in.
    // A fresh connection every five tries, so that a fast machine does not trip the per-session command rate
    // limit (also `RateLimited`) instead: the lock under test is the address's.
    let mut sprayer = Raw::connect(loopback(3), addr).await;
    for i in 0..20 {
        if i % 5 == 0 {
            sprayer = Raw::connect(loopback(3), addr).await;
        }
        refused_with(&sprayer.login(&format!("user{i}"), "password1").await, ErrorCode::BadCredentials);
    }
    let sprayed = refused_with(&sprayer.login("bystander", PASSWORD).await, ErrorCode::RateLimited);
    assert_eq!(sprayed, reason, "refused by the address's lock, not by the command rate limit");
    let mut elsewhere = Raw::connect(loopback(1), addr).await;
    logged_in(&elsewhere.login("bystander", PASSWORD).await);
    let throttled = test
        .cluster
        .proxy()
        .expect("the embedded cluster runs a proxy")
        .stats()
        .logins_throttled
        .load(Ordering::Relaxed);
    assert!(throttled >= 4, "logins refused unread: {throttled}");
    test.cluster.shutdown().await;

    // With a short window, the lock lifts by itself.
    let test = TestCluster::start().await;
    let proxy = extra_proxy(&test, |config| config.login_failure_window = Duration::from_millis(800)).await;
    let mut client = Client::connect(&proxy.tcp_addr().to_string()).await.unwrap();
    client.register_or_login("patient", PASSWORD).await.unwrap();
    let mut guesser = Raw::connect(loopback(2), proxy.tcp_addr()).await;
    for _ in 0..5 {
        refused_with(&guesser.login("patient", "not the password").await, ErrorCode::BadCredentials);
    }
    refused_with(&guesser.login("patient", PASSWORD).await, ErrorCode::RateLimited);
    tokio::time::sleep(Duration::from_millis(900)).await;
    logged_in(&guesser.login("patient", PASSWORD).await);
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_expire_and_cannot_be_forged() {
    let test = TestCluster::start().await;
    let proxy = extra_proxy(&test, |config| config.token_ttl = Duration::from_secs(1)).await;
    let addr = proxy.tcp_addr();
    let mut client = Client::connect(&addr.to_string()).await.unwrap();
    let session = client.register_or_login("tokened", PASSWORD).await.unwrap();
    let token = session.token.clone();
    let (random, issued) = token.split_once('.').expect("the token carries its issue time");
    assert_eq!(random.len(), 64);
    let issued: u64 = issued.parse().expect("unix seconds");

    let mut fresh = Raw::connect(loopback(1), addr).await;
    let resumed = logged_in(&fresh.request(Cmd::Resume(v1::Resume { token: token.clone() })).await);
    assert_eq!(resumed.account_id, session.account_id);
    // The refusals below come on a connection that is not logged in (a logged-in one cannot log in again).
    let mut fresh = Raw::connect(loopback(1), addr).await;

    // Changing the issue time makes another token, which the store does not know.
    let forged = format!("{random}.{}", issued + 3600);
    let answer = fresh.request(Cmd::Resume(v1::Resume { token: forged })).await;
    let reason = refused_with(&answer, ErrorCode::BadCredentials);
    // Tokens without an issue time (the old form) and oversized ones are refused.
    for token in [random.to_owned(), "f".repeat(10_000)] {
        let answer = fresh.request(Cmd::Resume(v1::Resume { token })).await;
        assert_eq!(refused_with(&answer, ErrorCode::BadCredentials), reason);
    }

    // Past the TTL, the genuine token is refused too.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let answer = fresh.request(Cmd::Resume(v1::Resume { token: token.clone() })).await;
    assert_eq!(refused_with(&answer, ErrorCode::BadCredentials), reason);
    // The cluster's own proxy (30 days) would have taken it; now the expired token is forgotten.
    let mut other = Raw::connect(loopback(1), test.cluster.tcp_addr()).await;
    let answer = other.request(Cmd::Resume(v1::Resume { token })).await;
    refused_with(&answer, ErrorCode::BadCredentials);
    // A fresh login on the long-lived proxy resumes fine.
    let mut client = Client::connect(&test.addr()).await.unwrap();
    let session = client.login("tokened", PASSWORD).await.unwrap();
    logged_in(&other.request(Cmd::Resume(v1::Resume { token: session.token })).await);
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_and_wrong_passwords_look_the_same() {
    let test = TestCluster::start().await;
    // Real hashing work (so that skipping it would show), no lockouts in the way.
    let proxy = extra_proxy(&test, |config| {
        config.password_policy = PasswordPolicy { memory_kib: 2048, iterations: 2 };
        config.login_failures_per_account = 0;
        config.login_failures_per_ip = 0;
    })
    .await;
    let mut client = Client::connect(&proxy.tcp_addr().to_string()).await.unwrap();
    client.register_or_login("existing", PASSWORD).await.unwrap();
    let mut prober = Raw::connect(loopback(2), proxy.tcp_addr()).await;

    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    let mut answers = std::collections::HashSet::new();
    for i in 0..7 {
        let start = Instant::now();
        let answer = prober.login(&format!("nobody{i}"), "wrong password").await;
        unknown.push(start.elapsed());
        answers.insert(error_of(&answer));
        let start = Instant::now();
        let answer = prober.login("existing", "wrong password").await;
        wrong.push(start.elapsed());
        answers.insert(error_of(&answer));
    }
    assert_eq!(answers.len(), 1, "one answer for both: {answers:?}");
    assert_eq!(answers.into_iter().next().unwrap().0, ErrorCode::BadCredentials);
    unknown.sort();
    wrong.sort();
    let (unknown, wrong) = (unknown[3].as_secs_f64(), wrong[3].as_secs_f64());
    assert!(
        unknown > wrong * 0.5 && unknown < wrong * 2.0,
        "median login time: unknown name {unknown:.4} s, wrong password {wrong:.4} s"
    );
    proxy.shutdown().await;
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_fly_another_accounts_ship() {
    let test = TestCluster::start().await;
    let mut owner = pilot(&test.addr(), "owner").await;
    let system = owner.system();
    let theirs = owner.character.character_id;
    let their_ship = owner.ship_id();

    let name = common::name_starting_in(&test, system, "intruder_");
    let mut intruder = Client::connect(&test.addr()).await.unwrap();
    let session = intruder.register_or_login(&name, PASSWORD).await.unwrap();
    assert!(session.characters.is_empty());
    // Undocking someone else's character (in space or not) is NOT_YOURS, never ALREADY_IN_SPACE.
    let answer = intruder.request(Cmd::Undock(v1::Undock { character_id: theirs }), WAIT).await;
    assert!(matches!(answer, Err(ClientError::Server { code: ErrorCode::NotYours, .. })), "{answer:?}");
    // A new connection: a session that is logged in cannot log in again.
    drop(intruder);
    let mut intruder = common::pilot(&test.addr(), &name).await;
    assert_eq!(intruder.system(), system, "both in the same system");
    assert_ne!(intruder.ship_id(), their_ship);

    // Commands carry no ship id: whatever the intruder sends moves its own ship only.
    let before = owner.position();
    let far = {
        let p = intruder.position();
        v1::Vec3 { x: p[0] as i64 + 50_000, y: p[1] as i64, z: p[2] as i64 }
    };
    intruder.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(far)) })).await;
    let mine = intruder.ship_id();
    intruder
        .until(WAIT, "the intruder's own ship moving", |p| {
            p.me().is_some_and(|ship| ship.motion == v1::ShipMotion::Approaching as i32)
        })
        .await;
    let tick = intruder.last_tick;
    intruder.until(WAIT, "more ticks", |p| p.last_tick > tick + 5).await;
    let seen = intruder.ships.get(&their_ship).expect("the owner's ship is seen");
    assert_eq!(seen.motion, v1::ShipMotion::Idle as i32, "the owner's ship did not move");
    owner.until(WAIT, "the owner's deltas", |p| p.ships.get(&mine).is_some_and(|s| s.motion != 0)).await;
    assert_eq!(owner.position(), before, "the owner's ship stays where it was");
    // Logging out the intruder leaves the owner in space.
    intruder.client.logout().await.unwrap();
    still_flying(&mut owner, "the intruder's logout").await;
    assert!(owner.ships.contains_key(&their_ship));
    test.cluster.shutdown().await;
}
