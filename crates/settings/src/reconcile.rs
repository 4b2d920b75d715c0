//! Turning the rows of the `settings` table into the settings in force, and saying what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::settings::system_key;
use crate::spec::{ENTRIES, Target, resolve};
use crate::value::check_raw;
use crate::{Settings, Value};

/// One key whose value in force changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The key, per-system keys with their system id (`system.tick_ms.30000142`).
    pub key: String,
    /// The value in force before; for a key that had no row, its default. A per-system key without an
    /// override has the system-wide value it followed.
    pub old: Value,
    /// The value in force now, in the same terms.
    pub new: Value,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}`: {} -> {}", self.key, self.old, self.new)
    }
}

/// A row that was not applied: the value of its key in force before stays in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The key as stored, known or not.
    pub key: String,
    /// The stored value, as it is.
    pub raw: String,
    /// Why it was refused, for the operator.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}` rejected, previous value kept: {}", self.key, self.reason)
    }
}

/// The outcome of [`reconcile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The settings now in force.
    pub settings: Settings,
    /// Every key whose value changed, in key order; empty exactly when `settings` equals the settings given.
    pub changes: Vec<Change>,
    /// The rows not applied, in row order. A row stays rejected (and is reported by every call) until it is
    /// fixed or deleted, so a caller polling the table should log a rejection only when it is new.
    pub rejected: Vec<Rejection>,
}

/// Given the settings in force and *all* current rows `(key, raw value)`, computes the settings now in force.
///
/// - A valid row applies.
/// - A key without a row has its default; a per-system override without a row is removed.
/// - A row with an invalid value or an unknown key is rejected, and the previous value of that key stays in
///   force (a per-system override that did not exist stays absent).
/// - If several rows have the same key (the table's primary key rules it out), the last one counts and the
///   earlier ones are rejected.
///
/// `changes` lists every key whose value changed, with old and new value, in key order. A per-system override
/// that appears or disappears is a change even when its number equals the system-wide value it replaces, so
/// that "no changes" means "nothing to do". The result depends only on the arguments, and applying the same rows
/// again changes nothing.
///
/// ```
/// use orrery_settings::{reconcile, Settings, Value};
///
/// let rows = vec![("system.tick_ms".to_owned(), "500".to_owned()), ("tidi.floor".to_owned(), "3".to_owned())];
/// let out = reconcile(&Settings::default(), &rows);
/// assert_eq!(out.settings.tick_ms, 500);
/// assert_eq!(out.changes.len(), 1);
/// assert_eq!(out.changes[0].old, Value::Integer(1000));
/// assert_eq!(out.rejected[0].reason, "3 is out of range 0.01..=1.0");
/// assert_eq!(out.settings.tidi_floor, 0.1); // the value in force before
/// ```
pub fn reconcile(current: &Settings, rows: &[(String, String)]) -> Reconciled {
    let last_row: BTreeMap<&str, usize> = rows.iter().enumerate().map(|(i, (key, _))| (key.as_str(), i)).collect();
    let mut next = Settings::default();
    next.system_max_players.clear();
    next.system_tick_ms.clear();
    let mut rejected = Vec::new();
    for (i, (key, raw)) in rows.iter().enumerate() {
        let reject = |reason: String| Rejection { key: key.clone(), raw: raw.clone(), reason };
        if last_row.get(key.as_str()) != Some(&i) {
            rejected.push(reject("a later row has the same key; that one is used".to_owned()));
            continue;
        }
        let (entry, system) = match resolve(key) {
            Ok(found) => found,
            Err(reason) => {
                rejected.push(reject(reason));
                continue;
            }
        };
        let refused = match check_raw(entry.spec.kind, raw) {
            Ok(value) if next.assign(entry, system, &value) => continue,
            Ok(value) => format!("{value} does not fit the setting"),
            Err(reason) => reason,
        };
        rejected.push(reject(refused));
        next.copy_from(current, entry, system);
    }
    let changes = changes(current, &next);
    Reconciled { settings: next, changes, rejected }
}

/// Every key on which `old` and `new` differ, in key order.
fn changes(old: &Settings, new: &Settings) -> Vec<Change> {
    let mut out = Vec::new();
    for entry in &ENTRIES {
        let systems: Vec<Option<u32>> = match &entry.target {
            Target::Field { .. } => vec![None],
            Target::PerSystem { map, .. } => map(old)
                .keys()
                .chain(map(new).keys())
                .copied()
                .collect::<BTreeSet<u32>>()
                .into_iter()
                .map(Some)
                .collect(),
        };
        for system in systems {
            if same(&old.stored(entry, system), &new.stored(entry, system)) {
                continue;
            }
            let (Some(old_value), Some(new_value)) = (old.effective(entry, system), new.effective(entry, system))
            else {
                continue;
            };
            let key = match system {
                Some(id) => system_key(entry, id),
                None => entry.spec.key.to_owned(),
            };
            out.push(Change { key, old: old_value, new: new_value });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Equality that treats a float as its bits, so a NaN someone put into a [`Settings`] by hand does not read as a
/// change on every call.
fn same(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(Value::Float(x)), Some(Value::Float(y))) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
