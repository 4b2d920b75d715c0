//! One session per account, on this proxy: which session acts for each logged-in account. A login claims the
//! account and names the session it replaces; a closing session gives its claim back. (Other proxies learn of
//! a login through a `SessionOpened` event on the bus and drop their claim the same way.)

use std::collections::HashMap;

/// The session of each logged-in account.
#[derive(Debug, Default)]
pub struct AccountSessions {
    by_account: HashMap<u64, u64>,
}

impl AccountSessions {
    /// `session` now acts for `account`; returns the other session that did until now, to be closed.
    pub fn claim(&mut self, account: u64, session: u64) -> Option<u64> {
        self.by_account.insert(account, session).filter(|previous| *previous != session)
    }

    /// A session elsewhere (another proxy) acts for `account` now; returns this proxy's session of it, if any.
    pub fn taken_elsewhere(&mut self, account: u64) -> Option<u64> {
        self.by_account.remove(&account)
    }

    /// `session` is closing: its claim on `account` ends, unless a newer session already holds the account.
    pub fn release(&mut self, account: u64, session: u64) {
        if self.by_account.get(&account) == Some(&session) {
            self.by_account.remove(&account);
        }
    }

    /// The session acting for `account`.
    #[cfg(test)]
    pub fn session_of(&self, account: u64) -> Option<u64> {
        self.by_account.get(&account).copied()
    }
}
