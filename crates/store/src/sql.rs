//! The statements, in SQL that SQLite and PostgreSQL both accept: `$n` placeholders, `RETURNING`,
//! `INSERT ... ON CONFLICT ... DO UPDATE` with `excluded`, no functions of either dialect. The PostgreSQL
//! store is meant to run these same strings; what differs between the backends (connection options,
//! transaction start, row decoding) lives in their own modules.

pub(crate) const INSERT_ACCOUNT: &str = "INSERT INTO accounts (username, username_key, password_hash, created_at_ms) \
     VALUES ($1, $2, $3, $4) RETURNING account_id";

pub(crate) const ACCOUNT_BY_KEY: &str =
    "SELECT account_id, username, password_hash FROM accounts WHERE username_key = $1";

pub(crate) const PUT_TOKEN: &str = "INSERT INTO session_tokens (token_hash, account_id, created_at_ms) \
     VALUES ($1, $2, $3) ON CONFLICT (token_hash) \
     DO UPDATE SET account_id = excluded.account_id, created_at_ms = excluded.created_at_ms";

pub(crate) const ACCOUNT_FOR_TOKEN: &str = "SELECT account_id FROM session_tokens WHERE token_hash = $1";

pub(crate) const DELETE_TOKEN: &str = "DELETE FROM session_tokens WHERE token_hash = $1";

pub(crate) const INSERT_CHARACTER: &str = "INSERT INTO characters (account_id, name, name_key, created_at_ms, home_system_id) \
     VALUES ($1, $2, $3, $4, $5) RETURNING character_id";

pub(crate) const INSERT_SHIP: &str = "INSERT INTO ships \
     (character_id, system_id, pos_x, pos_y, pos_z, vel_x, vel_y, vel_z, handoff_seq, in_space, updated_at_ms, type_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10) RETURNING ship_id";

pub(crate) const SET_ACTIVE_SHIP: &str = "UPDATE characters SET ship_id = $1 WHERE character_id = $2";

/// A character joined with its active ship (a LEFT JOIN, so a character without one is seen and reported
/// as corrupt rather than silently missing). Followed by a WHERE clause. The ship's columns come from
/// column 4 on, in the same order as in the ship queries.
macro_rules! select_character {
    ($where:literal) => {
        concat!(
            "SELECT c.character_id, c.account_id, c.name, c.ship_id AS active_ship_id, ",
            "s.ship_id, s.character_id AS ship_character_id, s.system_id, s.pos_x, s.pos_y, s.pos_z, ",
            "s.vel_x, s.vel_y, s.vel_z, s.handoff_seq, s.in_space, s.type_id, s.shield_hp, s.armour_hp, s.hull_hp ",
            "FROM characters c LEFT JOIN ships s ON s.ship_id = c.ship_id ",
            $where
        )
    };
}

pub(crate) const CHARACTERS_OF_ACCOUNT: &str = select_character!("WHERE c.account_id = $1 ORDER BY c.character_id");

pub(crate) const CHARACTER_BY_ID: &str = select_character!("WHERE c.character_id = $1");

/// A checkpoint: only over a row whose sequence is not newer, and only for the ship's own character.
/// `$4` appears twice: SQLite and PostgreSQL both bind a numbered parameter once for every use. A row without a
/// hull (`$13` NULL) keeps the stored type.
pub(crate) const SAVE_SHIP: &str = "UPDATE ships SET system_id = $3, handoff_seq = $4, in_space = $5, \
     pos_x = $6, pos_y = $7, pos_z = $8, vel_x = $9, vel_y = $10, vel_z = $11, updated_at_ms = $12, \
     type_id = COALESCE($13, type_id), shield_hp = $14, armour_hp = $15, hull_hp = $16 \
     WHERE ship_id = $1 AND character_id = $2 AND handoff_seq <= $4";

macro_rules! select_ship {
    ($where:literal) => {
        concat!(
            "SELECT ship_id, character_id, system_id, pos_x, pos_y, pos_z, vel_x, vel_y, vel_z, handoff_seq, in_space, ",
            "type_id, shield_hp, armour_hp, hull_hp ",
            "FROM ships ",
            $where
        )
    };
}

pub(crate) const SHIP_BY_ID: &str = select_ship!("WHERE ship_id = $1");

pub(crate) const SHIPS_IN_SPACE: &str = select_ship!("WHERE in_space = 1 ORDER BY ship_id");

/// Takes the epoch only if it is not older than the stored one; no row affected means it was older.
pub(crate) const UPSERT_MAPPING_EPOCH: &str = "INSERT INTO mapping_epoch (singleton, epoch, saved_at_ms) \
     VALUES (1, $1, $2) ON CONFLICT (singleton) \
     DO UPDATE SET epoch = excluded.epoch, saved_at_ms = excluded.saved_at_ms \
     WHERE mapping_epoch.epoch <= excluded.epoch";

pub(crate) const MAPPING_EPOCH: &str = "SELECT epoch FROM mapping_epoch WHERE singleton = 1";

pub(crate) const CLEAR_MAPPING: &str = "DELETE FROM mapping";

pub(crate) const INSERT_ASSIGNMENT: &str = "INSERT INTO mapping (system_id, node_id) VALUES ($1, $2)";

pub(crate) const ASSIGNMENTS: &str = "SELECT system_id, node_id FROM mapping ORDER BY system_id";

pub(crate) const SETTINGS: &str = "SELECT key, value, updated_at_ms FROM settings ORDER BY key";

pub(crate) const SETTING: &str = "SELECT key, value, updated_at_ms FROM settings WHERE key = $1";

pub(crate) const PUT_SETTING: &str = "INSERT INTO settings (key, value, updated_at_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms";

pub(crate) const ADDED_SYSTEMS: &str =
    "SELECT system_id, name, x, y, z, security, arena FROM added_systems ORDER BY system_id";
pub(crate) const ADDED_STARGATES: &str =
    "SELECT from_system, to_system FROM added_stargates ORDER BY from_system, to_system";
/// The first invitation of a character (by system id), consumed. A row value comparison, which SQLite and
/// PostgreSQL both accept (SQLite's `rowid` is its own).
pub(crate) const TAKE_INVITE: &str = "DELETE FROM arena_invites WHERE (system_id, character_id) = \
     (SELECT system_id, character_id FROM arena_invites WHERE character_id = $1 ORDER BY system_id LIMIT 1) \
     RETURNING system_id";
/// The operators' move requests not done yet, oldest first.
pub(crate) const PENDING_MOVES: &str =
    "SELECT move_id, system_id, node_id FROM system_moves WHERE done_at_ms IS NULL ORDER BY move_id";
/// A move request done, with its outcome.
pub(crate) const FINISH_MOVE: &str = "UPDATE system_moves SET done_at_ms = $2, outcome = $3 WHERE move_id = $1";

// ---- combat ----

/// A kill report's own row (its attackers are rows of `kill_attackers`).
pub(crate) const INSERT_KILL: &str = "INSERT INTO kills (system_id, tick, sim_time_ms, killed_at_ms, \
     victim_ship_id, victim_character_id, ship_type_id, capsule, pos_x, pos_y, pos_z, \
     final_ship_id, final_character_id, final_ship_type_id, final_damage) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING kill_id";

pub(crate) const INSERT_KILL_ATTACKER: &str = "INSERT INTO kill_attackers \
     (kill_id, ordinal, ship_id, character_id, ship_type_id, damage) VALUES ($1, $2, $3, $4, $5, $6)";

/// A lost ship's pilot ejects: the same row is now a fresh capsule.
pub(crate) const EJECT: &str = "UPDATE ships SET type_id = $3, shield_hp = NULL, armour_hp = NULL, hull_hp = NULL \
     WHERE ship_id = $1 AND character_id = $2";

/// The home and active ship of a character whose capsule was lost.
pub(crate) const CHARACTER_HOME: &str = "SELECT home_system_id, ship_id FROM characters WHERE character_id = $1";

/// The lost capsule is out of space for good.
pub(crate) const SHIP_GONE: &str = "UPDATE ships SET in_space = 0, updated_at_ms = $2 WHERE ship_id = $1";

macro_rules! select_kills {
    ($where:literal) => {
        concat!(
            "SELECT kill_id, system_id, tick, sim_time_ms, killed_at_ms, victim_ship_id, victim_character_id, ",
            "ship_type_id, capsule, pos_x, pos_y, pos_z, final_ship_id, final_character_id, final_ship_type_id, ",
            "final_damage FROM kills ",
            $where
        )
    };
}

pub(crate) const KILLS: &str = select_kills!("ORDER BY kill_id DESC LIMIT $1");

pub(crate) const KILLS_IN_SYSTEM: &str = select_kills!("WHERE system_id = $2 ORDER BY kill_id DESC LIMIT $1");

pub(crate) const KILL_ATTACKERS: &str = "SELECT ship_id, character_id, ship_type_id, damage FROM kill_attackers \
     WHERE kill_id = $1 ORDER BY ordinal";
