//! A pilot's session: a [`Connection`] plus what a game needs around it — the character, the session token,
//! a [`Mirror`] of the system kept current from every event, and reconnection with `Resume` after a lost
//! connection, after which the mirror is refreshed from the new snapshot.
//!
//! Like the connection, a pilot runs no task of its own: it reads when the game asks for the next event.

use std::time::Duration;

use orrery_proto::v1::{self, client_envelope::Body as Cmd};
use tokio::time::Instant;

use crate::connection::{ClientOptions, Connection};
use crate::error::ClientError;
use crate::event::Event;
use crate::mirror::{DEFAULT_CHAT_HISTORY, JUMP_RANGE_M, MIN_WARP_M, Mirror};

/// How near [`Pilot::fly_to`] brings the ship: inside jump range with a margin (a warp drops out 1,000 m short,
/// an approach stops about 500 m short).
pub const ARRIVAL_M: f64 = JUMP_RANGE_M - 100.0;

/// How a [`Pilot`] logs in and behaves.
#[derive(Debug, Clone)]
pub struct PilotOptions {
    /// The connection's tunables.
    pub connection: ClientOptions,
    /// The character to fly: the account's character of this name, else its first, else a new one of this
    /// name. `None`: the username.
    pub character_name: Option<String>,
    /// Where a new character starts (a trade hub from `LoggedIn.trade_hubs`, a friend's system); `None` lets
    /// the server choose.
    pub start_system: Option<v1::create_character::StartSystem>,
    /// How many times a reconnect tries `Undock` while the server still holds the old session's ship
    /// (`ALREADY_IN_SPACE`) or the system is moving (`UNAVAILABLE`), a second apart.
    pub undock_tries: u32,
    /// Whether [`Pilot::next_event`] reconnects by itself after a lost connection.
    pub auto_reconnect: bool,
    /// How many local chat lines the mirror keeps.
    pub chat_history: usize,
    /// While the game sends nothing for this long, [`Pilot::next_event`] sends a `Ping`, so that the server's
    /// idle timeout (300 s by default) does not close a quiet pilot's session. `None`: never.
    pub keepalive: Option<Duration>,
}

impl Default for PilotOptions {
    fn default() -> Self {
        PilotOptions {
            connection: ClientOptions::default(),
            character_name: None,
            start_system: None,
            undock_tries: 10,
            auto_reconnect: true,
            chat_history: DEFAULT_CHAT_HISTORY,
            keepalive: Some(Duration::from_secs(60)),
        }
    }
}

/// A logged-in pilot in space, with a mirror of its system.
///
/// ```no_run
/// # async fn demo() -> Result<(), orrery_client::ClientError> {
/// use std::time::Duration;
/// use orrery_client::Pilot;
///
/// let mut pilot = Pilot::start("127.0.0.1:7777", "pilot01", "correct horse").await?;
/// let gate = pilot.mirror().gates().next().map(|gate| gate.id).expect("a system with a stargate");
/// pilot.fly_to(gate, Duration::from_secs(120)).await?;
/// pilot.jump(gate).await?;
/// println!("now in {} with {} ships", pilot.mirror().system_name(), pilot.mirror().ships().count());
/// pilot.logout().await?;
/// # Ok(()) }
/// ```
pub struct Pilot {
    target: String,
    options: PilotOptions,
    username: String,
    password: String,
    session: v1::LoggedIn,
    character: v1::Character,
    connection: Option<Connection>,
    mirror: Mirror,
    /// Set once the server ended the session for good (replaced by another login, shutting down).
    ended: bool,
    reconnects: u64,
    /// When this pilot last sent a command (for the keepalive).
    last_sent: Instant,
}

impl Pilot {
    /// Connects to `target` (`host:port` for TCP, `ws://…` for WebSocket), registers or logs in, picks or
    /// creates the character (see [`PilotOptions::character_name`]) and undocks it.
    pub async fn start(target: &str, username: &str, password: &str) -> Result<Pilot, ClientError> {
        Pilot::start_with(target, username, password, PilotOptions::default()).await
    }

    /// [`Pilot::start`] with explicit options.
    pub async fn start_with(
        target: &str,
        username: &str,
        password: &str,
        options: PilotOptions,
    ) -> Result<Pilot, ClientError> {
        let mut connection = Connection::connect_with(target, options.connection.clone()).await?;
        let session = connection.register_or_login(username, password).await?;
        let name = options.character_name.clone().unwrap_or_else(|| username.to_string());
        let existing = session.characters.iter().find(|c| c.name.eq_ignore_ascii_case(&name));
        let character = match existing.or(session.characters.first()) {
            Some(character) => character.clone(),
            None => connection.create_character_in(&name, options.start_system.clone()).await?,
        };
        let snapshot =
            connection.undock_patiently(character.character_id, options.undock_tries, RETRY_PAUSE, |_| {}).await?;
        let mirror = Mirror::with_chat_history(&snapshot, options.chat_history);
        Ok(Pilot {
            target: target.to_string(),
            options,
            username: username.to_string(),
            password: password.to_string(),
            session,
            character,
            connection: Some(connection),
            mirror,
            ended: false,
            reconnects: 0,
            last_sent: Instant::now(),
        })
    }

    /// The system as this pilot knows it.
    pub fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    /// The character flown.
    pub fn character(&self) -> &v1::Character {
        &self.character
    }

    /// The latest `LoggedIn` (account id, token, characters, trade hubs).
    pub fn session(&self) -> &v1::LoggedIn {
        &self.session
    }

    /// How many times this pilot reconnected.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The connection, for what the pilot does not wrap (`None` between a lost connection and the reconnect).
    /// Envelopes read through it directly bypass the mirror.
    pub fn connection(&mut self) -> Option<&mut Connection> {
        self.connection.as_mut()
    }

    /// The live connection, reconnecting first if it was lost.
    async fn live(&mut self) -> Result<&mut Connection, ClientError> {
        if self.connection.is_none() {
            self.reconnect().await?;
        }
        self.connection.as_mut().ok_or(ClientError::Closed)
    }

    /// Notes a failed call: a lost connection is dropped (the next call reconnects).
    fn check<T>(&mut self, result: Result<T, ClientError>) -> Result<T, ClientError> {
        if result.as_ref().is_err_and(ClientError::is_disconnect) {
            self.connection = None;
        } else {
            self.last_sent = Instant::now();
        }
        result
    }

    /// Approach an object of the system (see [`Connection::approach`]).
    pub async fn approach(&mut self, object_id: u64) -> Result<u32, ClientError> {
        let result = self.live().await?.approach(object_id).await;
        self.check(result)
    }

    /// Approach a point of the system (see [`Connection::approach_point`]).
    pub async fn approach_point(&mut self, point: v1::Vec3) -> Result<u32, ClientError> {
        let result = self.live().await?.approach_point(point).await;
        self.check(result)
    }

    /// Stop the ship (see [`Connection::stop`]).
    pub async fn stop(&mut self) -> Result<u32, ClientError> {
        let result = self.live().await?.stop().await;
        self.check(result)
    }

    /// Warp to a celestial (see [`Connection::warp_to`]).
    pub async fn warp_to(&mut self, object_id: u64, range_m: u32) -> Result<u32, ClientError> {
        let result = self.live().await?.warp_to(object_id, range_m).await;
        self.check(result)
    }

    /// Say something in local chat (see [`Connection::chat`]).
    pub async fn chat(&mut self, text: &str) -> Result<u32, ClientError> {
        let result = self.live().await?.chat(text).await;
        self.check(result)
    }

    /// Jump through a gate in range; the mirror then shows the destination.
    pub async fn jump(&mut self, gate_id: u64) -> Result<&Mirror, ClientError> {
        let result = self.live().await?.jump(gate_id).await;
        let snapshot = self.check(result)?;
        self.mirror.apply_snapshot(&snapshot);
        Ok(&self.mirror)
    }

    /// Round-trip time of a `Ping`.
    pub async fn ping(&mut self) -> Result<Duration, ClientError> {
        let result = self.live().await?.ping().await;
        self.check(result)
    }

    /// The next event, applied to the mirror before it is returned; `Ok(None)` when nothing arrived within
    /// `timeout`. A lost connection is reconnected (with [`PilotOptions::auto_reconnect`]) and reported as
    /// [`Event::Reconnected`]; an error then means the pilot could not get back. While waiting it keeps a quiet
    /// session alive with a `Ping` every [`PilotOptions::keepalive`].
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        self.next_event_until(Instant::now() + timeout).await
    }

    /// [`Pilot::next_event`] with a deadline.
    pub async fn next_event_until(&mut self, deadline: Instant) -> Result<Option<Event>, ClientError> {
        loop {
            if self.ended {
                return Err(ClientError::Closed);
            }
            let keepalive = self.options.keepalive.map(|every| self.last_sent + every);
            let Some(connection) = self.connection.as_mut() else {
                return self.recover(ClientError::Closed).await;
            };
            let wake = keepalive.map_or(deadline, |at| at.min(deadline));
            match connection.next_event_until(wake).await {
                Ok(Some(envelope)) => {
                    self.mirror.apply(&envelope);
                    let event = Event::from(envelope);
                    if event.ends_session() {
                        self.ended = true;
                    }
                    return Ok(Some(event));
                }
                Ok(None) if Instant::now() >= deadline => return Ok(None),
                // Quiet for the keepalive period: a `Ping` (its `Pong` comes back as an event).
                Ok(None) => {
                    let nonce = u64::from(connection.next_request_id());
                    let sent = connection.send(Cmd::Ping(v1::Ping { nonce })).await;
                    if let Err(error) = self.check(sent) {
                        if !error.is_disconnect() {
                            return Err(error);
                        }
                        return self.recover(error).await;
                    }
                }
                Err(error) if error.is_disconnect() => {
                    self.connection = None;
                    return self.recover(error).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn recover(&mut self, lost: ClientError) -> Result<Option<Event>, ClientError> {
        if !self.options.auto_reconnect {
            return Err(lost);
        }
        tracing::debug!(user = %self.username, error = %lost, "connection lost; reconnecting");
        self.reconnect().await?;
        Ok(Some(Event::Reconnected))
    }

    /// Reads events until `done` holds for the mirror, or fails: with [`ClientError::Timeout`] after `timeout`,
    /// with [`ClientError::Server`] when a command of this pilot is refused meanwhile, with
    /// [`ClientError::Closed`] when the server ends the session. Lost connections are reconnected.
    pub async fn wait_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Mirror) -> bool,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + timeout;
        while !done(&self.mirror) {
            match self.next_event_until(deadline).await? {
                Some(Event::Error { request_id, code, reason }) if request_id != 0 => {
                    return Err(ClientError::Server { code, reason });
                }
                Some(event) if event.ends_session() => return Err(ClientError::Closed),
                Some(_) => {}
                None => return Err(ClientError::Timeout { after: timeout }),
            }
        }
        Ok(())
    }

    /// Flies to an object of the system and waits until the ship is at rest within [`ARRIVAL_M`] of it (inside
    /// jump range of a stargate): by warp when it is far, by sub-warp approach when it is nearer than warp
    /// allows.
    pub async fn fly_to(&mut self, object_id: u64, timeout: Duration) -> Result<(), ClientError> {
        let arrived =
            |mirror: &Mirror| mirror.is_idle() && mirror.distance_to(object_id).is_some_and(|d| d <= ARRIVAL_M);
        if arrived(&self.mirror) {
            return Ok(());
        }
        let far = self.mirror.distance_to(object_id).is_none_or(|d| d > MIN_WARP_M + 1_000.0);
        if far {
            self.warp_to(object_id, 0).await?;
        } else {
            self.approach(object_id).await?;
        }
        self.wait_until(timeout, arrived).await
    }

    /// Comes back after a lost connection: a new connection, `Resume` with the session token (the password if
    /// the token is refused), `Undock` of the same character — which takes over the ship where it is if the
    /// server still has it in space — and the mirror refreshed from the snapshot.
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        if let Some(old) = self.connection.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), old.close()).await;
        }
        let mut connection = Connection::connect_with(&self.target, self.options.connection.clone()).await?;
        let token = self.session.token.clone();
        let (session, _path) = connection.resume_or_login(Some(&token), &self.username, &self.password).await?;
        let snapshot = connection
            .undock_patiently(self.character.character_id, self.options.undock_tries, RETRY_PAUSE, |_| {})
            .await?;
        self.session = session;
        self.mirror.apply_snapshot(&snapshot);
        self.connection = Some(connection);
        self.reconnects += 1;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Closes the socket without `Logout`, as a crash or a lost network would: the server takes the ship out of
    /// space within a tick or so, and keeps the token valid for [`Pilot::reconnect`]. For tests and for a game
    /// that goes offline on purpose.
    pub async fn drop_connection(&mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), connection.close()).await;
        }
    }

    /// `Logout` (the ship is stored, the token deleted) and close.
    pub async fn logout(mut self) -> Result<(), ClientError> {
        let connection = self.live().await?;
        connection.logout().await?;
        if let Some(connection) = self.connection.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), connection.close()).await;
        }
        Ok(())
    }
}

/// Pause between `Undock` tries while the server still holds the ship of a lost session.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
