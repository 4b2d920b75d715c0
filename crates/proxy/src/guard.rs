//! Limits that span sessions: concurrent connections per client address, and failed logins per username and
//! per address. Both tables are bounded, so a hostile client cannot grow them without limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{ProxyConfig, Shared};

/// Open connections per client address.
#[derive(Default)]
pub struct ConnectionCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; dropping it (when the connection's task ends) frees the place.
pub struct ConnectionSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl ConnectionSlot {
    /// A place for one more connection from `ip`, or `None` if the address is at `max_connections_per_ip`.
    pub fn take(shared: &Arc<Shared>, ip: IpAddr) -> Option<ConnectionSlot> {
        let limit = shared.config.max_connections_per_ip;
        let mut open = shared.connections.open.lock();
        let count = open.entry(ip).or_insert(0);
        if limit > 0 && *count >= limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { shared: shared.clone(), ip })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.shared.connections.open.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Most keys a failure table holds. Past it, expired entries are swept; if it is still full, new keys are not
/// recorded (the entries already there keep their lockouts). With the per-address limit in front, filling it
/// takes thousands of addresses.
const MAX_KEYS: usize = 100_000;

/// Failures per key in fixed windows: the window starts at a key's first failure and lasts `window`; once
/// `max` failures are counted in it, the key is locked until the window ends.
pub struct FailureWindows<K> {
    max: u32,
    window: Duration,
    entries: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq + Clone> FailureWindows<K> {
    pub fn new(max: u32, window: Duration) -> FailureWindows<K> {
        FailureWindows { max, window, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Instant, u32)>> {
        self.entries.lock()
    }

    /// True while `key` has used up its failures of the current window.
    pub fn locked(&self, key: &K, now: Instant) -> bool {
        if self.max == 0 {
            return false;
        }
        match self.lock().get(key) {
            Some(&(start, count)) => count >= self.max && now.saturating_duration_since(start) < self.window,
            None => false,
        }
    }

    pub fn record(&self, key: &K, now: Instant) {
        if self.max == 0 {
            return;
        }
        let mut entries = self.lock();
        if !entries.contains_key(key) && entries.len() >= MAX_KEYS {
            let window = self.window;
            entries.retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
            if entries.len() >= MAX_KEYS {
                tracing::warn!("failed-login table full: a failure is not recorded");
                return;
            }
        }
        let entry = entries.entry(key.clone()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    pub fn clear(&self, key: &K) {
        self.lock().remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Failed logins per username and per client address.
pub struct LoginFailures {
    pub by_name: FailureWindows<String>,
    pub by_ip: FailureWindows<IpAddr>,
}

impl LoginFailures {
    pub fn new(config: &ProxyConfig) -> LoginFailures {
        LoginFailures {
            by_name: FailureWindows::new(config.login_failures_per_account, config.login_failure_window),
            by_ip: FailureWindows::new(config.login_failures_per_ip, config.login_failure_window),
        }
    }

    /// True if a login of `name` from `ip` must be refused without looking at the password.
    pub fn locked(&self, name: &str, ip: IpAddr, now: Instant) -> bool {
        self.by_ip.locked(&ip, now) || self.by_name.locked(&name.to_owned(), now)
    }

    pub fn failed(&self, name: &str, ip: IpAddr, now: Instant) {
        self.by_name.record(&name.to_owned(), now);
        self.by_ip.record(&ip, now);
    }

    /// A successful login forgets the name's failures (not the address's: an attacker's own account must not
    /// reset the address's count).
    pub fn succeeded(&self, name: &str) {
        self.by_name.clear(&name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_locked_after_max_failures_until_its_window_ends() {
        let start = Instant::now();
        let windows = FailureWindows::new(3, Duration::from_secs(60));
        let key = "victim".to_string();
        for i in 0..3 {
            assert!(!windows.locked(&key, start), "not locked after {i} failures");
            windows.record(&key, start + Duration::from_secs(i));
        }
        assert!(windows.locked(&key, start + Duration::from_secs(10)));
        assert!(!windows.locked(&"other".to_string(), start + Duration::from_secs(10)));
        assert!(!windows.locked(&key, start + Duration::from_secs(61)), "the window ended");
        // A failure after the window starts a new one.
        windows.record(&key, start + Duration::from_secs(61));
        assert!(!windows.locked(&key, start + Duration::from_secs(62)));
        windows.clear(&key);
        assert!(!windows.locked(&key, start + Duration::from_secs(62)));
    }

    #[test]
    fn zero_means_no_limit() {
        let now = Instant::now();
        let windows = FailureWindows::new(0, Duration::from_secs(60));
        for _ in 0..100 {
            windows.record(&1u32, now);
        }
        assert!(!windows.locked(&1u32, now));
        assert_eq!(windows.len(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_swept() {
        let start = Instant::now();
        let windows = FailureWindows::new(1, Duration::from_secs(1));
        for key in 0..MAX_KEYS as u64 {
            windows.record(&key, start);
        }
        assert_eq!(windows.len(), MAX_KEYS);
        // Full of live entries: a new key is not recorded, old lockouts stay.
        windows.record(&u64::MAX, start);
        assert_eq!(windows.len(), MAX_KEYS);
        assert!(windows.locked(&0, start));
        // Once they expired, the next new key sweeps them.
        windows.record(&u64::MAX, start + Duration::from_secs(2));
        assert_eq!(windows.len(), 1);
    }
}
