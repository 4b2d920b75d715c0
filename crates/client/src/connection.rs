//! One connection to an orrery proxy over TCP or WebSocket, with one API for both.
//!
//! The connection owns its socket and reads only when asked (`request`, `wait_reply`, `next_event`): there is
//! no background task per connection, which keeps ten thousand connections in one process cheap. Envelopes that
//! arrive while the caller waits for a particular answer are kept in a bounded queue and handed out by
//! [`Connection::next_event`] in arrival order, so nothing the server sends is lost unless the caller lets more
//! than [`ClientOptions::max_queued`] envelopes pile up (then the oldest are dropped and counted, see
//! [`Connection::dropped_events`]).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use orrery_proto::frame::{self, FrameError};
use orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;
use crate::event::Event;

/// Tunables of one connection. The defaults suit both an interactive tool and a load generator.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for the TCP connection (and the WebSocket handshake).
    pub connect_timeout: Duration,
    /// How long the convenience methods (`register_or_login`, `undock`, …) wait for their answer.
    pub request_timeout: Duration,
    /// How long one write may take before the connection is declared dead (a server that stopped reading).
    pub write_timeout: Duration,
    /// Largest envelope accepted from the server, in bytes. Snapshots of crowded systems can exceed the
    /// 64 KiB the server accepts from clients, so the default is generous.
    pub max_frame: usize,
    /// How many envelopes may wait in the queue of unread events before the oldest are dropped.
    pub max_queued: usize,
    /// Initial capacity of the read buffer (TCP) or the WebSocket read buffer, in bytes: small by default so
    /// that thousands of idle connections stay light; it grows for larger frames.
    pub read_buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_frame: 16 * 1024 * 1024,
            max_queued: 1024,
            read_buffer: 4 * 1024,
        }
    }
}

/// How [`Connection::resume_or_login`] got in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginPath {
    /// The token was accepted.
    Resumed,
    /// The token was refused (`BAD_CREDENTIALS`) and the password worked.
    ResumeRefused,
    /// There was no token: `Register`, or `Login` when the name was taken.
    Password,
}

/// A TCP connection taken apart by [`Connection::into_tcp_parts`].
#[derive(Debug)]
pub struct TcpParts {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes received but not yet decoded (the start of the next frames).
    pub unread: BytesMut,
    /// Envelopes received and decoded while waiting for answers, not yet handed out.
    pub queued: VecDeque<v1::ServerEnvelope>,
}

/// The two transports. Boxed WebSocket because its state is much larger than a TCP stream's.
enum Transport {
    Tcp { stream: TcpStream, buffer: BytesMut },
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

/// One connection to an orrery proxy: the low layer, for load generators and tools that want every envelope.
/// Games usually want [`crate::Pilot`], which keeps a [`crate::Mirror`] and reconnects.
///
/// Request ids are allocated by the connection, starting at 1 and never 0 (0 marks unsolicited messages).
/// Commands with an answer (`Register`, `Login`, `Resume`, `CreateCharacter`, `Undock`, `Jump`, `Ping`,
/// `Logout`) are methods that wait for it; commands without one on success (`Approach`, `Stop`, `WarpTo`,
/// `Chat`) return their request id at once, and a refusal arrives later as an `Error` event with that id.
///
/// ```no_run
/// # async fn demo() -> Result<(), orrery_client::ClientError> {
/// use orrery_client::Connection;
/// let mut client = Connection::connect("127.0.0.1:7777").await?;
/// let session = client.register_or_login("pilot01", "correct horse").await?;
/// let character = match session.characters.first() {
///     Some(character) => character.clone(),
///     None => client.create_character("Pilot One").await?,
/// };
/// let snapshot = client.undock(character.character_id).await?;
/// println!("in {} with {} ships", snapshot.system_name, snapshot.ships.len());
/// client.logout().await?;
/// # Ok(()) }
/// ```
pub struct Connection {
    transport: Transport,
    options: ClientOptions,
    queue: VecDeque<v1::ServerEnvelope>,
    next_request_id: u32,
    dropped: u64,
    /// Set after a write timed out half-way: the stream may hold half a frame, so it must not be used again.
    broken: bool,
}

impl Connection {
    /// Connects to `target`: a `ws://` (or `wss://`, if the server offers it through a front) URL selects
    /// WebSocket, anything else is a TCP `host:port`.
    pub async fn connect(target: &str) -> Result<Connection, ClientError> {
        Connection::connect_with(target, ClientOptions::default()).await
    }

    /// [`Connection::connect`] with explicit options.
    pub async fn connect_with(target: &str, options: ClientOptions) -> Result<Connection, ClientError> {
        if is_websocket_url(target) {
            Connection::connect_ws_with(target, options).await
        } else {
            Connection::connect_tcp_with(target, options).await
        }
    }

    /// Connects over TCP (length-prefixed frames).
    pub async fn connect_tcp(addr: impl ToSocketAddrs) -> Result<Connection, ClientError> {
        Connection::connect_tcp_with(addr, ClientOptions::default()).await
    }

    /// [`Connection::connect_tcp`] with explicit options.
    pub async fn connect_tcp_with(addr: impl ToSocketAddrs, options: ClientOptions) -> Result<Connection, ClientError> {
        let stream = tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout { after: options.connect_timeout })??;
        // Commands are tiny and latency is what the bots measure: do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        let buffer = BytesMut::with_capacity(options.read_buffer);
        Ok(Connection::new(Transport::Tcp { stream, buffer }, options))
    }

    /// Wraps a TCP stream the caller connected itself (e.g. bound to a chosen source address, as the chat
    /// benchmark does to spread thousands of connections over loopback addresses).
    pub fn from_tcp(stream: TcpStream, options: ClientOptions) -> Result<Connection, ClientError> {
        stream.set_nodelay(true)?;
        let buffer = BytesMut::with_capacity(options.read_buffer);
        Ok(Connection::new(Transport::Tcp { stream, buffer }, options))
    }

    /// Gives the TCP stream back with the bytes already read from it but not yet handed out, for a caller
    /// that reads the rest itself (the chat benchmark's zero-copy reader). Envelopes still in the queue are
    /// returned too, in arrival order. A WebSocket connection is handed back unchanged in `Err`.
    pub fn into_tcp_parts(self) -> Result<TcpParts, Box<Connection>> {
        match self.transport {
            Transport::Tcp { stream, buffer } => Ok(TcpParts { stream, unread: buffer, queued: self.queue }),
            transport @ Transport::Ws(_) => Err(Box::new(Connection { transport, ..self })),
        }
    }

    /// Connects over WebSocket (`ws://host:port/`; one binary message per envelope).
    pub async fn connect_ws(url: &str) -> Result<Connection, ClientError> {
        Connection::connect_ws_with(url, ClientOptions::default()).await
    }

    /// [`Connection::connect_ws`] with explicit options.
    pub async fn connect_ws_with(url: &str, options: ClientOptions) -> Result<Connection, ClientError> {
        let config = WebSocketConfig::default()
            .read_buffer_size(options.read_buffer)
            // Write each message through at once: commands are small and latency matters.
            .write_buffer_size(0)
            .max_message_size(Some(options.max_frame))
            .max_frame_size(Some(options.max_frame));
        let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let (stream, _response) = tokio::time::timeout(options.connect_timeout, connecting)
            .await
            .map_err(|_| ClientError::Timeout { after: options.connect_timeout })??;
        Ok(Connection::new(Transport::Ws(Box::new(stream)), options))
    }

    fn new(transport: Transport, options: ClientOptions) -> Connection {
        Connection { transport, options, queue: VecDeque::new(), next_request_id: 1, dropped: 0, broken: false }
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether this client speaks WebSocket (else TCP).
    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::Ws(_))
    }

    /// How many unread envelopes were dropped because the queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.dropped
    }

    /// How many envelopes wait in the queue (received while waiting for an answer, not yet taken by
    /// [`Connection::next_event`]).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Sends a command with a fresh request id and returns that id, without waiting for an answer. Use it for
    /// commands whose effect shows in later deltas (movement, chat); an error answer, if any, arrives through
    /// [`Connection::next_event`] with this id.
    pub async fn send(&mut self, body: Cmd) -> Result<u32, ClientError> {
        let request_id = self.allocate_request_id();
        self.send_envelope(&v1::ClientEnvelope { request_id, body: Some(body) }).await?;
        Ok(request_id)
    }

    /// Sends an envelope exactly as given (its request id included). For tests and tools that need control
    /// over ids; games use [`Connection::send`].
    pub async fn send_envelope(&mut self, envelope: &v1::ClientEnvelope) -> Result<(), ClientError> {
        if self.broken {
            return Err(ClientError::Closed);
        }
        let after = self.options.write_timeout;
        let result = match &mut self.transport {
            Transport::Tcp { stream, .. } => {
                let framed = frame::encode(envelope);
                tokio::time::timeout(after, stream.write_all(&framed)).await.map(|r| r.map_err(ClientError::from))
            }
            Transport::Ws(stream) => {
                let payload = Bytes::from(envelope.encode_to_vec());
                tokio::time::timeout(after, stream.send(WsMessage::Binary(payload)))
                    .await
                    .map(|r| r.map_err(ClientError::from))
            }
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                self.broken = true;
                Err(error)
            }
            Err(_) => {
                self.broken = true;
                Err(ClientError::Timeout { after })
            }
        }
    }

    /// Sends a command and waits up to `timeout` for the envelope answering it. An `Error` answer becomes
    /// [`ClientError::Server`]; any other answer is returned whole. Envelopes that arrive meanwhile are queued
    /// for [`Connection::next_event`].
    pub async fn request(&mut self, body: Cmd, timeout: Duration) -> Result<v1::ServerEnvelope, ClientError> {
        let request_id = self.send(body).await?;
        self.wait_reply(request_id, timeout).await
    }

    /// Waits up to `timeout` for the answer to an earlier [`Connection::send`] (looking in the queue first), with
    /// the same rules as [`Connection::request`].
    pub async fn wait_reply(&mut self, request_id: u32, timeout: Duration) -> Result<v1::ServerEnvelope, ClientError> {
        if let Some(position) = self.queue.iter().position(|e| e.request_id == request_id)
            && let Some(envelope) = self.queue.remove(position)
        {
            return answer(envelope);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let envelope = match tokio::time::timeout_at(deadline, self.read_envelope()).await {
                Ok(result) => result?,
                Err(_) => return Err(ClientError::Timeout { after: timeout }),
            };
            if envelope.request_id == request_id {
                return answer(envelope);
            }
            self.enqueue(envelope);
        }
    }

    /// The next envelope not yet handed out — queued ones first, then from the socket — waiting at most
    /// `timeout`. `Ok(None)` means nothing arrived in time; an error means the connection is unusable.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Option<v1::ServerEnvelope>, ClientError> {
        self.next_event_until(Instant::now() + timeout).await
    }

    /// [`Connection::next_event`] with a deadline instead of a timeout (what an event loop with timers wants).
    /// Cancel-safe: dropping the future loses no data.
    pub async fn next_event_until(&mut self, deadline: Instant) -> Result<Option<v1::ServerEnvelope>, ClientError> {
        if let Some(envelope) = self.queue.pop_front() {
            return Ok(Some(envelope));
        }
        match tokio::time::timeout_at(deadline, self.read_envelope()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// `Register`, falling back to `Login` when the name is taken: an idempotent way in for scripted users.
    pub async fn register_or_login(&mut self, username: &str, password: &str) -> Result<v1::LoggedIn, ClientError> {
        let register = Cmd::Register(v1::Register { username: username.into(), password: password.into() });
        match self.request(register, self.options.request_timeout).await {
            Ok(envelope) => logged_in(envelope),
            Err(ClientError::Server { code: v1::ErrorCode::NameTaken, .. }) => self.login(username, password).await,
            Err(error) => Err(error),
        }
    }

    /// `Login` with a username and password.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<v1::LoggedIn, ClientError> {
        let login = Cmd::Login(v1::Login { username: username.into(), password: password.into() });
        logged_in(self.request(login, self.options.request_timeout).await?)
    }

    /// `Resume` a session with the token of an earlier `LoggedIn` (after a dropped connection or a restart).
    pub async fn resume(&mut self, token: &str) -> Result<v1::LoggedIn, ClientError> {
        let resume = Cmd::Resume(v1::Resume { token: token.into() });
        logged_in(self.request(resume, self.options.request_timeout).await?)
    }

    /// `CreateCharacter`; returns the new character (its ship in a starting system chosen by the server,
    /// docked).
    pub async fn create_character(&mut self, name: &str) -> Result<v1::Character, ClientError> {
        self.create_character_in(name, None).await
    }

    /// `CreateCharacter` with a chosen start system (by name or id: a meeting point, such as one of
    /// `LoggedIn.trade_hubs`), or `None` to let the server choose; returns the new character, docked there.
    pub async fn create_character_in(
        &mut self,
        name: &str,
        start_system: Option<v1::create_character::StartSystem>,
    ) -> Result<v1::Character, ClientError> {
        let create = Cmd::CreateCharacter(v1::CreateCharacter { name: name.into(), start_system });
        let envelope = self.request(create, self.options.request_timeout).await?;
        match envelope.body {
            Some(Msg::CharacterCreated(v1::CharacterCreated { character: Some(character) })) => Ok(character),
            other => Err(unexpected("CharacterCreated", &other)),
        }
    }

    /// `Undock` a character; returns the snapshot of the system its ship is in. Deltas follow through
    /// [`Connection::next_event`]; skip those at or below the snapshot's tick (see [`crate::delta_is_new`], or let a [`crate::Mirror`] do it).
    pub async fn undock(&mut self, character_id: u64) -> Result<v1::SystemSnapshot, ClientError> {
        let undock = Cmd::Undock(v1::Undock { character_id });
        let request_id = self.send(undock).await?;
        // A full system answers `Queued` (again whenever the place in line changes) before the snapshot.
        loop {
            let envelope = self.wait_reply(request_id, self.options.request_timeout).await?;
            match envelope.body {
                Some(Msg::Snapshot(snapshot)) => return Ok(snapshot),
                Some(Msg::Queued(_)) => continue,
                other => return Err(unexpected("SystemSnapshot", &other)),
            }
        }
    }

    /// `Register` a new account (and log in): refused with `NAME_TAKEN` when the name exists.
    pub async fn register(&mut self, username: &str, password: &str) -> Result<v1::LoggedIn, ClientError> {
        let register = Cmd::Register(v1::Register { username: username.into(), password: password.into() });
        logged_in(self.request(register, self.options.request_timeout).await?)
    }

    /// The way back in after a lost connection: `Resume` with `token` when there is one, falling back to
    /// `Login` when the server no longer knows the token (`BAD_CREDENTIALS`: expired, logged out, or a server
    /// that lost it); without a token, [`Connection::register_or_login`]. Says which way it went.
    pub async fn resume_or_login(
        &mut self,
        token: Option<&str>,
        username: &str,
        password: &str,
    ) -> Result<(v1::LoggedIn, LoginPath), ClientError> {
        let Some(token) = token else {
            return Ok((self.register_or_login(username, password).await?, LoginPath::Password));
        };
        match self.resume(token).await {
            Ok(session) => Ok((session, LoginPath::Resumed)),
            Err(ClientError::Server { code: v1::ErrorCode::BadCredentials, .. }) => {
                Ok((self.login(username, password).await?, LoginPath::ResumeRefused))
            }
            Err(error) => Err(error),
        }
    }

    /// [`Connection::undock`], tried again up to `tries` times, `pause` apart, while the server answers
    /// `ALREADY_IN_SPACE` or `UNAVAILABLE` (right after a reconnect the server may not yet have noticed that the
    /// old connection died, or the system may be moving between nodes). `on_retry` sees each such refusal
    /// (a load generator counts them).
    pub async fn undock_patiently(
        &mut self,
        character_id: u64,
        tries: u32,
        pause: Duration,
        mut on_retry: impl FnMut(v1::ErrorCode),
    ) -> Result<v1::SystemSnapshot, ClientError> {
        let mut tried = 0;
        loop {
            match self.undock(character_id).await {
                Err(error) => match error.server_code() {
                    Some(code @ (v1::ErrorCode::AlreadyInSpace | v1::ErrorCode::Unavailable)) if tried + 1 < tries => {
                        on_retry(code);
                        tried += 1;
                        tokio::time::sleep(pause).await;
                    }
                    _ => return Err(error),
                },
                answer => return answer,
            }
        }
    }

    /// `Approach` an object of the current system (ship, star, planet or stargate id from the snapshot): fly
    /// towards it at sub-warp speed and stop about 500 m from it. No answer on success (the own ship's motion
    /// shows in the deltas); returns the request id a refusal would carry.
    pub async fn approach(&mut self, object_id: u64) -> Result<u32, ClientError> {
        self.send(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::ObjectId(object_id)) })).await
    }

    /// `Approach` a point of the current system (metres) and stop within about 50 m of it; as
    /// [`Connection::approach`].
    pub async fn approach_point(&mut self, point: v1::Vec3) -> Result<u32, ClientError> {
        self.send(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(point)) })).await
    }

    /// `Stop` the ship where it is; as [`Connection::approach`].
    pub async fn stop(&mut self) -> Result<u32, ClientError> {
        self.send(Cmd::Stop(v1::Stop {})).await
    }

    /// `WarpTo` a celestial or stargate of the current system, dropping out `range_m` metres short of it (0:
    /// the server's default, 1,000 m, inside jump range of a gate). As [`Connection::approach`]; the server
    /// refuses warps shorter than 150 km with `INVALID_ARGUMENT` ("approach instead").
    pub async fn warp_to(&mut self, object_id: u64, range_m: u32) -> Result<u32, ClientError> {
        self.send(Cmd::WarpTo(v1::WarpTo { object_id, range_m })).await
    }

    /// `Orbit` an object (a celestial or a ship) at `radius_m` metres; as [`Connection::approach`].
    pub async fn orbit(&mut self, object_id: u64, radius_m: u32) -> Result<u32, ClientError> {
        self.send(Cmd::Orbit(v1::Orbit { object_id, radius_m })).await
    }

    /// `Lock` a ship within lock range; the lock completes later (a delta's fight events say when). Refusals
    /// (`OUT_OF_RANGE`, too many locks, …) arrive as error events with the returned id.
    pub async fn lock(&mut self, target_id: u64) -> Result<u32, ClientError> {
        self.send(Cmd::Lock(v1::Lock { target_id })).await
    }

    /// `Unlock` a ship (modules active on it switch off); as [`Connection::lock`].
    pub async fn unlock(&mut self, target_id: u64) -> Result<u32, ClientError> {
        self.send(Cmd::Unlock(v1::Unlock { target_id })).await
    }

    /// `ActivateModule`: switch the ship type's module number `module` on against a locked ship; as
    /// [`Connection::lock`].
    pub async fn activate_module(&mut self, module: u32, target_id: u64) -> Result<u32, ClientError> {
        self.send(Cmd::ActivateModule(v1::ActivateModule { module, target_id })).await
    }

    /// `DeactivateModule`: switch a module off (its current cycle still counts); as [`Connection::lock`].
    pub async fn deactivate_module(&mut self, module: u32) -> Result<u32, ClientError> {
        self.send(Cmd::DeactivateModule(v1::DeactivateModule { module })).await
    }

    /// `Chat` in the local channel of the current system (1–500 bytes). No answer on success: the line comes
    /// back in a delta, to everyone in the system and to the sender.
    pub async fn chat(&mut self, text: &str) -> Result<u32, ClientError> {
        self.send(Cmd::Chat(v1::Chat { text: text.into() })).await
    }

    /// `Jump` through a stargate within 2,500 m; returns the destination's snapshot (deltas of the old system
    /// stop, those of the new one follow). Refusals: `OUT_OF_RANGE`, `SYSTEM_FULL` (then an unsolicited
    /// snapshot of the system the ship stays in follows), `NOT_IN_SYSTEM`.
    pub async fn jump(&mut self, gate_id: u64) -> Result<v1::SystemSnapshot, ClientError> {
        let envelope = self.request(Cmd::Jump(v1::Jump { gate_id }), self.options.request_timeout).await?;
        match envelope.body {
            Some(Msg::Snapshot(snapshot)) => Ok(snapshot),
            other => Err(unexpected("SystemSnapshot", &other)),
        }
    }

    /// The next event (see [`Connection::next_event`]) in its typed form.
    pub async fn next_typed_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        Ok(self.next_event(timeout).await?.map(Event::from))
    }

    /// `Ping` (with the request id as nonce); returns the round-trip time.
    pub async fn ping(&mut self) -> Result<Duration, ClientError> {
        self.ping_with(u64::from(self.next_request_id)).await
    }

    /// `Ping` with a nonce of the caller's (e.g. its clock); returns the round-trip time once the `Pong` echoes
    /// it.
    pub async fn ping_with(&mut self, nonce: u64) -> Result<Duration, ClientError> {
        let start = Instant::now();
        let envelope = self.request(Cmd::Ping(v1::Ping { nonce }), self.options.request_timeout).await?;
        match envelope.body {
            Some(Msg::Pong(pong)) if pong.nonce == nonce => Ok(start.elapsed()),
            other => Err(unexpected("Pong", &other)),
        }
    }

    /// `Logout` and wait for its `Ok` (the ship is then persisted and the server closes the connection).
    pub async fn logout(&mut self) -> Result<(), ClientError> {
        let envelope = self.request(Cmd::Logout(v1::Logout {}), self.options.request_timeout).await?;
        match envelope.body {
            Some(Msg::Ok(_)) => Ok(()),
            other => Err(unexpected("Ok", &other)),
        }
    }

    /// Closes the connection from this side (TCP shutdown or a WebSocket close frame). The server treats a
    /// close without `Logout` as a dropped connection.
    pub async fn close(self) -> Result<(), ClientError> {
        match self.transport {
            Transport::Tcp { mut stream, .. } => {
                stream.shutdown().await?;
                Ok(())
            }
            Transport::Ws(mut stream) => match WebSocketStream::close(&mut stream, None).await {
                Ok(()) => Ok(()),
                Err(error) => match ClientError::from(error) {
                    ClientError::Closed => Ok(()),
                    other => Err(other),
                },
            },
        }
    }

    /// The request id the next command gets (ids count up from 1 and wrap to 1, never 0).
    pub fn next_request_id(&self) -> u32 {
        self.next_request_id
    }

    /// Continues the numbering at `id` (0 counts as 1): for a tool that keeps one numbering across reconnects
    /// in its logs, or replays recorded exchanges. Ids still awaiting answers must not be reused.
    pub fn set_next_request_id(&mut self, id: u32) {
        self.next_request_id = id.max(1);
    }

    fn allocate_request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.checked_add(1).unwrap_or(1);
        id
    }

    fn enqueue(&mut self, envelope: v1::ServerEnvelope) {
        if self.queue.len() >= self.options.max_queued.max(1) {
            self.queue.pop_front();
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::debug!(max = self.options.max_queued, "event queue full: dropping the oldest envelopes");
            }
        }
        self.queue.push_back(envelope);
    }

    /// Reads one envelope from the socket. Cancel-safe: the only await points are reads into the client's own
    /// buffer (TCP) or the WebSocket stream's own state.
    async fn read_envelope(&mut self) -> Result<v1::ServerEnvelope, ClientError> {
        if self.broken {
            return Err(ClientError::Closed);
        }
        let max = self.options.max_frame;
        let result = match &mut self.transport {
            Transport::Tcp { stream, buffer } => read_tcp(stream, buffer, max, self.options.read_buffer).await,
            Transport::Ws(stream) => read_ws(stream, max).await,
        };
        if result.as_ref().is_err_and(ClientError::is_disconnect) {
            self.broken = true;
        }
        result
    }
}

async fn read_tcp(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    max: usize,
    chunk: usize,
) -> Result<v1::ServerEnvelope, ClientError> {
    loop {
        if let Some(payload) = frame::split(buffer, max)? {
            return Ok(frame::decode(&payload)?);
        }
        if buffer.capacity() - buffer.len() < 512 {
            buffer.reserve(chunk.max(512));
        }
        if stream.read_buf(buffer).await? == 0 {
            return Err(if buffer.is_empty() {
                ClientError::Closed
            } else {
                ClientError::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed mid-frame"))
            });
        }
    }
}

async fn read_ws(
    stream: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
    max: usize,
) -> Result<v1::ServerEnvelope, ClientError> {
    loop {
        match stream.next().await {
            None => return Err(ClientError::Closed),
            Some(Err(error)) => return Err(error.into()),
            Some(Ok(WsMessage::Binary(payload))) => {
                if payload.len() > max {
                    return Err(FrameError::TooLarge { len: payload.len(), max }.into());
                }
                return Ok(frame::decode(&payload)?);
            }
            Some(Ok(WsMessage::Close(_))) => return Err(ClientError::Closed),
            Some(Ok(WsMessage::Text(_))) => {
                return Err(FrameError::Decode("a text message (envelopes are binary messages)".into()).into());
            }
            // Pings are answered by tungstenite itself; pongs and raw frames carry nothing for us.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
        }
    }
}

/// Whether a connect target names a WebSocket URL rather than a TCP address.
pub fn is_websocket_url(target: &str) -> bool {
    let has_prefix = |prefix: &str| {
        target.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    has_prefix("ws://") || has_prefix("wss://")
}

/// Turns an `Error` answer into [`ClientError::Server`].
fn answer(envelope: v1::ServerEnvelope) -> Result<v1::ServerEnvelope, ClientError> {
    match envelope.body {
        Some(Msg::Error(error)) => Err(server_error(&error)),
        _ => Ok(envelope),
    }
}

/// The typed form of an `Error` message.
pub(crate) fn server_error(error: &v1::Error) -> ClientError {
    ClientError::Server {
        code: v1::ErrorCode::try_from(error.code).unwrap_or(v1::ErrorCode::Unspecified),
        reason: error.reason.clone(),
    }
}

fn logged_in(envelope: v1::ServerEnvelope) -> Result<v1::LoggedIn, ClientError> {
    match envelope.body {
        Some(Msg::LoggedIn(session)) => Ok(session),
        other => Err(unexpected("LoggedIn", &other)),
    }
}

fn unexpected(expected: &'static str, got: &Option<Msg>) -> ClientError {
    ClientError::UnexpectedReply { expected, got: body_name(got) }
}

/// The short name of a server envelope's body, for logs and errors ("snapshot", "delta", …).
pub fn body_name(body: &Option<Msg>) -> &'static str {
    match body {
        None => "empty",
        Some(Msg::Error(_)) => "error",
        Some(Msg::LoggedIn(_)) => "logged_in",
        Some(Msg::CharacterCreated(_)) => "character_created",
        Some(Msg::Snapshot(_)) => "snapshot",
        Some(Msg::Delta(_)) => "delta",
        Some(Msg::Pong(_)) => "pong",
        Some(Msg::Ok(_)) => "ok",
        Some(Msg::Notice(_)) => "notice",
        Some(Msg::Queued(_)) => "queued",
        Some(Msg::Respawned(_)) => "respawned",
        Some(Msg::OrderPlaced(_)) => "order_placed",
        Some(Msg::MarketDepth(_)) => "market_depth",
        Some(Msg::MyOrders(_)) => "my_orders",
        Some(Msg::Wallet(_)) => "wallet",
        Some(Msg::Transactions(_)) => "transactions",
        Some(Msg::MarketHistory(_)) => "market_history",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_are_recognised_case_insensitively() {
        assert!(is_websocket_url("ws://127.0.0.1:7778/"));
        assert!(is_websocket_url("WS://host:1"));
        assert!(is_websocket_url("wss://host/"));
        assert!(!is_websocket_url("127.0.0.1:7777"));
        assert!(!is_websocket_url("ws"));
        assert!(!is_websocket_url("localhost:80"));
    }

    #[test]
    fn unknown_error_codes_become_unspecified() {
        let error = server_error(&v1::Error { code: 9999, reason: "future".into() });
        assert_eq!(error.server_code(), Some(v1::ErrorCode::Unspecified));
    }
}
