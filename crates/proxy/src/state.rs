//! A session's state machine, without its connection: who is logged in, and where the session's ship is
//! (docked → entering space → flying → leaving). Every event — a client request, a message from a sol node, the
//! connection closing, a deadline — is a method that changes the state and says what the shell must do
//! ([`Step`]); the shell ([`crate::session`]) does the I/O. Time comes in as an argument, so tests drive the
//! machine with a clock of their own.

use std::time::{Duration, Instant};

use bytes::Bytes;
use orrery_proto::v1::{self, ErrorCode, server_envelope::Body as S};
use orrery_proto::{error, reply};

/// Where the session's ship is, as far as the session knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Docked,
    /// An undock was sent to the ship's system; the snapshot has not arrived yet.
    Entering {
        ship_id: u64,
        system: u32,
    },
    Flying {
        ship_id: u64,
        system: u32,
    },
    /// A logout was sent; `request_id` is answered when the ship is stored, or at `deadline` at the latest.
    Leaving {
        ship_id: u64,
        system: u32,
        deadline: Instant,
        request_id: u32,
    },
}

/// Whether the connection goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// One thing the shell must do for an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this envelope to the client.
    Send(v1::ServerEnvelope),
    /// Pass this encoded envelope (from a sol node) to the client as it is.
    Pass(Bytes),
    /// Ask the owner of `system` to take the ship out of space and store it; `answer` is the request to
    /// answer (with `Ok`) once it is stored, `None` for a connection that is going.
    SendOutOfSpace { system: u32, ship_id: u64, answer: Option<u32> },
    /// Start receiving the system's deltas.
    JoinRoom(u32),
    /// Stop receiving the system's deltas.
    LeaveRoom(u32),
}

/// What an event asks of the shell: actions in order, then whether the connection goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub actions: Vec<Action>,
    pub flow: Flow,
}

impl Step {
    fn go_on(actions: Vec<Action>) -> Step {
        Step { actions, flow: Flow::Continue }
    }

    fn close(actions: Vec<Action>) -> Step {
        Step { actions, flow: Flow::Close }
    }
}

/// Why a request cannot be served in the session's state: the error that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub request_id: u32,
    pub code: ErrorCode,
    pub reason: &'static str,
}

impl Refusal {
    pub fn envelope(&self) -> v1::ServerEnvelope {
        error(self.request_id, self.code, self.reason)
    }
}

/// The state of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    account: Option<u64>,
    space: Space,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState { account: None, space: Space::Docked }
    }
}

impl SessionState {
    /// Where the session's ship is, as far as this session knows.
    pub fn space(&self) -> Space {
        self.space
    }

    pub fn account(&self) -> Option<u64> {
        self.account
    }

    /// The logged-in account, or the error that answers a request needing one.
    pub fn require_account(&self, request_id: u32) -> Result<u64, Refusal> {
        let reason = "log in first (Login, Register or Resume)";
        self.account.ok_or(Refusal { request_id, code: ErrorCode::NotLoggedIn, reason })
    }

    /// May this session log in (Login, Register, Resume)? Not once it is: a session acts for one account.
    pub fn may_log_in(&self, request_id: u32) -> Result<(), Refusal> {
        match self.account {
            None => Ok(()),
            Some(_) => Err(Refusal {
                request_id,
                code: ErrorCode::AlreadyLoggedIn,
                reason: "this session is already logged in: Logout first, or open another connection",
            }),
        }
    }

    /// A login, registration or resume succeeded.
    pub fn logged_in(&mut self, account_id: u64) {
        self.account = Some(account_id);
    }

    /// May this session undock now? The account it acts for, or the refusal.
    pub fn may_undock(&self, request_id: u32) -> Result<u64, Refusal> {
        let account = self.require_account(request_id)?;
        if self.space != Space::Docked {
            let reason = "this session already has a ship in space";
            return Err(Refusal { request_id, code: ErrorCode::AlreadyInSpace, reason });
        }
        Ok(account)
    }

    /// The undock of `ship_id` was sent to `system`.
    pub fn entering(&mut self, ship_id: u64, system: u32) {
        self.space = Space::Entering { ship_id, system };
    }

    /// Where a command in space goes: the ship and its system, or the refusal.
    pub fn command_target(&self, request_id: u32) -> Result<(u64, u32), Refusal> {
        match self.space {
            Space::Flying { ship_id, system } => Ok((ship_id, system)),
            _ if self.account.is_none() => {
                Err(Refusal { request_id, code: ErrorCode::NotLoggedIn, reason: "log in first" })
            }
            _ => Err(Refusal { request_id, code: ErrorCode::NotInSpace, reason: "undock first" }),
        }
    }

    /// A sol node says the ship is now in `system` (undock or jump); `snapshot` is for the client.
    pub fn entered(&mut self, system: u32, ship_id: u64, snapshot: Bytes) -> Step {
        let mut actions = Vec::new();
        match self.space {
            Space::Entering { .. } => {}
            Space::Flying { system: old, .. } => actions.push(Action::LeaveRoom(old)),
            // The ship arrived somewhere after a logout began (it was jumping): the leave request follows it.
            Space::Leaving { deadline, request_id, .. } => {
                self.space = Space::Leaving { ship_id, system, deadline, request_id };
                return Step::go_on(vec![Action::SendOutOfSpace { system, ship_id, answer: Some(request_id) }]);
            }
            // Nobody asked for this ship here: send it back out so that it does not fly without a pilot.
            Space::Docked => return Step::go_on(vec![Action::SendOutOfSpace { system, ship_id, answer: None }]),
        }
        self.space = Space::Flying { ship_id, system };
        actions.push(Action::Pass(snapshot));
        actions.push(Action::JoinRoom(system));
        Step::go_on(actions)
    }

    /// A sol node says the ship is out of space (a logout stored, or an undock refused); `answer` is for the
    /// client. A logout ends the connection here.
    pub fn left(&mut self, answer: Bytes) -> Step {
        let mut actions = vec![Action::Pass(answer)];
        if let Space::Flying { system, .. } | Space::Leaving { system, .. } = self.space {
            actions.push(Action::LeaveRoom(system));
        }
        let leaving = matches!(self.space, Space::Leaving { .. });
        self.space = Space::Docked;
        if leaving { Step::close(actions) } else { Step::go_on(actions) }
    }

    /// The client asked to log out at `now`: a ship in space is sent out and stored first (answered by
    /// [`SessionState::left`], or at the deadline `now + timeout`); a docked session is answered at once
    /// and closed.
    pub fn logout(&mut self, request_id: u32, now: Instant, timeout: Duration) -> Step {
        match self.space {
            Space::Flying { ship_id, system } | Space::Entering { ship_id, system } => {
                self.space = Space::Leaving { ship_id, system, deadline: now + timeout, request_id };
                Step::go_on(vec![Action::SendOutOfSpace { system, ship_id, answer: Some(request_id) }])
            }
            Space::Leaving { .. } => Step::go_on(Vec::new()),
            Space::Docked => Step::close(vec![Action::Send(reply(request_id, S::Ok(v1::Ok {})))]),
        }
    }

    /// When a logout must be answered even without the node's confirmation.
    pub fn leave_deadline(&self) -> Option<Instant> {
        match self.space {
            Space::Leaving { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// The logout deadline passed: answer `Ok` anyway and close (the ship is still sent out when the
    /// connection closes).
    pub fn leave_timed_out(&self) -> Step {
        let request_id = match self.space {
            Space::Leaving { request_id, .. } => request_id,
            _ => 0,
        };
        Step::close(vec![Action::Send(reply(request_id, S::Ok(v1::Ok {})))])
    }

    /// The connection is closing: a ship in space, or on its way in or out, is taken out and stored.
    pub fn closing(&mut self) -> Vec<Action> {
        let actions = match self.space {
            // A repeated leave request for a ship already out is harmless: the node ignores it.
            Space::Flying { ship_id, system }
            | Space::Entering { ship_id, system }
            | Space::Leaving { ship_id, system, .. } => {
                vec![Action::LeaveRoom(system), Action::SendOutOfSpace { system, ship_id, answer: None }]
            }
            Space::Docked => Vec::new(),
        };
        self.space = Space::Docked;
        actions
    }
}

#[cfg(test)]
mod tests;
