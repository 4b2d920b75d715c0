//! A tiny stand-in for an orrery proxy, to test the client and the bots' own code over real sockets: it speaks
//! the framing (TCP or WebSocket) and plays a three-system ring with a crude movement model. Each connection
//! sees only its own ship. It is not a model of the real server; end-to-end tests against that live elsewhere.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use orrery_proto::frame;
use orrery_proto::v1::server_envelope::Body as Msg;
use orrery_proto::v1::{self, CelestialKind, ErrorCode, ShipMotion, client_envelope::Body as Cmd};
use orrery_proto::{error, reply};
use parking_lot::{Mutex, MutexGuard};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const TIDI_PERMILLE: u32 = 900;
const GATE_X: i64 = 1_000_000_000;

/// The ring 1 ↔ 2 ↔ 3 ↔ 1; systems 1 and 2 on node 1, system 3 on node 2.
fn node_of(system: u32) -> u32 {
    if system == 3 { 2 } else { 1 }
}

/// The two gates of a system: to the next system at +x, to the previous one at −x.
fn gates_of(system: u32) -> [(u64, u32, i64); 2] {
    let next = system % 3 + 1;
    let previous = (system + 1) % 3 + 1;
    [
        ((1 << 63) | u64::from(system * 10 + next), next, GATE_X),
        ((1 << 63) | u64::from(system * 10 + previous), previous, -GATE_X),
    ]
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub websocket: bool,
    pub tick: Duration,
    /// Connections accepted before this instant are dropped at it (a simulated server restart).
    pub drop_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct World {
    accounts: HashMap<String, Account>,
    tokens: HashMap<String, String>,
    next_account: u64,
    in_space: HashSet<u64>,
    /// Where each character's ship is (system id), for assertions.
    pub ship_system: HashMap<u64, u32>,
    pub logouts: u64,
    pub resumes: u64,
    pub connections: u64,
    pub jumps: u64,
}

#[derive(Debug)]
struct Account {
    password: String,
    id: u64,
    character: Option<v1::Character>,
}

pub struct FakeServer {
    pub addr: SocketAddr,
    pub world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    pub async fn start(options: Options) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let world = Arc::new(Mutex::new(World::default()));
        let shared = Arc::clone(&world);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let world = Arc::clone(&shared);
                tokio::spawn(async move {
                    let accepted = Instant::now();
                    let conn = if options.websocket {
                        match tokio_tungstenite::accept_async(stream).await {
                            Ok(ws) => Conn::Ws(Box::new(ws)),
                            Err(_) => return,
                        }
                    } else {
                        Conn::Tcp(stream, BytesMut::new())
                    };
                    serve(conn, world, options, accepted).await;
                });
            }
        });
        FakeServer { addr, world, task }
    }

    /// What to pass as `connect`.
    pub fn target(&self, websocket: bool) -> String {
        if websocket { format!("ws://{}/", self.addr) } else { self.addr.to_string() }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Conn {
    Tcp(TcpStream, BytesMut),
    Ws(Box<WebSocketStream<TcpStream>>),
}

impl Conn {
    /// Cancel-safe receive; `None` when the client is gone or sent garbage.
    async fn recv(&mut self) -> Option<v1::ClientEnvelope> {
        match self {
            Conn::Tcp(stream, buffer) => loop {
                if let Some(payload) = frame::split(buffer, frame::DEFAULT_MAX_FRAME).ok()? {
                    return frame::decode(&payload).ok();
                }
                if stream.read_buf(buffer).await.ok()? == 0 {
                    return None;
                }
            },
            Conn::Ws(ws) => loop {
                match ws.next().await? {
                    Ok(WsMessage::Binary(payload)) => return frame::decode(&payload).ok(),
                    Ok(WsMessage::Close(_)) | Err(_) => return None,
                    Ok(_) => {}
                }
            },
        }
    }

    async fn send(&mut self, envelope: &v1::ServerEnvelope) -> bool {
        match self {
            Conn::Tcp(stream, _) => stream.write_all(&frame::encode(envelope)).await.is_ok(),
            Conn::Ws(ws) => ws.send(WsMessage::Binary(envelope.encode_to_vec().into())).await.is_ok(),
        }
    }
}

struct Ship {
    system: u32,
    x: i64,
    motion: ShipMotion,
    /// Ticks left in the current manoeuvre and where it ends.
    plan: Option<(u32, i64)>,
    changed: bool,
}

struct Session {
    account: Option<String>,
    character: Option<v1::Character>,
    ship: Option<Ship>,
    tick: u64,
    chat: Vec<v1::ChatLine>,
}

async fn serve(mut conn: Conn, world: Arc<Mutex<World>>, options: Options, accepted: Instant) {
    world.lock().connections += 1;
    let mut session = Session { account: None, character: None, ship: None, tick: 1000, chat: Vec::new() };
    let mut ticker = tokio::time::interval(options.tick);
    let drop_at = options.drop_at.filter(|at| accepted < *at);
    loop {
        tokio::select! {
            envelope = conn.recv() => {
                let Some(envelope) = envelope else { break };
                let (replies, close) = handle(&mut session, &world, envelope);
                let mut ok = true;
                for reply in &replies {
                    ok &= conn.send(reply).await;
                }
                if close || !ok {
                    break;
                }
            }
            _ = ticker.tick() => {
                if let Some(delta) = tick(&mut session) && !conn.send(&delta).await {
                    break;
                }
            }
            _ = tokio::time::sleep_until(drop_at.unwrap_or_else(Instant::now)), if drop_at.is_some() => break,
        }
    }
    if let Some(character) = &session.character {
        world.lock().in_space.remove(&character.character_id);
    }
}

fn snapshot(session: &Session, request_id: u32) -> v1::ServerEnvelope {
    let (Some(ship), Some(character)) = (&session.ship, &session.character) else {
        return error(request_id, ErrorCode::Internal, "no ship");
    };
    let mut celestials = vec![v1::Celestial {
        id: (1 << 63) | u64::from(ship.system),
        kind: CelestialKind::Star as i32,
        name: format!("Star {}", ship.system),
        position: Some(v1::Vec3::default()),
        destination_system_id: 0,
    }];
    for (id, destination, x) in gates_of(ship.system) {
        celestials.push(v1::Celestial {
            id,
            kind: CelestialKind::Stargate as i32,
            name: format!("Stargate ({destination})"),
            position: Some(v1::Vec3 { x, y: 0, z: 0 }),
            destination_system_id: destination,
        });
    }
    reply(
        request_id,
        Msg::Snapshot(v1::SystemSnapshot {
            system_id: ship.system,
            system_name: format!("System {}", ship.system),
            sim_time_ms: session.tick * 100,
            your_ship_id: character.ship_id,
            celestials,
            ships: vec![ship_state(character, ship)],
            tidi_permille: TIDI_PERMILLE,
            tick_ms: 100,
            tick: session.tick,
            node_id: node_of(ship.system),
            chat: Vec::new(),
        }),
    )
}

fn ship_state(character: &v1::Character, ship: &Ship) -> v1::ShipState {
    v1::ShipState {
        ship_id: character.ship_id,
        character_id: character.character_id,
        pilot: character.name.clone(),
        position: Some(v1::Vec3 { x: ship.x, y: 0, z: 0 }),
        velocity: Some(v1::Vec3::default()),
        motion: ship.motion as i32,
    }
}

fn tick(session: &mut Session) -> Option<v1::ServerEnvelope> {
    let character = session.character.as_ref()?;
    let ship = session.ship.as_mut()?;
    session.tick += 1;
    if let Some((left, x)) = ship.plan {
        ship.changed = true;
        match left {
            0 => {
                ship.x = x;
                ship.motion = ShipMotion::Idle;
                ship.plan = None;
            }
            1 if ship.motion == ShipMotion::Aligning => {
                ship.motion = ShipMotion::Warping;
                ship.plan = Some((0, x));
            }
            _ => ship.plan = Some((left - 1, x)),
        }
    }
    let moved = if std::mem::take(&mut ship.changed) { vec![ship_state(character, ship)] } else { Vec::new() };
    Some(reply(
        0,
        Msg::Delta(v1::SystemDelta {
            system_id: ship.system,
            tick: session.tick,
            sim_time_ms: session.tick * 100,
            tidi_permille: TIDI_PERMILLE,
            moved,
            arrived: Vec::new(),
            departed: Vec::new(),
            chat: std::mem::take(&mut session.chat),
            new_celestials: Vec::new(),
            kills: Vec::new(),
            fight: Vec::new(),
        }),
    ))
}

fn logged_in(world: &mut World, username: &str, request_id: u32) -> v1::ServerEnvelope {
    let token = format!("token-{username}-{}", world.tokens.len());
    world.tokens.insert(token.clone(), username.to_string());
    let account = &world.accounts[username];
    reply(
        request_id,
        Msg::LoggedIn(v1::LoggedIn {
            account_id: account.id,
            token,
            characters: account.character.iter().cloned().collect(),
            trade_hubs: Vec::new(),
        }),
    )
}

/// The answers to one command, and whether to close the connection after sending them.
fn handle(
    session: &mut Session,
    world: &Mutex<World>,
    envelope: v1::ClientEnvelope,
) -> (Vec<v1::ServerEnvelope>, bool) {
    let id = envelope.request_id;
    let mut world = world.lock();
    let answer = |e| (vec![e], false);
    match envelope.body {
        Some(Cmd::Register(r)) => {
            if world.accounts.contains_key(&r.username) {
                return answer(error(id, ErrorCode::NameTaken, "username taken"));
            }
            world.next_account += 1;
            let account = Account { password: r.password, id: world.next_account, character: None };
            world.accounts.insert(r.username.clone(), account);
            session.account = Some(r.username.clone());
            answer(logged_in(&mut world, &r.username, id))
        }
        Some(Cmd::Login(l)) => match world.accounts.get(&l.username) {
            Some(account) if account.password == l.password => {
                session.account = Some(l.username.clone());
                answer(logged_in(&mut world, &l.username, id))
            }
            _ => answer(error(id, ErrorCode::BadCredentials, "bad username or password")),
        },
        Some(Cmd::Resume(r)) => match world.tokens.get(&r.token).cloned() {
            Some(username) => {
                world.resumes += 1;
                session.account = Some(username.clone());
                answer(logged_in(&mut world, &username, id))
            }
            None => answer(error(id, ErrorCode::BadCredentials, "unknown token")),
        },
        Some(Cmd::CreateCharacter(c)) => {
            let Some(username) = session.account.clone() else {
                return answer(error(id, ErrorCode::NotLoggedIn, "log in first"));
            };
            let account_id = world.accounts[&username].id;
            let character = v1::Character {
                character_id: account_id * 10,
                name: c.name,
                ship_id: account_id * 10 + 1,
                system_id: 1,
                in_space: false,
                system_name: String::new(),
            };
            if let Some(account) = world.accounts.get_mut(&username) {
                account.character = Some(character.clone());
            }
            answer(reply(id, Msg::CharacterCreated(v1::CharacterCreated { character: Some(character) })))
        }
        Some(Cmd::Undock(u)) => {
            let Some(username) = session.account.clone() else {
                return answer(error(id, ErrorCode::NotLoggedIn, "log in first"));
            };
            let Some(character) = world.accounts[&username].character.clone() else {
                return answer(error(id, ErrorCode::NotYours, "no such character"));
            };
            if character.character_id != u.character_id {
                return answer(error(id, ErrorCode::NotYours, "not your character"));
            }
            if !world.in_space.insert(character.character_id) {
                return answer(error(id, ErrorCode::AlreadyInSpace, "already in space"));
            }
            let system = *world.ship_system.entry(character.character_id).or_insert(1);
            session.ship = Some(Ship { system, x: 0, motion: ShipMotion::Idle, plan: None, changed: false });
            session.character = Some(character);
            answer(snapshot(session, id))
        }
        Some(Cmd::WarpTo(w)) => {
            let Some(ship) = session.ship.as_mut() else { return answer(error(id, ErrorCode::NotInSpace, "dock")) };
            match gates_of(ship.system).into_iter().find(|g| g.0 == w.object_id) {
                Some((_, _, x)) => {
                    ship.motion = ShipMotion::Aligning;
                    ship.plan = Some((2, x - x.signum() * 1000));
                    ship.changed = true;
                    (Vec::new(), false)
                }
                None => answer(error(id, ErrorCode::NotInSystem, "no such object here")),
            }
        }
        Some(Cmd::Approach(a)) => {
            let Some(ship) = session.ship.as_mut() else { return answer(error(id, ErrorCode::NotInSpace, "dock")) };
            let target = match a.target {
                Some(v1::approach::Target::ObjectId(object)) => {
                    gates_of(ship.system).into_iter().find(|g| g.0 == object)
                }
                _ => None,
            };
            match target {
                Some((_, _, x)) => {
                    ship.motion = ShipMotion::Approaching;
                    ship.plan = Some((1, x - x.signum() * 500));
                    ship.changed = true;
                    (Vec::new(), false)
                }
                None => answer(error(id, ErrorCode::NotInSystem, "no such object here")),
            }
        }
        Some(Cmd::Jump(j)) => {
            let (Some(ship), Some(character)) = (session.ship.as_mut(), session.character.as_ref()) else {
                return answer(error(id, ErrorCode::NotInSpace, "dock"));
            };
            let Some((_, destination, x)) = gates_of(ship.system).into_iter().find(|g| g.0 == j.gate_id) else {
                return answer(error(id, ErrorCode::NotInSystem, "no such gate here"));
            };
            if (ship.x - x).abs() > 2500 || ship.motion != ShipMotion::Idle {
                return answer(error(id, ErrorCode::OutOfRange, "too far"));
            }
            let origin = ship.system;
            let arrival = gates_of(destination).into_iter().find(|g| g.1 == origin).map_or(0, |g| g.2);
            *ship = Ship { system: destination, x: arrival, motion: ShipMotion::Idle, plan: None, changed: false };
            world.ship_system.insert(character.character_id, destination);
            world.jumps += 1;
            answer(snapshot(session, id))
        }
        Some(Cmd::Chat(c)) => {
            let Some(character) = session.character.as_ref().filter(|_| session.ship.is_some()) else {
                return answer(error(id, ErrorCode::NotInSpace, "undock first"));
            };
            session.chat.push(v1::ChatLine {
                character_id: character.character_id,
                pilot: character.name.clone(),
                text: c.text,
            });
            (Vec::new(), false)
        }
        Some(Cmd::Ping(p)) => answer(reply(id, Msg::Pong(v1::Pong { nonce: p.nonce }))),
        Some(Cmd::Logout(_)) => {
            world.logouts += 1;
            (vec![reply(id, Msg::Ok(v1::Ok {}))], true)
        }
        Some(Cmd::Stop(_)) => (Vec::new(), false),
        // The bots under test never fight; the fake server's ships take no part in fights.
        Some(Cmd::Orbit(_) | Cmd::Lock(_) | Cmd::Unlock(_) | Cmd::ActivateModule(_) | Cmd::DeactivateModule(_)) => {
            answer(error(id, ErrorCode::NotCombatant, "no fights here"))
        }
        // Nor do they trade.
        Some(
            Cmd::PlaceOrder(_)
            | Cmd::ModifyOrder(_)
            | Cmd::CancelOrder(_)
            | Cmd::GetMarketDepth(_)
            | Cmd::GetMyOrders(_)
            | Cmd::GetWallet(_)
            | Cmd::GetTransactions(_)
            | Cmd::GetMarketHistory(_),
        ) => answer(error(id, ErrorCode::MarketUnavailable, "no market here")),
        None => answer(error(id, ErrorCode::UnknownMessage, "empty envelope")),
    }
}
