//! One bot's life: connect, log in, undock, fly (the pilot decides, this module sends and receives), and on a
//! lost connection back off, reconnect, resume and undock again, until the run's deadline; then log out.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use orrery_proto::v1::{self, ErrorCode, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use orrery_client::{ClientError, Connection, LoginPath, body_name};

use crate::config::BotsConfig;
use crate::fight::{Ended, Fighter};
use crate::pilot::Pilot;
use crate::stats::Shared;

/// First pause after a failed connect or a lost connection; doubled on each failure up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// `Undock` refused with a retryable code (the server has not yet noticed the old connection died, or the
/// system is moving) is tried this many times, a second apart, before reconnecting.
const UNDOCK_TRIES: u32 = 10;
/// At most this many commands per wake-up: a bound on the loop, far above what a pilot asks for.
const MAX_INTENTS_PER_WAKE: usize = 4;

/// How an attempt to get into space failed.
enum Failure {
    /// Worth another try after a pause (the server is down or restarting, the system is busy).
    Retry(ClientError),
    /// Pointless to retry (wrong password for an existing account, a name the server refuses).
    Fatal(ClientError),
}

/// How a session in space ended.
enum End {
    /// The run is over (logged out).
    Finished,
    /// The connection was lost.
    Lost(ClientError),
}

pub(crate) struct Bot {
    index: usize,
    config: Arc<BotsConfig>,
    shared: Arc<Shared>,
    username: String,
    token: Option<String>,
    character_id: Option<u64>,
    reached_space: bool,
    pilot: Pilot,
}

impl Bot {
    pub fn new(index: usize, config: Arc<BotsConfig>, shared: Arc<Shared>) -> Bot {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(index as u64);
        let role = config.scenario.role_of(index);
        let username = config.username(index);
        let pilot = Pilot::new(role, rng, config.hub.clone(), username.clone());
        Bot { index, config, shared, username, token: None, character_id: None, reached_space: false, pilot }
    }

    /// Runs until `deadline` (plus the logout grace). `ramp` bounds how many bots connect at once.
    pub async fn run(mut self, ramp: Arc<Semaphore>, deadline: Instant) {
        let mut backoff = INITIAL_BACKOFF;
        // True while the bot has no session and keeps failing to get one; still true at the deadline means
        // "could not connect after retries", one error.
        let mut stranded = false;
        while Instant::now() < deadline {
            let attempt = tokio::time::timeout_at(deadline, async {
                let _permit = ramp.acquire().await;
                self.establish().await
            })
            .await;
            match attempt {
                Err(_) => {
                    stranded = true;
                    break;
                }
                Ok(Ok((client, snapshot))) => {
                    backoff = INITIAL_BACKOFF;
                    stranded = false;
                    match self.fly(client, snapshot, deadline).await {
                        End::Finished => break,
                        End::Lost(error) => {
                            tracing::debug!(bot = self.index, %error, "connection lost; reconnecting");
                            self.shared.disconnects.fetch_add(1, Relaxed);
                            stranded = true;
                        }
                    }
                }
                Ok(Err(Failure::Fatal(error))) => {
                    // Usually the same cause for every bot (a wrong password for existing accounts): say it once.
                    if !self.shared.fatal_reported.swap(true, Relaxed) {
                        tracing::warn!(bot = self.index, user = %self.username, %error, "bot gives up (further ones: debug)");
                    } else {
                        tracing::debug!(bot = self.index, user = %self.username, %error, "bot gives up");
                    }
                    if error.server_code().is_none() {
                        self.shared.errors.fetch_add(1, Relaxed);
                    }
                    return;
                }
                Ok(Err(Failure::Retry(error))) => {
                    tracing::debug!(bot = self.index, %error, ?backoff, "could not get into space; retrying");
                    stranded = true;
                }
            }
            tokio::time::sleep_until((Instant::now() + backoff).min(deadline)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        if stranded {
            tracing::debug!(bot = self.index, "no session at the end of the run");
            self.shared.errors.fetch_add(1, Relaxed);
        }
    }

    /// Connect, log in (resume when there is a token), find or create the character, undock.
    async fn establish(&mut self) -> Result<(Connection, v1::SystemSnapshot), Failure> {
        let mut client =
            Connection::connect_with(&self.config.connect, self.config.client.clone()).await.map_err(Failure::Retry)?;
        let session = self.log_in(&mut client).await?;
        self.token = Some(session.token.clone());
        let character_id = match self.character_id {
            Some(id) => id,
            None => {
                let existing =
                    session.characters.iter().find(|c| c.name == self.username).or(session.characters.first());
                match existing {
                    Some(character) => character.character_id,
                    None => {
                        let start = self.start_system(&session);
                        client
                            .create_character_in(&self.username, start)
                            .await
                            .map_err(|e| self.classify(e))?
                            .character_id
                    }
                }
            }
        };
        self.character_id = Some(character_id);
        let shared = &self.shared;
        let undocked = client
            .undock_patiently(character_id, UNDOCK_TRIES, Duration::from_secs(1), |code| {
                shared.count_error(code, false);
            })
            .await;
        match undocked {
            Ok(snapshot) => Ok((client, snapshot)),
            Err(error) => Err(self.classify(error)),
        }
    }

    /// Where a new character starts: for the fight, the fight's system (the hub), except the observer (the first
    /// bot of several), which starts in another trade hub (a quiet system); for the other scenarios, where the
    /// server puts it.
    fn start_system(&self, session: &v1::LoggedIn) -> Option<v1::create_character::StartSystem> {
        use v1::create_character::StartSystem;
        if self.config.scenario != crate::Scenario::Fight {
            return None;
        }
        let fight = self.config.hub.as_ref()?.hub();
        if self.observer() {
            let quiet = session.trade_hubs.iter().find(|hub| hub.system_id != fight)?;
            return Some(StartSystem::StartSystemId(quiet.system_id));
        }
        Some(StartSystem::StartSystemId(fight))
    }

    /// The fight's quiet-system observer: the first bot, when there are several.
    fn observer(&self) -> bool {
        self.index == 0 && self.config.count > 1
    }

    async fn log_in(&mut self, client: &mut Connection) -> Result<v1::LoggedIn, Failure> {
        let token = self.token.as_deref();
        match client.resume_or_login(token, &self.username, &self.config.password).await {
            Ok((session, path)) => {
                // The token died with the server's memory of it and the password was needed: counted, as a
                // refusal the run survived.
                if path == LoginPath::ResumeRefused {
                    self.shared.count_error(ErrorCode::BadCredentials, false);
                }
                Ok(session)
            }
            Err(error) => Err(self.classify(error)),
        }
    }

    /// Sorts a failure to get into space into retry or give up, counting server errors by code.
    fn classify(&self, error: ClientError) -> Failure {
        match error.server_code() {
            Some(
                code @ (ErrorCode::Unavailable
                | ErrorCode::ShuttingDown
                | ErrorCode::AlreadyInSpace
                | ErrorCode::RateLimited
                | ErrorCode::Internal),
            ) => {
                self.shared.count_error(code, false);
                Failure::Retry(error)
            }
            Some(code) => {
                self.shared.count_error(code, true);
                Failure::Fatal(error)
            }
            None if matches!(error, ClientError::UnexpectedReply { .. }) => Failure::Fatal(error),
            None => Failure::Retry(error),
        }
    }

    /// In space until the deadline or a lost connection.
    async fn fly(&mut self, mut client: Connection, snapshot: v1::SystemSnapshot, deadline: Instant) -> End {
        if !self.reached_space {
            self.reached_space = true;
            self.shared.connected.fetch_add(1, Relaxed);
        }
        self.shared.in_space.fetch_add(1, Relaxed);
        let end = if self.config.scenario == crate::Scenario::Fight {
            self.fight(&mut client, snapshot, deadline).await
        } else {
            self.fly_session(&mut client, snapshot, deadline).await
        };
        self.shared.in_space.fetch_sub(1, Relaxed);
        self.shared.absorb(&mut self.pilot.tally);
        if matches!(end, End::Finished) {
            self.leave(client).await;
        }
        end
    }

    async fn fly_session(&mut self, client: &mut Connection, snapshot: v1::SystemSnapshot, deadline: Instant) -> End {
        let character_id = self.character_id.unwrap_or_default();
        self.pilot.enter(&snapshot, character_id, Instant::now());
        loop {
            let now = Instant::now();
            if now >= deadline {
                return End::Finished;
            }
            for _ in 0..MAX_INTENTS_PER_WAKE {
                let Some(intent) = self.pilot.poll(now) else { break };
                match client.send(intent.body()).await {
                    Ok(request_id) => self.pilot.sent(&intent, request_id, now),
                    Err(error) => return End::Lost(error),
                }
            }
            self.shared.absorb(&mut self.pilot.tally);
            let wake = self.pilot.next_wake(now).min(deadline);
            match client.next_event_until(wake).await {
                Ok(Some(envelope)) => self.handle(envelope, Instant::now()),
                Ok(None) => {}
                Err(error) => return End::Lost(error),
            }
        }
    }

    /// The fight scenario's session (see [`crate::fight`]).
    async fn fight(&mut self, client: &mut Connection, snapshot: v1::SystemSnapshot, deadline: Instant) -> End {
        let mut fighter = Fighter::new(&self.shared.fight, self.observer(), self.character_id.unwrap_or_default());
        let ended = fighter.fly(client, snapshot, deadline).await;
        for &code in &fighter.refusals {
            self.shared.count_error(code, fighter.unexpected.contains(&code));
        }
        match ended {
            Ended::Deadline => End::Finished,
            Ended::Lost(error) => End::Lost(error),
        }
    }

    fn handle(&mut self, envelope: v1::ServerEnvelope, now: Instant) {
        match envelope.body {
            Some(Msg::Delta(delta)) => self.pilot.on_delta(&delta, now),
            Some(Msg::Snapshot(snapshot)) => self.pilot.on_snapshot(&snapshot, now),
            Some(Msg::Error(error)) => {
                let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified);
                if code == ErrorCode::ShuttingDown {
                    // The disconnect that follows is what counts.
                    self.pilot.tally.note_error(code, false);
                } else if self.pilot.on_error(envelope.request_id, code, now) {
                    tracing::debug!(bot = self.index, ?code, reason = %error.reason, "error answer");
                }
            }
            Some(Msg::Pong(_)) => self.pilot.tally.pongs += 1,
            Some(Msg::Notice(notice)) => tracing::debug!(bot = self.index, text = %notice.text, "server notice"),
            other => tracing::debug!(bot = self.index, body = body_name(&other), "ignored envelope"),
        }
    }

    /// `Logout` and close, within the grace period.
    async fn leave(&self, mut client: Connection) {
        let grace = self.config.grace;
        match client.request(Cmd::Logout(v1::Logout {}), grace).await {
            Ok(_) => {}
            Err(error) => tracing::debug!(bot = self.index, %error, "logout not confirmed"),
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), client.close()).await;
    }
}
