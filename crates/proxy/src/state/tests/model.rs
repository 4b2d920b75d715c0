//! A model-based test of sessions at the proxy (issue 26): random logins, undocks, commands, logouts and
//! dropped connections on three connections for two accounts, through the sessions' state machines, the
//! proxy's account registry and a node that keeps one pilot per ship (as `orrery-node` does), checked after
//! every step:
//!
//! - a connection acts for one account: once logged in, its account never changes;
//! - an account has at most one session;
//! - every ship in space has one pilot, an open session of the ship's own account that knows it flies it;
//! - no command is applied for a ship of an account the connection does not hold.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::super::{Action, Flow, SessionState, Space, Step};
use crate::accounts::AccountSessions;

const CONNECTIONS: usize = 3;
const ACCOUNTS: u64 = 2;
const SYSTEM: u32 = 30;

fn ship_of(account: u64) -> u64 {
    account * 10
}

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    /// Login, Register or Resume: the same path through the state machine.
    Login(usize, u64),
    Undock(usize),
    Command(usize),
    Logout(usize),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let conn = 0..CONNECTIONS;
    prop_oneof![
        2 => conn.clone().prop_map(Op::Connect),
        2 => (conn.clone(), 1..=ACCOUNTS).prop_map(|(c, a)| Op::Login(c, a)),
        2 => conn.clone().prop_map(Op::Undock),
        2 => conn.clone().prop_map(Op::Command),
        1 => conn.clone().prop_map(Op::Logout),
        1 => conn.prop_map(Op::Drop),
    ]
}

#[derive(Default)]
struct Proxy {
    connections: [Option<SessionState>; CONNECTIONS],
    /// The account each connection first logged in as (it must never change while open).
    first_account: [Option<u64>; CONNECTIONS],
    accounts: AccountSessions,
    /// The node's pilot of each ship in space.
    pilots: HashMap<u64, usize>,
}

impl Proxy {
    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect(c) => {
                if self.connections[c].is_none() {
                    self.connections[c] = Some(SessionState::default());
                    self.first_account[c] = None;
                }
            }
            Op::Login(c, account) => {
                let Some(state) = self.connections[c].as_mut() else { return Ok(()) };
                if state.may_log_in(1).is_ok() {
                    state.logged_in(account);
                    if let Some(replaced) = self.accounts.claim(account, c as u64) {
                        self.close(replaced as usize);
                    }
                }
            }
            Op::Undock(c) => {
                let Some(state) = self.connections[c].as_mut() else { return Ok(()) };
                let Ok(account) = state.may_undock(2) else { return Ok(()) };
                let ship = ship_of(account);
                state.entering(ship, SYSTEM);
                // The node: a ship in space is handed to the undocking session, the old one told it lost it.
                if let Some(old) = self.pilots.insert(ship, c).filter(|old| *old != c)
                    && let Some(old_state) = self.connections[old].as_mut()
                {
                    let step = old_state.left(Bytes::from_static(b"replaced"));
                    self.run(old, step);
                }
                let step = self.connections[c].as_mut().expect("open").entered(SYSTEM, ship, Bytes::new());
                self.run(c, step);
            }
            Op::Command(c) => {
                let Some(state) = self.connections[c].as_ref() else { return Ok(()) };
                if let Ok((ship, _)) = state.command_target(3) {
                    let applied = self.pilots.get(&ship) == Some(&c);
                    let account = state.account().expect("flying means logged in");
                    prop_assert!(!applied || ship == ship_of(account), "a command moved another account's ship");
                }
            }
            Op::Logout(c) => {
                let Some(state) = self.connections[c].as_mut() else { return Ok(()) };
                let step = state.logout(4, Instant::now(), Duration::from_secs(5));
                self.run(c, step);
            }
            Op::Drop(c) => self.close(c),
        }
        Ok(())
    }

    /// Do what a session's step asks; the node answers a leave at once.
    fn run(&mut self, c: usize, step: Step) {
        for action in step.actions {
            if let Action::SendOutOfSpace { ship_id, answer, .. } = action {
                if self.pilots.get(&ship_id) == Some(&c) {
                    self.pilots.remove(&ship_id);
                }
                if answer.is_some()
                    && let Some(state) = self.connections[c].as_mut()
                {
                    let step = state.left(Bytes::from_static(b"ok"));
                    self.run(c, step);
                }
            }
        }
        if step.flow == Flow::Close {
            self.close(c);
        }
    }

    /// The connection goes: its ship is sent out of space, its account claim ends.
    fn close(&mut self, c: usize) {
        let Some(mut state) = self.connections[c].take() else { return };
        let actions = state.closing();
        for action in actions {
            if let Action::SendOutOfSpace { ship_id, .. } = action
                && self.pilots.get(&ship_id) == Some(&c)
            {
                self.pilots.remove(&ship_id);
            }
        }
        if let Some(account) = state.account() {
            self.accounts.release(account, c as u64);
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for c in 0..CONNECTIONS {
            let Some(state) = &self.connections[c] else { continue };
            if let Some(account) = state.account() {
                let first = *self.first_account[c].get_or_insert(account);
                prop_assert_eq!(account, first, "connection {} changed accounts", c);
            }
        }
        for account in 1..=ACCOUNTS {
            let holders: Vec<usize> = (0..CONNECTIONS)
                .filter(|&c| self.connections[c].as_ref().and_then(SessionState::account) == Some(account))
                .collect();
            prop_assert!(holders.len() <= 1, "account {} has sessions {:?}", account, holders);
            prop_assert_eq!(holders.first().map(|&c| c as u64), self.accounts.session_of(account));
        }
        for (&ship, &c) in &self.pilots {
            let state = self.connections[c].as_ref();
            prop_assert!(state.is_some(), "ship {} flown by a closed connection", ship);
            let state = state.expect("checked");
            prop_assert_eq!(state.account().map(ship_of), Some(ship), "ship {} flown for another account", ship);
            prop_assert_eq!(state.space(), Space::Flying { ship_id: ship, system: SYSTEM });
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sessions_act_for_one_account_and_ships_have_one_pilot(ops in prop::collection::vec(op(), 1..60)) {
        let mut proxy = Proxy::default();
        for op in &ops {
            proxy.apply(op)?;
            proxy.check()?;
        }
    }
}
