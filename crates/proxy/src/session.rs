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

use crate::Shared;
use crate::auth;
use crate::guard::ConnectionSlot;
use crate::inbox;
use crate::link::{Link, Sender};
use crate::rate::TokenBucket;
use crate::state::{Action, Flow, SessionState, Space, Step};
use crate::transport::{Read, ReadError, Reader, TcpOut, Writer};

/// What a sol node (through the proxy inbox) or the cluster tells a session.
#[derive(Clone)]
pub enum Control {
    /// A notice for the client (shutdown countdown, message of the day).
    Notice(String),
    /// The cluster is going down: tell the client why and close.
    Close(String),
    /// This proxy is stopping: say so and close.
    Shutdown,
    /// A newer session of the same account logged in (here or on another proxy): say so and close.
    Replaced,
    /// An encoded ServerEnvelope to pass on.
    Forward(Bytes),
    /// The ship is now in `system` (undock or jump); the snapshot is an encoded ServerEnvelope.
    Entered { system: u32, ship_id: u64, snapshot: Bytes },
    /// The ship is out of space (logout done, or an undock refused); the answer is an encoded envelope.
    Left(Bytes),
    /// `system` does not have the ship and knows nothing of it (restored after its node died): look for the
    /// ship where the store has it.
    Lost { system: u32, ship_id: u64 },
}

/// How often a session looks for its lost ship in the store at most: a client that keeps commanding a ship
/// that is not there costs one store read per interval, not one per command.
const REFIND_EVERY: Duration = Duration::from_secs(2);

struct Session {
    shared: Arc<Shared>,
    id: u64,
    link: Arc<Link>,
    /// Who is logged in and where the ship is: the part of the session a test drives without a connection.
    state: SessionState,
    token_digest: Option<auth::TokenDigest>,
    bucket: TokenBucket,
    peer: SocketAddr,
    /// Commands refused for the rate limit since `flood_since` (the current flood window's start).
    refused: u32,
    flood_since: Instant,
    /// Stamps what this session sends to systems, in the order sent (see [`orrery_proto::Stamper`]).
    stamper: orrery_proto::Stamper,
    /// When the session last looked for its lost ship in the store.
    refound_at: Option<Instant>,
}

/// Serve one connection until it closes, then make sure its ship leaves space and is stored.
///
/// `slot` is the connection's place under the per-address limit, given back when the session ends. The setup
/// is done here, outside the future, so that the future holds only the [`Connection`] and the state of one
/// [`Connection::turn`].
pub fn run(
    shared: &Arc<Shared>,
    reader: Reader,
    writer: Writer,
    peer: SocketAddr,
    slot: ConnectionSlot,
) -> impl std::future::Future<Output = ()> + Send + use<> {
    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    shared.stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
    shared.stats.sessions_open.fetch_add(1, Ordering::Relaxed);
    // TCP: the session task writes too (an idle session is one task); WebSocket: a writer task of its own.
    let (tcp_out, link, websocket_writer) = match writer {
        Writer::Tcp => (Some(TcpOut::default()), Link::new(shared.config.outbound_queue, Sender::Session), None),
        Writer::Ws(sink) => {
            let link = Link::new(shared.config.outbound_queue, Sender::Writer);
            let task = tokio::spawn(crate::transport::write_websocket(sink, link.clone(), shared.clone()));
            (None, link, Some(task))
        }
    };
    shared.sessions.lock().insert(id, link.clone());
    tracing::debug!(session = id, %peer, "session opened");
    let session = Session {
        shared: shared.clone(),
        id,
        link,
        state: SessionState::default(),
        token_digest: None,
        bucket: TokenBucket::new(shared.live.rate_limit_per_s(), Instant::now()),
        peer,
        refused: 0,
        flood_since: Instant::now(),
        stamper: orrery_proto::Stamper::random(),
        refound_at: None,
    };
    let mut connection =
        Connection { session, reader, tcp_out, websocket_writer, _slot: slot, last_heard: tokio::time::Instant::now() };
    // The connection is used in place, never moved into a local of the future (that would store it twice).
    async move {
        while let Flow::Continue = connection.turn().await {}
        // Boxed, like the handlers: the state of closing is needed once, at the end.
        Box::pin(connection.close()).await;
    }
}

/// A session's deadlines: the logout confirmation, the completion of a frame begun, the idle timeout.
struct Deadlines {
    leave: Option<tokio::time::Instant>,
    frame: Option<tokio::time::Instant>,
    idle: tokio::time::Instant,
}

impl Deadlines {
    fn earliest(&self) -> tokio::time::Instant {
        [self.leave, self.frame].into_iter().flatten().fold(self.idle, std::cmp::min)
    }
}

/// A session with the two ends of its connection.
struct Connection {
    session: Session,
    reader: Reader,
    /// TCP: frames are written by this task. `None` for WebSocket (a writer task of its own) and once closed.
    tcp_out: Option<TcpOut>,
    websocket_writer: Option<tokio::task::JoinHandle<()>>,
    /// Held for its `Drop`: the place under the per-address limit is given back when the connection goes.
    _slot: ConnectionSlot,
    /// When the last frame arrived. The idle timeout counts from here, not from the last wake-up: deltas wake
    /// a TCP session many times a second.
    last_heard: tokio::time::Instant,
}

impl Connection {
    /// Handle whatever is ready — control messages, queued frames, a frame from the client, a deadline — or
    /// wait for the next of them.
    async fn turn(&mut self) -> Flow {
        let shared = self.session.shared.clone();
        let link = self.session.link.clone();
        let id = self.session.id;
        if shared.shutdown.is_cancelled() {
            // Registered after the proxy told every session to stop.
            return Box::pin(self.session.on_control(Control::Shutdown)).await;
        }
        // Whatever woke the task, look at the link first: a control message or an overflow may be waiting.
        if link.overflowed() {
            shared.stats.slow_clients_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = id, "client does not read its messages: disconnected");
            return Flow::Close;
        }
        while let Some(control) = link.next_control() {
            // Boxed: the handlers' state exists only while they run, so an idle session's task stays small.
            if let Flow::Close = Box::pin(self.session.on_control(control)).await {
                return Flow::Close;
            }
        }
        if let Some(out) = self.tcp_out.as_mut()
            && let Some(stream) = self.reader.tcp_stream()
            && let Err(problem) = out.flush(stream, &link, &shared)
        {
            tracing::debug!(session = id, %problem, "connection error");
            return Flow::Close;
        }
        let blocked = self.tcp_out.as_ref().is_some_and(TcpOut::blocked);
        let max_frame = shared.live.max_frame_bytes();
        let due = self.deadlines().earliest();
        let session = &mut self.session;
        tokio::select! {
            biased;
            _ = link.session_woken() => Flow::Continue,
            // One timer for every deadline: the earliest of them. Which one passed is worked out after it
            // fired, so that the deadlines are not kept in every session's task while it waits.
            _ = tokio::time::sleep_until(due) => Box::pin(self.deadline_reached()).await,
            read = self.reader.next(max_frame, shared.config.frame_deadline, blocked) => match read {
                // A frame began (its deadline is set at the next turn), or queued frames can go out now.
                Ok(Read::FrameBegun | Read::Writable) => Flow::Continue,
                Ok(Read::Frame(payload)) => {
                    self.last_heard = tokio::time::Instant::now();
                    shared.stats.frames_in.fetch_add(1, Ordering::Relaxed);
                    shared.stats.bytes_in.fetch_add(payload.len() as u64 + 4, Ordering::Relaxed);
                    match frame::decode::<v1::ClientEnvelope>(&payload) {
                        Ok(envelope) => Box::pin(session.on_envelope(envelope)).await,
                        Err(problem) => {
                            session.send(&error(0, ErrorCode::BadFrame, problem.to_string()));
                            Flow::Close
                        }
                    }
                }
                Err(ReadError::Frame(problem)) => {
                    session.send(&error(0, ErrorCode::BadFrame, problem.to_string()));
                    Flow::Close
                }
                Err(ReadError::Incomplete(deadline)) => session.incomplete_frame(deadline),
                Err(ReadError::Protocol(problem)) => {
                    session.send(&error(0, ErrorCode::BadFrame, problem));
                    Flow::Close
                }
                Err(ReadError::Io(problem)) => {
                    tracing::debug!(session = id, %problem, "connection error");
                    Flow::Close
                }
                Err(ReadError::Closed) => Flow::Close,
            },
        }
    }

    /// When the session must act if nothing else happens first.
    fn deadlines(&self) -> Deadlines {
        let shared = &self.session.shared;
        Deadlines {
            leave: self.session.state.leave_deadline().map(tokio::time::Instant::from_std),
            frame: self.reader.partial_since().map(|since| since + shared.config.frame_deadline),
            idle: self.last_heard + shared.live.idle_timeout(),
        }
    }

    /// The timer fired: close for the deadline that passed, if one did (settings may have moved them).
    async fn deadline_reached(&mut self) -> Flow {
        let deadlines = self.deadlines();
        let now = tokio::time::Instant::now();
        let session = &mut self.session;
        if deadlines.leave.is_some_and(|deadline| deadline <= now) {
            // The node did not confirm in time; the ship is still sent out of space when we close.
            let step = session.state.leave_timed_out();
            session.apply(step).await
        } else if deadlines.frame.is_some_and(|deadline| deadline <= now) {
            session.incomplete_frame(session.shared.config.frame_deadline)
        } else if deadlines.idle <= now {
            session.send(&error(0, ErrorCode::Unspecified, "idle timeout: no message received"));
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// The connection is closing: the ship leaves space, the client gets what is still queued (for a moment),
    /// and the connection's place under the per-address limit is given back.
    async fn close(mut self) {
        self.session.finish().await;
        let shared = self.session.shared.clone();
        let link = self.session.link.clone();
        let id = self.session.id;
        let overflowed = link.overflowed();
        link.close();
        // A client that stopped reading would keep its writer blocked on a full socket forever: don't wait for
        // it. Others get a moment to receive what is queued (the logout answer, the shutdown notice).
        if let Some(out) = self.tcp_out.take()
            && !overflowed
        {
            let reader = std::mem::replace(&mut self.reader, Reader::Closed);
            let _ = tokio::time::timeout(FINAL_FLUSH, async {
                if let Some(stream) = reader.tcp_stream() {
                    out.finish(stream, &link, &shared).await;
                }
                reader.linger().await;
            })
            .await;
        }
        if let Some(mut writer) = self.websocket_writer.take()
            && (overflowed || tokio::time::timeout(FINAL_FLUSH, &mut writer).await.is_err())
        {
            writer.abort();
        }
        drop(self);
        shared.stats.sessions_open.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(session = id, "session closed");
    }
}

/// How long a closing session may take to send what is still queued for its client.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// Ask the owner of `system` to take the ship that `session` flies out of space (and store it); `answer` is the
/// request of that session to confirm once stored (none for a connection that is gone). Stamped by the
/// session's `stamper` when it is the session that sends it (unstamped from elsewhere: a second leave is
/// harmless).
pub async fn send_out_of_space(
    shared: &Shared,
    stamper: Option<&orrery_proto::Stamper>,
    (system, ship_id): (u32, u64),
    session_id: u64,
    answer: Option<u32>,
) {
    let owner = v1::SessionRoute { proxy_id: shared.config.proxy_id, session_id };
    let leave =
        v1::LeaveSpace { ship_id, route: answer.map(|_| owner), request_id: answer.unwrap_or(0), owner: Some(owner) };
    let message = v1::SystemInbox { body: Some(v1::system_inbox::Body::Leave(leave)), origin: 0, seq: 0 };
    let message = match stamper {
        Some(stamper) => stamper.stamp(message),
        None => message,
    };
    publish(shared, &orrery_proto::system_subject(system), &message).await;
}

async fn publish(shared: &Shared, subject: &str, message: &impl Message) {
    publish_bytes(shared, subject, Bytes::from(message.encode_to_vec())).await;
}

async fn publish_bytes(shared: &Shared, subject: &str, payload: Bytes) {
    if let Err(problem) = shared.bus.publish(subject, payload).await {
        tracing::error!(subject, %problem, "bus publish failed");
    }
}

impl Session {
    /// A frame begun but not completed within `deadline` (slowloris): say so and close.
    fn incomplete_frame(&self, deadline: Duration) -> Flow {
        self.shared.stats.incomplete_frames.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(session = self.id, peer = %self.peer, "partial frame held past the deadline: disconnected");
        let reason = format!("incomplete frame: not completed within {} ms", deadline.as_millis());
        self.send(&error(0, ErrorCode::BadFrame, reason));
        Flow::Close
    }

    fn send(&self, envelope: &v1::ServerEnvelope) {
        self.link.push(frame::encode(envelope));
    }

    fn send_encoded(&self, envelope: &[u8]) {
        self.link.push(frame::prefix(envelope));
    }

    fn world<T>(&self, read: impl FnOnce(&crate::World) -> T) -> T {
        read(&self.shared.world.read())
    }

    /// A stored character as the client sees it, with its system's name so the player can tell others where
    /// to meet.
    fn character_message(&self, record: &orrery_store::CharacterRecord) -> v1::Character {
        v1::Character {
            character_id: record.character_id,
            name: record.name.clone(),
            ship_id: record.ship.ship_id,
            system_id: record.ship.system_id,
            in_space: record.ship.in_space,
            system_name: self.world(|world| world.name(record.ship.system_id).unwrap_or_default().to_owned()),
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
            Control::Shutdown => {
                self.send(&reply(0, S::Notice(v1::Notice { text: "the server is shutting down".into() })));
                return Flow::Close;
            }
            Control::Replaced => {
                let reason = "a newer session of this account logged in: this one is closed";
                self.send(&error(0, ErrorCode::SessionReplaced, reason));
                return Flow::Close;
            }
            Control::Forward(envelope) => self.send_encoded(&envelope),
            Control::Entered { system, ship_id, snapshot } => {
                let step = self.state.entered(system, ship_id, snapshot);
                return self.apply(step).await;
            }
            Control::Left(answer) => {
                let step = self.state.left(answer);
                return self.apply(step).await;
            }
            Control::Lost { system, ship_id } => self.refind(system, ship_id).await,
        }
        Flow::Continue
    }

    /// The system this session routes to says the ship is not there and it knows nothing of it: a system
    /// restored after its node died, from a store that has the ship elsewhere (its last jump's arrival died
    /// with the node) or not yet in space there. Send the ship to where the store has it, as an undock does;
    /// the system there takes over the live ship if it has it, or puts it back in space, and its `Entered`
    /// re-routes the session (the client gets that system's snapshot). At most once per [`REFIND_EVERY`].
    async fn refind(&mut self, lost_in: u32, ship_id: u64) {
        if self.state.space() != (Space::Flying { ship_id, system: lost_in })
            || self.refound_at.is_some_and(|at| at.elapsed() < REFIND_EVERY)
        {
            return;
        }
        self.refound_at = Some(Instant::now());
        let Some(account_id) = self.state.account() else { return };
        let record = match self.shared.store.ship(ship_id).await {
            Ok(Some(row)) => match self.shared.store.character(row.character_id).await {
                Ok(Some(record)) if record.account_id == account_id && record.ship.ship_id == ship_id => record,
                Ok(_) => return,
                Err(problem) => return tracing::error!(session = self.id, %problem, "lost ship: character unreadable"),
            },
            Ok(None) => return,
            Err(problem) => return tracing::error!(session = self.id, %problem, "lost ship: store unreadable"),
        };
        let system = record.ship.system_id;
        tracing::warn!(
            session = self.id,
            ship = ship_id,
            lost_in,
            system,
            "ship not in its system: looking for it where it is stored"
        );
        let message = self.stamper.encode(v1::system_inbox::Body::Enter(v1::EnterSpace {
            route: Some(self.route()),
            request_id: 0,
            ship: Some(ship_record(&record.ship, &record.name)),
        }));
        publish_bytes(&self.shared, &orrery_proto::system_subject(system), message).await;
    }

    /// Do what a step of the state machine asks, in order.
    async fn apply(&mut self, step: Step) -> Flow {
        for action in step.actions {
            match action {
                Action::Send(envelope) => self.send(&envelope),
                Action::Pass(envelope) => self.send_encoded(&envelope),
                Action::SendOutOfSpace { system, ship_id, answer } => {
                    send_out_of_space(&self.shared, Some(&self.stamper), (system, ship_id), self.id, answer).await;
                }
                Action::JoinRoom(system) => {
                    self.shared.rooms.join(&self.shared, system, self.id, self.link.clone()).await;
                }
                Action::LeaveRoom(system) => self.shared.rooms.leave(system, self.id),
            }
        }
        step.flow
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
        if matches!(body, C::Register(_) | C::Login(_) | C::Resume(_))
            && let Err(refusal) = self.state.may_log_in(request_id)
        {
            self.send(&refusal.envelope());
            return Flow::Continue;
        }
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
            C::Approach(_)
            | C::Stop(_)
            | C::WarpTo(_)
            | C::Jump(_)
            | C::Chat(_)
            | C::Orbit(_)
            | C::Lock(_)
            | C::Unlock(_)
            | C::ActivateModule(_)
            | C::DeactivateModule(_) => {
                self.command(request_id, envelope).await;
            }
            C::PlaceOrder(_)
            | C::ModifyOrder(_)
            | C::CancelOrder(_)
            | C::GetMarketDepth(_)
            | C::GetMyOrders(_)
            | C::GetWallet(_)
            | C::GetTransactions(_)
            | C::GetMarketHistory(_) => self.market(request_id, envelope).await,
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
        self.state.require_account(request_id).map_err(|refusal| self.send(&refusal.envelope())).ok()
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
        let digest = auth::TokenDigest::of(&resume.token);
        match auth::token_age(&resume.token, std::time::SystemTime::now()) {
            Some(age) if age <= self.shared.config.token_ttl => {}
            expired => {
                if expired.is_some() {
                    // Expired: forget it for good (a token without an issue time is not ours to delete).
                    if let Err(problem) = self.shared.store.delete_session_token(&digest.hex()).await {
                        tracing::error!(session = self.id, %problem, "could not delete an expired session token");
                    }
                }
                return self.send(&unknown());
            }
        }
        match self.shared.store.account_for_token(&digest.hex()).await {
            Ok(Some(account_id)) => {
                self.claim_account(account_id).await;
                self.token_digest = Some(digest);
                self.send_logged_in(request_id, account_id, resume.token.clone()).await;
            }
            Ok(None) => self.send(&unknown()),
            Err(problem) => self.internal(request_id, "looking up the session token", problem),
        }
    }

    async fn logged_in_as(&mut self, request_id: u32, account_id: u64) {
        let token = auth::new_token(std::time::SystemTime::now());
        let digest = auth::TokenDigest::of(&token);
        if let Err(problem) = self.shared.store.put_session_token(&digest.hex(), account_id).await {
            return self.internal(request_id, "storing the session token", problem);
        }
        self.claim_account(account_id).await;
        self.token_digest = Some(digest);
        self.send_logged_in(request_id, account_id, token).await;
    }

    /// This session now acts for `account_id`, and is its only session: an older one on this proxy is closed
    /// at once, those on other proxies when they hear of this one on the bus.
    async fn claim_account(&mut self, account_id: u64) {
        self.state.logged_in(account_id);
        let previous = self.shared.accounts.lock().claim(account_id, self.id);
        if let Some(previous) = previous {
            inbox::tell(&self.shared, previous, Control::Replaced);
        }
        let opened = v1::SessionOpened { account_id, route: Some(self.route()) };
        let event = v1::ClusterEvent { body: Some(v1::cluster_event::Body::SessionOpened(opened)) };
        publish(&self.shared, orrery_proto::CLUSTER_SUBJECT, &event).await;
    }

    async fn send_logged_in(&self, request_id: u32, account_id: u64, token: String) {
        match self.shared.store.characters(account_id).await {
            Ok(characters) => {
                let characters = characters.iter().map(|record| self.character_message(record)).collect();
                let trade_hubs = self.world(crate::World::trade_hubs);
                let logged_in = v1::LoggedIn { account_id, token, characters, trade_hubs };
                self.send(&reply(request_id, S::LoggedIn(logged_in)));
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
        let system_id = match self.world(|world| world.start_for(&create.name, create.start_system.as_ref())) {
            Ok(system_id) => system_id,
            Err(refusal) => return self.send(&error(request_id, ErrorCode::NotAStartingSystem, refusal.to_string())),
        };
        // New characters start in the starter frigate of data/ship-types.csv.
        let ship_type_id = orrery_sim::ShipTypes::builtin().ok().and_then(|types| types.starter().map(|t| t.type_id));
        let ship = orrery_store::NewShip { system_id, position: [0.0; 3], velocity: [0.0; 3], ship_type_id };
        match self.shared.store.create_character(account_id, &create.name, ship).await {
            Ok(record) => {
                let character = Some(self.character_message(&record));
                self.send(&reply(request_id, S::CharacterCreated(v1::CharacterCreated { character })));
            }
            Err(orrery_store::StoreError::Conflict { .. }) => {
                self.send(&error(request_id, ErrorCode::NameTaken, "create_character.name: taken"));
            }
            Err(problem) => self.internal(request_id, "creating the character", problem),
        }
    }

    async fn undock(&mut self, request_id: u32, character_id: u64) {
        let account_id = match self.state.may_undock(request_id) {
            Ok(account_id) => account_id,
            Err(refusal) => return self.send(&refusal.envelope()),
        };
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
        self.state.entering(ship.ship_id, system);
        let message = self.stamper.encode(v1::system_inbox::Body::Enter(v1::EnterSpace {
            route: Some(self.route()),
            request_id,
            ship: Some(ship_record(&ship, &record.name)),
        }));
        publish_bytes(&self.shared, &orrery_proto::system_subject(system), message).await;
    }

    async fn command(&mut self, request_id: u32, envelope: v1::ClientEnvelope) {
        let (ship_id, system) = match self.state.command_target(request_id) {
            Ok(target) => target,
            Err(refusal) => return self.send(&refusal.envelope()),
        };
        let message = self.stamper.encode(v1::system_inbox::Body::Command(v1::SessionCommand {
            route: Some(self.route()),
            ship_id,
            envelope: Some(envelope),
        }));
        publish_bytes(&self.shared, &orrery_proto::system_subject(system), message).await;
    }

    /// A market request goes to the market role (`market`) with the session's route and account; the market
    /// checks the character and answers the session through this proxy's inbox.
    async fn market(&mut self, request_id: u32, envelope: v1::ClientEnvelope) {
        let Some(account_id) = self.logged_in(request_id) else { return };
        let request = v1::MarketRequest { route: Some(self.route()), account_id, envelope: Some(envelope) };
        publish_bytes(&self.shared, orrery_proto::MARKET_SUBJECT, Bytes::from(prost::Message::encode_to_vec(&request)))
            .await;
    }

    async fn logout(&mut self, request_id: u32) -> Flow {
        if let Some(digest) = self.token_digest.take()
            && let Err(problem) = self.shared.store.delete_session_token(&digest.hex()).await
        {
            tracing::error!(session = self.id, %problem, "could not delete the session token");
        }
        let step = self.state.logout(request_id, Instant::now(), self.shared.config.logout_timeout);
        self.apply(step).await
    }

    /// The connection is closing: a ship still in space (or on its way) is taken out and stored.
    async fn finish(&mut self) {
        let actions = self.state.closing();
        self.apply(Step { actions, flow: Flow::Close }).await;
        if let Some(account_id) = self.state.account() {
            self.shared.accounts.lock().release(account_id, self.id);
        }
        self.shared.sessions.lock().remove(&self.id);
    }
}

/// A stored ship as the bus carries it, with its hull (the store keeps no pilot name: the caller gives it).
pub fn ship_record(ship: &orrery_store::ShipRow, pilot: &str) -> v1::ShipRecord {
    let vec = |[x, y, z]: [f64; 3]| Some(v1::Vec3d { x, y, z });
    v1::ShipRecord {
        ship_id: ship.ship_id,
        character_id: ship.character_id,
        pilot: pilot.to_owned(),
        system_id: ship.system_id,
        position: vec(ship.position),
        velocity: vec(ship.velocity),
        handoff_seq: ship.handoff_seq,
        ship_type_id: ship.hull.map_or(0, |hull| hull.type_id),
        hit_points: ship.hull.and_then(|hull| hull.hit_points).map(|[shield, armour, hull]| v1::HitPoints {
            shield,
            armour,
            hull,
        }),
    }
}
