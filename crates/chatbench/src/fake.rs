//! The blaster: a minimal chat relay that speaks just enough of orrery's protocol or of IRC for the generator,
//! so that the generator's own ceiling can be measured ("the generator absorbs X deliveries/s on one core").
//!
//! It runs as a child process of the generator (`--target blast-orrery` / `blast-irc` start it as
//! `<this binary> [bench chat] --fake-server orrery|irc`), so that it can be pinned to another core and its CPU
//! read from `/proc` like a real server's. It does almost no work per message: logins are answered at once, each
//! chat line is kept as it arrived, and every `--tick-ms` one buffer holding all lines of the tick (one
//! `SystemDelta` frame, or the concatenated IRC `PRIVMSG` lines) is encoded once and the same `Bytes` queued
//! to every member; a writer task per connection coalesces what is queued into one `write`. The generator
//! therefore sees the same traffic shape as from orrery (one delta per tick per session) with a server that
//! costs little, and a sweep against it finds where the generator, not the server, saturates.
//!
//! Bounded: the process exits when its stdin closes (the generator ended) or after [`LIFETIME`]; each member's
//! queue holds at most [`QUEUE`] buffers (beyond that the tick's buffer is dropped for that member and the
//! generator counts the loss).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use orrery_proto::frame;
use orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Which protocol the fake server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FakeKind {
    /// orrery's framed protobuf, as the `blast-orrery` target expects.
    Orrery,
    /// Plain IRC lines, as the `blast-irc` target expects.
    Irc,
}

/// Longest life of a fake server (it normally ends with the generator).
pub const LIFETIME: Duration = Duration::from_secs(3 * 3600);

/// Buffers queued per member before the fake server drops a tick's buffer for it.
const QUEUE: usize = 4096;

/// The one system of the fake orrery.
const SYSTEM: u32 = 1;

#[derive(Default)]
struct Hub {
    /// Members of the channel / system: their outbound queues.
    members: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// orrery: the chat lines of the current tick.
    lines: Mutex<Vec<v1::ChatLine>>,
    /// IRC: the `PRIVMSG` lines of the current tick, already in wire form.
    irc: Mutex<Vec<u8>>,
    /// Buffers dropped because a member's queue was full.
    dropped: AtomicU64,
}

/// Runs the fake server until stdin closes or [`LIFETIME`] passes; prints `clients: tcp://ADDR` first.
pub fn serve(kind: FakeKind, tick_ms: u32) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding 127.0.0.1:0")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "clients: tcp://{}", listener.local_addr()?)?;
        stdout.flush()?;
        let hub = Arc::new(Hub::default());
        tokio::spawn(ticker(kind, Duration::from_millis(u64::from(tick_ms.max(1))), hub.clone()));
        // The generator holds our stdin; when it goes away, so do we.
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
        });
        let accept = async {
            let mut index = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                index += 1;
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(kind, stream, index, hub.clone()));
            }
        };
        tokio::select! {
            _ = accept => {}
            _ = stdin_closed => {}
            _ = tokio::time::sleep(LIFETIME) => {}
        }
        eprintln!("fake server: {} buffers dropped on full queues", hub.dropped.load(Ordering::Relaxed));
        Ok(())
    })
}

/// Every tick: one buffer with all of the tick's lines, queued to every member.
async fn ticker(kind: FakeKind, tick: Duration, hub: Arc<Hub>) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut number = 0u64;
    loop {
        interval.tick().await;
        number += 1;
        let buffer = match kind {
            FakeKind::Orrery => {
                let chat = std::mem::take(&mut *hub.lines.lock());
                // Like orrery, a delta every tick, with or without chat.
                let delta = v1::SystemDelta { system_id: SYSTEM, tick: number, chat, ..Default::default() };
                frame::encode(&v1::ServerEnvelope { request_id: 0, body: Some(Msg::Delta(delta)) })
            }
            FakeKind::Irc => {
                let lines = std::mem::take(&mut *hub.irc.lock());
                if lines.is_empty() {
                    continue;
                }
                Bytes::from(lines)
            }
        };
        hub.members.lock().retain(|member| match member.try_send(buffer.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                hub.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}

/// Writes whatever is queued, coalesced into one write per wake-up.
async fn writer(mut write: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    let mut out = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        crate::conn::coalesce(&mut out, &first, 256 * 1024, || rx.try_recv().ok());
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn connection(kind: FakeKind, stream: TcpStream, index: u64, hub: Arc<Hub>) {
    let (mut read, write) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(writer(write, rx));
    let mut buffer = BytesMut::with_capacity(16 * 1024);
    let mut name = String::new();
    loop {
        match kind {
            FakeKind::Orrery => {
                while let Ok(Some(payload)) = frame::split(&mut buffer, frame::DEFAULT_MAX_FRAME) {
                    let Ok(envelope) = frame::decode::<v1::ClientEnvelope>(&payload) else { return };
                    let request_id = envelope.request_id;
                    let answer = match envelope.body {
                        Some(Cmd::Register(register)) => {
                            name = register.username;
                            Msg::LoggedIn(v1::LoggedIn {
                                account_id: index,
                                token: "fake".into(),
                                characters: vec![],
                                trade_hubs: vec![],
                            })
                        }
                        Some(Cmd::CreateCharacter(create)) => {
                            name = create.name.clone();
                            Msg::CharacterCreated(v1::CharacterCreated {
                                character: Some(v1::Character {
                                    character_id: index,
                                    name: create.name,
                                    ship_id: index,
                                    system_id: SYSTEM,
                                    in_space: false,
                                    system_name: String::new(),
                                }),
                            })
                        }
                        Some(Cmd::Undock(_)) => {
                            let snapshot = v1::SystemSnapshot {
                                system_id: SYSTEM,
                                system_name: "blast".into(),
                                your_ship_id: index,
                                tidi_permille: 1000,
                                ..Default::default()
                            };
                            let framed =
                                frame::encode(&v1::ServerEnvelope { request_id, body: Some(Msg::Snapshot(snapshot)) });
                            if tx.send(framed).await.is_err() {
                                return;
                            }
                            hub.members.lock().push(tx.clone());
                            continue;
                        }
                        Some(Cmd::Chat(chat)) => {
                            hub.lines.lock().push(v1::ChatLine {
                                character_id: index,
                                pilot: name.clone(),
                                text: chat.text,
                            });
                            continue;
                        }
                        Some(Cmd::Ping(ping)) => Msg::Pong(v1::Pong { nonce: ping.nonce }),
                        _ => Msg::Ok(v1::Ok {}),
                    };
                    if tx.send(frame::encode(&v1::ServerEnvelope { request_id, body: Some(answer) })).await.is_err() {
                        return;
                    }
                }
            }
            FakeKind::Irc => {
                while let Some(end) = memchr::memchr(b'\n', &buffer) {
                    let raw = buffer.split_to(end + 1);
                    let line = String::from_utf8_lossy(&raw);
                    let line = line.trim_end_matches(['\r', '\n']);
                    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
                    let reply = match command {
                        "NICK" => {
                            name = rest.trim().to_string();
                            None
                        }
                        "USER" => Some(format!(":blast 001 {name} :Welcome to the blaster\r\n")),
                        "JOIN" => {
                            hub.members.lock().push(tx.clone());
                            Some(format!(
                                ":{name}!{name}@127.0.0.1 JOIN {rest}\r\n:blast 366 {name} {rest} :End of /NAMES list.\r\n"
                            ))
                        }
                        "PRIVMSG" => {
                            let mut irc = hub.irc.lock();
                            irc.extend_from_slice(format!(":{name}!{name}@127.0.0.1 PRIVMSG {rest}\r\n").as_bytes());
                            None
                        }
                        "PING" => Some(format!("PONG {rest}\r\n")),
                        "QUIT" => return,
                        _ => None,
                    };
                    if let Some(reply) = reply
                        && tx.send(Bytes::from(reply)).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
        match read.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
