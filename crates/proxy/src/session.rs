//! One client connection, from accept to close: a small state machine (logged out → logged in → entering
//! space → in space → leaving) driven by the client's envelopes and by control messages from sol nodes.
//!
//! The session never touches a ship: in space, every movement or chat command goes to the bus subject of the
//! ship's current system, and the sol node owning it answers through the proxy's inbox. Whatever the client
//! sends, the worst it can do is get errors and be disconnected — other sessions are unaffected.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use orrery_proto::v1::{self, ErrorCode, client_envelope::Body as C, server_envelope::Body as S};
use orrery_proto::{error, frame, reply};
use prost::Message;
use tokio::sync::mpsc;

use crate::Shared;
use crate::auth;
use crate::outbound::Outbound;
use crate::rate::TokenBucket;
use crate::transport::{ReadError, Reader, Writer};

/// What a sol node (through the proxy inbox) or the cluster tells a session.
#[derive(Clone)]
pub enum Control {
    /// A notice for the client (shutdown countdown, message of the day).
    Notice(String),
    /// The cluster is going down: tell the client why and close.
    Close(String),
    /// An encoded ServerEnvelope to pass on.
    Forward(Bytes),
    /// The ship is now in `system` (undock or jump); the snapshot is an encoded ServerEnvelope.
    Entered { system: u32, ship_id: u64, snapshot: Bytes },
    /// The ship is out of space (logout done, or an undock refused); the answer is an encoded envelope.
    Left(Bytes),
}

/// How the proxy inbox reaches a session.
#[derive(Clone)]
pub struct SessionLink {
    pub control: mpsc::UnboundedSender<Control>,
}

enum Space {
    Docked,
    Entering { ship_id: u64, system: u32 },
    Flying { ship_id: u64, system: u32 },
    Leaving { ship_id: u64, system: u32, deadline: Instant, request_id: u32 },
}

enum Flow {
    Continue,
    Close,
}

struct Session {
    shared: Arc<Shared>,
    id: u64,
    outbound: Outbound,
    account: Option<u64>,
    token_digest: Option<String>,
    space: Space,
    bucket: TokenBucket,
    peer: SocketAddr,
    /// Commands refused for the rate limit since `flood_since` (the current flood window's start).
    refused: u32,
    flood_since: Instant,
}

/// Serve one connection until it closes, then make sure its ship leaves space and is stored.
pub async fn run(shared: Arc<Shared>, mut reader: Reader, writer: Writer, peer: SocketAddr) {
    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    shared.stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
    shared.stats.sessions_open.fetch_add(1, Ordering::Relaxed);
    let (outbound, queue) = Outbound::new(shared.config.outbound_queue);
    let writer_task = tokio::spawn(crate::transport::write_loop(writer, queue, shared.clone()));
    let (control, mut controls) = mpsc::unbounded_channel();
    if let Ok(mut sessions) = shared.sessions.lock() {
        sessions.insert(id, SessionLink { control });
    }
    tracing::debug!(session = id, %peer, "session opened");
    let mut session = Session {
        shared: shared.clone(),
        id,
        outbound: outbound.clone(),
        account: None,
        token_digest: None,
        space: Space::Docked,
        bucket: TokenBucket::new(shared.live.rate_limit_per_s(), Instant::now()),
        peer,
        refused: 0,
        flood_since: Instant::now(),
    };
    let frame_deadline = shared.config.frame_deadline;
    loop {
        let max_frame = shared.live.max_frame_bytes();
        let idle_timeout = shared.live.idle_timeout();
        let leave_deadline = match session.space {
            Space::Leaving { deadline, .. } => Some(deadline),
            _ => None,
        };
        let flow = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => {
                session.send(&reply(0, S::Notice(v1::Notice { text: "the server is shutting down".into() })));
                Flow::Close
            }
            _ = outbound.overflow.cancelled() => {
                shared.stats.slow_clients_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::info!(session = id, "client does not read its messages: disconnected");
                Flow::Close
            }
            Some(control) = controls.recv() => session.on_control(control).await,
            _ = sleep_until_opt(leave_deadline) => {
                // The node did not confirm in time; the ship is still sent out of space when we close.
                let request_id = match session.space { Space::Leaving { request_id, .. } => request_id, _ => 0 };
                session.send(&reply(request_id, S::Ok(v1::Ok {})));
                Flow::Close
            }
            read = tokio::time::timeout(idle_timeout, reader.next(max_frame, frame_deadline)) => match read {
                Err(_) => {
                    session.send(&error(0, ErrorCode::Unspecified, "idle timeout: no message received"));
                    Flow::Close
                }
                Ok(Ok(payload)) => {
                    shared.stats.frames_in.fetch_add(1, Ordering::Relaxed);
                    shared.stats.bytes_in.fetch_add(payload.len() as u64 + 4, Ordering::Relaxed);
                    match frame::decode::<v1::ClientEnvelope>(&payload) {
                        Ok(envelope) => session.on_envelope(envelope).await,
                        Err(problem) => {
                            session.send(&error(0, ErrorCode::BadFrame, problem.to_string()));
                            Flow::Close
                        }
                    }
                }
                Ok(Err(ReadError::Frame(problem))) => {
                    session.send(&error(0, ErrorCode::BadFrame, problem.to_string()));
                    Flow::Close
                }
                Ok(Err(ReadError::Incomplete(deadline))) => {
                    shared.stats.incomplete_frames.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(session = id, %peer, "partial frame held past the deadline: disconnected");
                    let reason = format!("incomplete frame: not completed within {} ms", deadline.as_millis());
                    session.send(&error(0, ErrorCode::BadFrame, reason));
                    Flow::Close
                }
                Ok(Err(ReadError::Protocol(problem))) => {
                    session.send(&error(0, ErrorCode::BadFrame, problem));
                    Flow::Close
                }
                Ok(Err(ReadError::Io(problem))) => {
                    tracing::debug!(session = id, %problem, "connection error");
                    Flow::Close
                }
                Ok(Err(ReadError::Closed)) => Flow::Close,
            },
        };
        if matches!(flow, Flow::Close) {
            break;
        }
    }
    session.finish().await;
    drop(session);
    let overflowed = outbound.overflow.is_cancelled();
    drop(outbound);
    // A client that stopped reading would keep its writer blocked on a full socket forever: don't wait for
    // it. Others get a moment to receive what is queued (the logout answer, the shutdown notice).
    let mut writer_task = writer_task;
    if overflowed || tokio::time::timeout(Duration::from_secs(2), &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    shared.stats.sessions_open.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(session = id, "session closed");
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Ask the owner of `system` to take a ship out of space (and store it); `answer_to` gets the confirmation.
pub async fn send_out_of_space(shared: &Shared, system: u32, ship_id: u64, answer_to: Option<(u64, u32)>) {
    let (route, request_id) = match answer_to {
        Some((session_id, request_id)) => {
            (Some(v1::SessionRoute { proxy_id: shared.config.proxy_id, session_id }), request_id)
        }
        None => (None, 0),
    };
    let message =
        v1::SystemInbox { body: Some(v1::system_inbox::Body::Leave(v1::LeaveSpace { ship_id, route, request_id })) };
    publish(shared, &orrery_proto::system_subject(system), &message).await;
}

async fn publish(shared: &Shared, subject: &str, message: &impl Message) {
    if let Err(problem) = shared.bus.publish(subject, Bytes::from(message.encode_to_vec())).await {
        tracing::error!(subject, %problem, "bus publish failed");
    }
}

impl Session {
    fn send(&self, envelope: &v1::ServerEnvelope) {
        self.outbound.push(frame::encode(envelope));
    }

    fn send_encoded(&self, envelope: &[u8]) {
        self.outbound.push(frame::prefix(envelope));
    }

    fn world<T>(&self, read: impl FnOnce(&crate::World) -> T) -> T {
        match self.shared.world.read() {
            Ok(world) => read(&world),
            Err(poisoned) => read(&poisoned.into_inner()),
        }
    }

    fn route(&self) -> v1::SessionRoute {
        v1::SessionRoute { proxy_id: self.shared.config.proxy_id, session_id: self.id }
    }

    async fn on_control(&mut self, control: Control) -> Flow {
        match control {
            Control::Notice(text) => self.send(&reply(0, S::Notice(v1::Notice { text }))),
            Control::Close(reason) => {
                self.send(&error(0, ErrorCode::ShuttingDown, reason));
                return Flow::Close;
            }
            Control::Forward(envelope) => self.send_encoded(&envelope),
            Control::Entered { system, ship_id, snapshot } => {
                match self.space {
                    Space::Entering { .. } => {}
                    Space::Flying { system: old, .. } => self.shared.rooms.leave(old, self.id),
                    // The ship arrived somewhere after a logout began (it was jumping): the leave request
                    // follows it there.
                    Space::Leaving { deadline, request_id, .. } => {
                        send_out_of_space(&self.shared, system, ship_id, Some((self.id, request_id))).await;
                        self.space = Space::Leaving { ship_id, system, deadline, request_id };
                        return Flow::Continue;
                    }
                    Space::Docked => {
                        send_out_of_space(&self.shared, system, ship_id, None).await;
                        return Flow::Continue;
                    }
                }
                self.space = Space::Flying { ship_id, system };
                self.send_encoded(&snapshot);
                self.shared.rooms.join(&self.shared, system, self.id, self.outbound.clone()).await;
            }
            Control::Left(answer) => {
                self.send_encoded(&answer);
                let leaving = matches!(self.space, Space::Leaving { .. });
                if let Space::Flying { system, .. } | Space::Leaving { system, .. } = self.space {
                    self.shared.rooms.leave(system, self.id);
                }
                self.space = Space::Docked;
                if leaving {
                    return Flow::Close;
                }
            }
        }
        Flow::Continue
    }

    async fn on_envelope(&mut self, envelope: v1::ClientEnvelope) -> Flow {
        let request_id = envelope.request_id;
        let limit = self.shared.live.rate_limit_per_s();
        self.bucket.set_rate(limit);
        let now = Instant::now();
        if !self.bucket.try_take(now) {
            self.shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            if self.flooding(now) {
                self.shared.stats.flooders_kicked.fetch_add(1, Ordering::Relaxed);
                tracing::info!(session = self.id, peer = %self.peer, "flooding past the rate limit: disconnected");
                let reason = format!(
                    "disconnected: {} commands over the rate limit ({limit} per second) within {} s",
                    self.refused,
                    self.shared.config.flood_window.as_secs_f64()
                );
                self.send(&error(0, ErrorCode::RateLimited, reason));
                return Flow::Close;
            }
            self.send(&error(request_id, ErrorCode::RateLimited, format!("more than {limit} commands per second")));
            return Flow::Continue;
        }
        let Some(body) = envelope.body.as_ref() else {
            self.send(&error(request_id, ErrorCode::UnknownMessage, "envelope without a (known) body"));
            return Flow::Continue;
        };
        match body {
            C::Ping(ping) => self.send(&reply(request_id, S::Pong(v1::Pong { nonce: ping.nonce }))),
            C::Register(_) | C::Login(_) | C::Resume(_) if self.shared.closing.load(Ordering::Relaxed) => {
                self.send(&error(request_id, ErrorCode::ShuttingDown, "the server is shutting down: no new logins"));
            }
            C::Register(register) => self.register(request_id, register).await,
            C::Login(login) => self.login(request_id, login).await,
            C::Resume(resume) => self.resume(request_id, resume).await,
            C::Logout(_) => return self.logout(request_id).await,
            C::CreateCharacter(create) => self.create_character(request_id, create).await,
            C::Undock(undock) => self.undock(request_id, undock.character_id).await,
            C::Approach(_) | C::Stop(_) | C::WarpTo(_) | C::Jump(_) | C::Chat(_) => {
                self.command(request_id, envelope).await;
            }
        }
        Flow::Continue
    }

    /// Count one refused command; true when the session has been refused `flood_kick_after` times within the
    /// flood window and must go.
    fn flooding(&mut self, now: Instant) -> bool {
        let config = &self.shared.config;
        if now.saturating_duration_since(self.flood_since) >= config.flood_window {
            self.flood_since = now;
            self.refused = 0;
        }
        self.refused = self.refused.saturating_add(1);
        config.flood_kick_after > 0 && self.refused >= config.flood_kick_after
    }

    fn logged_in(&self, request_id: u32) -> Option<u64> {
        if self.account.is_none() {
            self.send(&error(request_id, ErrorCode::NotLoggedIn, "log in first (Login, Register or Resume)"));
        }
        self.account
    }

    fn internal(&self, request_id: u32, what: &str, problem: impl std::fmt::Display) {
        tracing::error!(session = self.id, what, %problem, "store failure");
        self.send(&error(request_id, ErrorCode::Internal, format!("{what} failed; try again later")));
    }

    async fn hash(&self, password: String) -> Option<String> {
        self.shared.hashing.hash(password).await
    }

    async fn verify(&self, password: String, stored: String) -> bool {
        self.shared.hashing.verify(password, stored).await
    }

    async fn register(&mut self, request_id: u32, register: &v1::Register) {
        if let Err(reason) = auth::check_username(&register.username).and(auth::check_password(&register.password)) {
            return self.send(&error(request_id, ErrorCode::InvalidArgument, format!("register.{reason}")));
        }
        let Some(hash) = self.hash(register.password.clone()).await else {
            return self.internal(request_id, "hashing the password", "argon2");
        };
        match self.shared.store.create_account(&register.username, &hash).await {
            Ok(account_id) => self.logged_in_as(request_id, account_id).await,
            Err(orrery_store::StoreError::Conflict { .. }) => {
                self.send(&error(request_id, ErrorCode::NameTaken, "register.username: taken"));
            }
            Err(problem) => self.internal(request_id, "creating the account", problem),
        }
    }

    /// An unknown name and a wrong password get the same answer after the same work (a password hash is
    /// verified either way: a dummy one for an unknown name), so logins do not tell which names exist. Failed
    /// logins are counted per name and per address; past the limits, logins are refused without looking at
    /// the password until the window ends — for unknown names too, so the refusal tells nothing either.
    async fn login(&mut self, request_id: u32, login: &v1::Login) {
        let bad = || error(request_id, ErrorCode::BadCredentials, "unknown username or wrong password");
        let ip = self.peer.ip();
        let failures = &self.shared.login_failures;
        if failures.locked(&login.username, ip, Instant::now()) {
            self.shared.stats.logins_throttled.fetch_add(1, Ordering::Relaxed);
            let reason = "too many failed logins: try again later";
            return self.send(&error(request_id, ErrorCode::RateLimited, reason));
        }
        if login.username.len() > 64 || login.password.len() > 128 {
            self.shared.login_failures.failed(&login.username, ip, Instant::now());
            return self.send(&bad());
        }
        let account = match self.shared.store.account_by_name(&login.username).await {
            Ok(account) => account,
            Err(problem) => return self.internal(request_id, "looking up the account", problem),
        };
        let matched = match &account {
            Some(account) => self.verify(login.password.clone(), account.password_hash.clone()).await,
            None => self.shared.hashing.verify_dummy(login.password.clone()).await,
        };
        match account {
            Some(account) if matched => {
                self.shared.login_failures.succeeded(&login.username);
                self.logged_in_as(request_id, account.account_id).await;
            }
            _ => {
                self.shared.login_failures.failed(&login.username, ip, Instant::now());
                self.send(&bad());
            }
        }
    }

    async fn resume(&mut self, request_id: u32, resume: &v1::Resume) {
        let unknown = || error(request_id, ErrorCode::BadCredentials, "resume.token: unknown or expired");
        if resume.token.len() > auth::MAX_TOKEN_LEN {
            return self.send(&unknown());
        }
        let digest = auth::token_digest(&resume.token);
        match auth::token_age(&resume.token, std::time::SystemTime::now()) {
            Some(age) if age <= self.shared.config.token_ttl => {}
            expired => {
                if expired.is_some() {
                    // Expired: forget it for good (a token without an issue time is not ours to delete).
                    if let Err(problem) = self.shared.store.delete_session_token(&digest).await {
                        tracing::error!(session = self.id, %problem, "could not delete an expired session token");
                    }
                }
                return self.send(&unknown());
            }
        }
        match self.shared.store.account_for_token(&digest).await {
            Ok(Some(account_id)) => {
                self.account = Some(account_id);
                self.token_digest = Some(digest);
                self.send_logged_in(request_id, account_id, resume.token.clone()).await;
            }
            Ok(None) => self.send(&unknown()),
            Err(problem) => self.internal(request_id, "looking up the session token", problem),
        }
    }

    async fn logged_in_as(&mut self, request_id: u32, account_id: u64) {
        let token = auth::new_token(std::time::SystemTime::now());
        let digest = auth::token_digest(&token);
        if let Err(problem) = self.shared.store.put_session_token(&digest, account_id).await {
            return self.internal(request_id, "storing the session token", problem);
        }
        self.account = Some(account_id);
        self.token_digest = Some(digest);
        self.send_logged_in(request_id, account_id, token).await;
    }

    async fn send_logged_in(&self, request_id: u32, account_id: u64, token: String) {
        match self.shared.store.characters(account_id).await {
            Ok(characters) => {
                let characters = characters.iter().map(character_message).collect();
                self.send(&reply(request_id, S::LoggedIn(v1::LoggedIn { account_id, token, characters })));
                let motd = self.shared.live.motd();
                if !motd.is_empty() {
                    self.send(&reply(0, S::Notice(v1::Notice { text: motd })));
                }
            }
            Err(problem) => self.internal(request_id, "listing characters", problem),
        }
    }

    async fn create_character(&mut self, request_id: u32, create: &v1::CreateCharacter) {
        let Some(account_id) = self.logged_in(request_id) else { return };
        if let Err(reason) = auth::check_character_name(&create.name) {
            return self.send(&error(request_id, ErrorCode::InvalidArgument, reason));
        }
        let ship = orrery_store::NewShip {
            system_id: self.world(|world| world.starting_system(&create.name)),
            position: [0.0; 3],
            velocity: [0.0; 3],
        };
        match self.shared.store.create_character(account_id, &create.name, ship).await {
            Ok(record) => {
                let character = Some(character_message(&record));
                self.send(&reply(request_id, S::CharacterCreated(v1::CharacterCreated { character })));
            }
            Err(orrery_store::StoreError::Conflict { .. }) => {
                self.send(&error(request_id, ErrorCode::NameTaken, "create_character.name: taken"));
            }
            Err(problem) => self.internal(request_id, "creating the character", problem),
        }
    }

    async fn undock(&mut self, request_id: u32, character_id: u64) {
        let Some(account_id) = self.logged_in(request_id) else { return };
        if !matches!(self.space, Space::Docked) {
            return self.send(&error(
                request_id,
                ErrorCode::AlreadyInSpace,
                "this session already has a ship in space",
            ));
        }
        let record = match self.shared.store.character(character_id).await {
            Ok(Some(record)) if record.account_id == account_id => record,
            Ok(_) => {
                let reason = format!("undock.character_id: {character_id} is not one of your characters");
                return self.send(&error(request_id, ErrorCode::NotYours, reason));
            }
            Err(problem) => return self.internal(request_id, "loading the character", problem),
        };
        let mut ship = record.ship;
        // An invitation to an arena takes the ship there (an instanced system without stargates).
        match self.shared.store.take_invite(character_id).await {
            Ok(Some(arena)) if self.world(|world| world.contains(arena)) => {
                tracing::info!(ship = ship.ship_id, arena, "invited into an arena");
                ship.system_id = arena;
                ship.position = [0.0; 3];
                ship.velocity = [0.0; 3];
            }
            Ok(Some(arena)) => tracing::warn!(arena, "invitation to an arena that is not online: ignored"),
            Ok(None) => {}
            Err(problem) => tracing::error!(%problem, "cannot read arena invitations"),
        }
        if !self.world(|world| world.contains(ship.system_id)) {
            // The universe changed under a stored ship: bring it to a starting system rather than lose it.
            tracing::warn!(ship = ship.ship_id, system = ship.system_id, "ship in an unknown system: relocated");
            ship.system_id = self.world(|world| world.starting_system(&record.name));
            ship.position = [0.0; 3];
            ship.velocity = [0.0; 3];
        }
        let system = ship.system_id;
        self.space = Space::Entering { ship_id: ship.ship_id, system };
        let message = v1::SystemInbox {
            body: Some(v1::system_inbox::Body::Enter(v1::EnterSpace {
                route: Some(self.route()),
                request_id,
                ship: Some(ship_record(&ship, &record.name)),
            })),
        };
        publish(&self.shared, &orrery_proto::system_subject(system), &message).await;
    }

    async fn command(&mut self, request_id: u32, envelope: v1::ClientEnvelope) {
        let (ship_id, system) = match self.space {
            Space::Flying { ship_id, system } => (ship_id, system),
            _ if self.account.is_none() => {
                return self.send(&error(request_id, ErrorCode::NotLoggedIn, "log in first"));
            }
            _ => return self.send(&error(request_id, ErrorCode::NotInSpace, "undock first")),
        };
        let message = v1::SystemInbox {
            body: Some(v1::system_inbox::Body::Command(v1::SessionCommand {
                route: Some(self.route()),
                ship_id,
                envelope: Some(envelope),
            })),
        };
        publish(&self.shared, &orrery_proto::system_subject(system), &message).await;
    }

    async fn logout(&mut self, request_id: u32) -> Flow {
        if let Some(digest) = self.token_digest.take()
            && let Err(problem) = self.shared.store.delete_session_token(&digest).await
        {
            tracing::error!(session = self.id, %problem, "could not delete the session token");
        }
        match self.space {
            Space::Flying { ship_id, system } | Space::Entering { ship_id, system } => {
                send_out_of_space(&self.shared, system, ship_id, Some((self.id, request_id))).await;
                let deadline = Instant::now() + self.shared.config.logout_timeout;
                self.space = Space::Leaving { ship_id, system, deadline, request_id };
                Flow::Continue
            }
            Space::Leaving { .. } => Flow::Continue,
            Space::Docked => {
                self.send(&reply(request_id, S::Ok(v1::Ok {})));
                Flow::Close
            }
        }
    }

    /// The connection is closing: a ship still in space (or on its way) is taken out and stored.
    async fn finish(&mut self) {
        match self.space {
            // A repeated leave request for a ship already out is harmless: the node ignores it.
            Space::Flying { ship_id, system }
            | Space::Entering { ship_id, system }
            | Space::Leaving { ship_id, system, .. } => {
                self.shared.rooms.leave(system, self.id);
                send_out_of_space(&self.shared, system, ship_id, None).await;
            }
            Space::Docked => {}
        }
        self.space = Space::Docked;
        if let Ok(mut sessions) = self.shared.sessions.lock() {
            sessions.remove(&self.id);
        }
    }
}

fn character_message(record: &orrery_store::CharacterRecord) -> v1::Character {
    v1::Character {
        character_id: record.character_id,
        name: record.name.clone(),
        ship_id: record.ship.ship_id,
        system_id: record.ship.system_id,
        in_space: record.ship.in_space,
    }
}

fn ship_record(ship: &orrery_store::ShipRow, pilot: &str) -> v1::ShipRecord {
    let vec = |[x, y, z]: [f64; 3]| Some(v1::Vec3d { x, y, z });
    v1::ShipRecord {
        ship_id: ship.ship_id,
        character_id: ship.character_id,
        pilot: pilot.to_owned(),
        system_id: ship.system_id,
        position: vec(ship.position),
        velocity: vec(ship.velocity),
        handoff_seq: ship.handoff_seq,
    }
}
