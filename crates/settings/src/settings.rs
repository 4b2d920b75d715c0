//! The typed settings in force, as the runtime reads them.

use std::collections::BTreeMap;

use crate::Value;
use crate::spec::{ENTRIES, Entry, Target, fallback_of, resolve};

/// The settings in force, typed for the code that uses them. Build one with [`Default`] (what a fresh
/// cluster runs with) and keep it current with [`crate::reconcile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `session.idle_timeout_s`: seconds without a message before a client is disconnected.
    pub idle_timeout_s: u64,
    /// `session.rate_limit_per_s`: commands per second per session.
    pub rate_limit_per_s: u32,
    /// `system.max_players`: the player cap of every system without an override.
    pub max_players: u32,
    /// `system.max_players.<id>`: per-system caps overriding `max_players` (0 = closed).
    pub system_max_players: BTreeMap<u32, u32>,
    /// `system.tick_ms`: the tick length of every system without an override.
    pub tick_ms: u32,
    /// `system.tick_ms.<id>`: per-system tick lengths overriding `tick_ms`.
    pub system_tick_ms: BTreeMap<u32, u32>,
    /// `tidi.floor`: the lowest time-dilation factor.
    pub tidi_floor: f64,
    /// `net.max_frame_bytes`: the largest envelope accepted from a client.
    pub max_frame_bytes: usize,
    /// `motd`: the message of the day, sent after login (empty: none).
    pub motd: String,
}

impl Default for Settings {
    /// The defaults of [`crate::specs`] (a test checks the two agree), with no per-system override.
    fn default() -> Self {
        Settings {
            idle_timeout_s: 300,
            rate_limit_per_s: 20,
            max_players: 1000,
            system_max_players: BTreeMap::new(),
            tick_ms: 1000,
            system_tick_ms: BTreeMap::new(),
            tidi_floor: 0.1,
            max_frame_bytes: 65_536,
            motd: String::new(),
        }
    }
}

impl Settings {
    /// The player cap of a system: its override, or the cluster-wide cap.
    pub fn max_players_for(&self, system: u32) -> u32 {
        self.system_max_players.get(&system).copied().unwrap_or(self.max_players)
    }

    /// The tick length of a system: its override, or the cluster-wide tick.
    pub fn tick_ms_for(&self, system: u32) -> u32 {
        self.system_tick_ms.get(&system).copied().unwrap_or(self.tick_ms)
    }

    /// Every setting as `(key, value)` — every fixed key and every per-system key that has an override — in
    /// key order, for the admin API's listing.
    pub fn entries(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for entry in &ENTRIES {
            match &entry.target {
                Target::Field { get, .. } => out.push((entry.spec.key.to_owned(), get(self).value())),
                Target::PerSystem { map, .. } => {
                    for (&system, &value) in map(self) {
                        out.push((system_key(entry, system), Value::Integer(i64::from(value))));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The value in force for a key, `None` for an unknown key. A per-system key without an override has the
    /// value it falls back to (`system.max_players.7` is `system.max_players` unless system 7 has its own).
    pub fn get(&self, key: &str) -> Option<Value> {
        let (entry, system) = resolve(key).ok()?;
        self.effective(entry, system)
    }

    /// The value in force for an entry (and system, for a per-system entry).
    pub(crate) fn effective(&self, entry: &Entry, system: Option<u32>) -> Option<Value> {
        match &entry.target {
            Target::Field { get, .. } => Some(get(self).value()),
            Target::PerSystem { .. } => match self.stored(entry, system) {
                Some(value) => Some(value),
                None => self.effective(fallback_of(entry)?, None),
            },
        }
    }

    /// What the settings hold for a key itself: the field's value, or a per-system override (`None` if the
    /// system has none). Two settings agree on a key exactly when this agrees.
    pub(crate) fn stored(&self, entry: &Entry, system: Option<u32>) -> Option<Value> {
        match &entry.target {
            Target::Field { get, .. } => Some(get(self).value()),
            Target::PerSystem { map, .. } => {
                system.and_then(|id| map(self).get(&id)).map(|&value| Value::Integer(i64::from(value)))
            }
        }
    }

    /// Stores a validated value; `false` (and no change) if it does not fit the field.
    pub(crate) fn assign(&mut self, entry: &Entry, system: Option<u32>, value: &Value) -> bool {
        match (&entry.target, system, value) {
            (Target::Field { get_mut, .. }, _, value) => get_mut(self).assign(value),
            (Target::PerSystem { map_mut, .. }, Some(id), Value::Integer(v)) => match u32::try_from(*v) {
                Ok(v) => {
                    map_mut(self).insert(id, v);
                    true
                }
                Err(_) => false,
            },
            (Target::PerSystem { .. }, _, _) => false,
        }
    }

    /// Takes a key's stored value (or a per-system override's absence) from `other`.
    pub(crate) fn copy_from(&mut self, other: &Settings, entry: &Entry, system: Option<u32>) {
        match (&entry.target, system) {
            (Target::Field { get, get_mut }, _) => {
                get_mut(self).assign(&get(other).value());
            }
            (Target::PerSystem { map, map_mut }, Some(id)) => match map(other).get(&id) {
                Some(&value) => {
                    map_mut(self).insert(id, value);
                }
                None => {
                    map_mut(self).remove(&id);
                }
            },
            (Target::PerSystem { .. }, None) => {}
        }
    }
}

/// The key of one system's setting in a per-system family (`system.tick_ms.30000142`).
pub(crate) fn system_key(entry: &Entry, system: u32) -> String {
    format!("{}{system}", entry.spec.system_prefix().unwrap_or(entry.spec.key))
}
