//! The records that cross the [`Store`](crate::Store) seam, and the checked conversions between their Rust
//! types and the database's signed 64-bit integers.

use std::fmt;

use crate::StoreError;

/// A player account as stored: what login needs to check a password.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The store-assigned id (from 1) that characters and tokens refer to.
    pub account_id: u64,
    /// As the player typed it at creation (lookups ignore case).
    pub username: String,
    /// The password hash as the caller produced it (a PHC string such as argon2's); the store never sees
    /// the password.
    pub password_hash: String,
}

impl fmt::Debug for AccountRecord {
    /// Leaves the hash out: records end up in logs, and a hash there only helps an offline guesser.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// Where a new character's first ship starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewShip {
    /// The solar system the ship appears in, which decides the node that will simulate it.
    pub system_id: u32,
    /// Metres, in the system's frame.
    pub position: [f64; 3],
    /// Metres per second.
    pub velocity: [f64; 3],
    /// The hull it starts in (a ship type of `data/ship-types.csv`); `None` leaves the choice to the sol node
    /// (the starter frigate).
    pub ship_type_id: Option<u32>,
}

/// A ship's durable state: what a checkpoint writes and a restore reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShipRow {
    /// The store-assigned id (from 1) the simulation and checkpoints key the ship by.
    pub ship_id: u64,
    /// The character flying it, whose login restores it.
    pub character_id: u64,
    /// The solar system the ship was last in, which decides the node that restores it.
    pub system_id: u32,
    /// Metres, in the system's frame.
    pub position: [f64; 3],
    /// Metres per second.
    pub velocity: [f64; 3],
    /// Grows by one at every handoff between systems. A checkpoint only lands when its sequence is at least
    /// the stored one, so a late checkpoint from the system the ship left cannot move it back.
    pub handoff_seq: u64,
    /// The ship is live in a system's simulation (undocked, its pilot logged in or its hull still there).
    /// New ships start `false`; checkpoints set it.
    pub in_space: bool,
    /// The hull flown and what is left of it; `None` for a ship stored before ships had types (the sol node
    /// gives it the starter frigate).
    pub hull: Option<Hull>,
}

/// A ship's hull as stored: its type and its damage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hull {
    /// A ship type of `data/ship-types.csv` (the store does not check it; the sol node does).
    pub type_id: u32,
    /// Shield, armour and hull hit points left; `None` for a fresh hull (full hit points of its type).
    pub hit_points: Option<[f64; 3]>,
}

/// One line of a kill report: a ship that hurt (or disrupted) the victim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KillAttacker {
    /// The attacking ship.
    pub ship_id: u64,
    /// Its pilot.
    pub character_id: u64,
    /// Its ship type.
    pub ship_type_id: u32,
    /// Hit points of damage it dealt to the victim (0 for a warp disruptor only).
    pub damage: f64,
}

/// A loss, as stored and as the admin API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct KillRecord {
    /// Assigned by the store; 0 in a report not stored yet.
    pub kill_id: u64,
    /// Where it happened.
    pub system_id: u32,
    /// The system's tick it happened in.
    pub tick: u64,
    /// The system's simulation time it happened at.
    pub sim_time_ms: u64,
    /// Wall time it was stored, in milliseconds since the Unix epoch (set by the store).
    pub killed_at_ms: u64,
    /// The ship lost.
    pub victim_ship_id: u64,
    /// Its pilot.
    pub victim_character_id: u64,
    /// The type lost.
    pub ship_type_id: u32,
    /// The loss was a capsule: its pilot wakes up at home in a new ship.
    pub capsule: bool,
    /// Metres, in the system's frame.
    pub position: [f64; 3],
    /// Who dealt the last damage.
    pub final_blow: KillAttacker,
    /// Everyone who hurt or disrupted the victim, in the order they first did (the final blow among them).
    pub attackers: Vec<KillAttacker>,
}

/// The hulls a loss leaves its pilot in, for [`crate::Store::save_kills`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossHulls {
    /// The capsule a pilot ejects in: a lost ship's row becomes a fresh one of these.
    pub capsule: u32,
    /// What a pilot whose capsule is lost wakes up in at home.
    pub respawn: u32,
}

/// A character with its active ship.
#[derive(Debug, Clone, PartialEq)]
pub struct CharacterRecord {
    /// The store-assigned id (from 1) a session and its ships refer to.
    pub character_id: u64,
    /// The account that owns the character; login lists only its own.
    pub account_id: u64,
    /// As the player typed it (unique ignoring case across all accounts).
    pub name: String,
    /// The active ship, where the character enters space at login.
    pub ship: ShipRow,
}

/// The system → node mapping as last saved, with its epoch (which grows on every change, so that a
/// message routed by an older mapping can be recognised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRecord {
    /// Grows on every saved change; a save older than the stored one is refused as a conflict.
    pub epoch: u64,
    /// `(system_id, node_id)`, sorted by system id, each system once.
    pub assignments: Vec<(u32, u32)>,
}

/// One operator setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingRow {
    /// The setting's name, e.g. `log_filter`; unique.
    pub key: String,
    /// JSON text; its owner parses it.
    pub value: String,
    /// When it was last written, in milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

// ---- checked conversions -------------------------------------------------------------------------------

/// An id as the database holds it, or `None` if no row can have it (0, or above `i64::MAX`).
pub(crate) fn id_to_db(id: u64) -> Option<i64> {
    i64::try_from(id).ok().filter(|&v| v >= 1)
}

/// An id the caller passed for a write: out of range is the caller's mistake.
pub(crate) fn id_arg(id: u64, what: &str) -> Result<i64, StoreError> {
    id_to_db(id).ok_or_else(|| StoreError::invalid(format!("{what} {id} is out of range (1..=2^63-1)")))
}

/// A counter (sequence, epoch) the caller passed for a write.
pub(crate) fn count_arg(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::invalid(format!("{what} {value} is above 2^63-1")))
}

/// An id read back: anything below 1 is corruption.
pub(crate) fn id_from_db(value: i64, what: &str) -> Result<u64, StoreError> {
    if value >= 1 {
        Ok(value as u64)
    } else {
        Err(StoreError::corrupt(format!("{what} is {value}, not a positive id")))
    }
}

/// A counter or timestamp read back: negative is corruption.
pub(crate) fn count_from_db(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is {value}, below 0")))
}

/// A 32-bit id (system, node) read back.
pub(crate) fn u32_from_db(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is {value}, outside 0..=2^32-1")))
}

/// A boolean stored as 0/1.
pub(crate) fn bool_from_db(value: i64, what: &str) -> Result<bool, StoreError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(StoreError::corrupt(format!("{what} is {other}, not 0 or 1"))),
    }
}

/// A position or velocity component read back.
pub(crate) fn finite_from_db(value: f64, what: &str) -> Result<f64, StoreError> {
    if value.is_finite() { Ok(value) } else { Err(StoreError::corrupt(format!("{what} is {value}, not finite"))) }
}

/// A vector the caller passed for a write. SQLite would store NaN as NULL, and no simulation can resume
/// from an infinite position, so both are refused before they reach the database.
pub(crate) fn vector_arg(v: [f64; 3], what: &str) -> Result<[f64; 3], StoreError> {
    if v.iter().all(|c| c.is_finite()) {
        Ok(v)
    } else {
        Err(StoreError::invalid(format!("{what} {v:?} is not finite")))
    }
}

/// The key a name is unique under: Unicode lowercase, so "Jita" and "JITA" collide.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Now, in milliseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_convert_with_checks() {
        assert_eq!(id_to_db(0), None);
        assert_eq!(id_to_db(1), Some(1));
        assert_eq!(id_to_db(i64::MAX as u64), Some(i64::MAX));
        assert_eq!(id_to_db(i64::MAX as u64 + 1), None);
        assert!(matches!(id_from_db(-3, "x"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(id_from_db(0, "x"), Err(StoreError::Corrupt { .. })));
        assert_eq!(id_from_db(i64::MAX, "x").ok(), Some(i64::MAX as u64));
        assert!(matches!(u32_from_db(1 << 32, "x"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(bool_from_db(2, "x"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(finite_from_db(f64::NAN, "x"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(vector_arg([0.0, f64::INFINITY, 0.0], "x"), Err(StoreError::Invalid { .. })));
        assert!(matches!(count_arg(u64::MAX, "x"), Err(StoreError::Invalid { .. })));
    }

    #[test]
    fn debug_hides_the_password_hash() {
        let account = AccountRecord { account_id: 1, username: "a".into(), password_hash: "$argon2id$secret".into() };
        assert!(!format!("{account:?}").contains("secret"));
    }
}

/// A solar system added at runtime (`added_systems`): positions in metres, as in the universe.
#[derive(Debug, Clone, PartialEq)]
pub struct AddedSystem {
    /// Its id; it must be new (the cluster skips a row whose id the universe already has).
    pub system_id: u32,
    /// What players and operators see it called.
    pub name: String,
    /// Metres, in the universe's galactic frame.
    pub position: [f64; 3],
    /// Security status, as in the static universe (high-sec near 1.0, null-sec at or below 0.0).
    pub security: f64,
    /// An instanced arena: no stargates, entered by invitation.
    pub arena: bool,
}

/// An operator's request (a row of `system_moves`) to move a system to another node while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveRequest {
    /// The row's id, to report the outcome with [`crate::Store::finish_move`].
    pub move_id: u64,
    /// The system to move.
    pub system_id: u32,
    /// Where to.
    pub node_id: u32,
}
