//! The seam itself.

use crate::{
    AccountRecord, AddedSystem, CharacterRecord, KillRecord, LossHulls, MappingRecord, NewShip, SettingRow, ShipRow,
    StoreError,
};

/// The cluster's durable state, as every role sees it.
///
/// Each method is one transaction: it either happens whole or not at all, so a crash between two calls
/// leaves the store consistent. Implementations are shared between tasks (`Arc<dyn Store>`); concurrent
/// writers wait for each other rather than fail.
///
/// Ids are `u64` from 1 up. Lookups with an id no row can have (0, or above `i64::MAX`) find nothing; writes
/// with one are [`StoreError::Invalid`]. Rows that cannot be decoded are [`StoreError::Corrupt`].
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account and returns its id. [`StoreError::Conflict`] if the username is taken, ignoring
    /// case ("Pilot" and "PILOT" are the same account).
    async fn create_account(&self, username: &str, password_hash: &str) -> Result<u64, StoreError>;

    /// The account with this username, ignoring case.
    async fn account_by_name(&self, username: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// Records a session token for resuming a session. Tokens are hashed by the caller; the store keeps what
    /// it is given. Putting an existing token again points it at `account_id`. [`StoreError::NotFound`] if
    /// the account does not exist.
    async fn put_session_token(&self, token_hash: &str, account_id: u64) -> Result<(), StoreError>;

    /// The account a token hash was issued to, if it is still valid.
    async fn account_for_token(&self, token_hash: &str) -> Result<Option<u64>, StoreError>;

    /// Forgets a token (logout). Deleting an unknown token is not an error.
    async fn delete_session_token(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Creates a character and its first ship in one transaction: both or neither. [`StoreError::Conflict`]
    /// if the name is taken (ignoring case), [`StoreError::NotFound`] if the account does not exist,
    /// [`StoreError::Invalid`] for a non-finite position or velocity. The ship starts with handoff sequence 0,
    /// not in space.
    async fn create_character(&self, account_id: u64, name: &str, ship: NewShip)
    -> Result<CharacterRecord, StoreError>;

    /// An account's characters, oldest first.
    async fn characters(&self, account_id: u64) -> Result<Vec<CharacterRecord>, StoreError>;

    /// One character with its active ship.
    async fn character(&self, character_id: u64) -> Result<Option<CharacterRecord>, StoreError>;

    /// Checkpoints a batch of ships in one transaction and returns how many rows were written.
    ///
    /// A row is written only when its `handoff_seq` is at least the stored one: a checkpoint that arrives
    /// late from the system a ship has left must not move it back. Rows for unknown ships, or whose
    /// `character_id` is not the ship's, are skipped too. The whole batch is refused
    /// ([`StoreError::Invalid`]) if any row has an out-of-range id or sequence or a non-finite vector.
    async fn save_ships(&self, ships: &[ShipRow]) -> Result<usize, StoreError>;

    /// One ship's last checkpoint.
    async fn ship(&self, ship_id: u64) -> Result<Option<ShipRow>, StoreError>;

    /// Every ship marked in space, by id: what was live when the cluster stopped (restore after a crash,
    /// diagnostics).
    async fn ships_in_space(&self) -> Result<Vec<ShipRow>, StoreError>;

    /// Replaces the system → node mapping and its epoch in one transaction. [`StoreError::Conflict`] if the
    /// stored epoch is newer (a deposed coordinator must not overwrite its successor's mapping; saving the
    /// same epoch again is allowed). [`StoreError::Invalid`] if a system appears twice.
    async fn save_mapping(&self, epoch: u64, assignments: &[(u32, u32)]) -> Result<(), StoreError>;

    /// The mapping last saved, or `None` on a fresh store.
    async fn load_mapping(&self) -> Result<Option<MappingRecord>, StoreError>;

    /// Every setting, by key.
    async fn settings(&self) -> Result<Vec<SettingRow>, StoreError>;

    /// One setting.
    async fn get_setting(&self, key: &str) -> Result<Option<SettingRow>, StoreError>;

    /// Creates or replaces a setting (`value` is JSON text; the store does not parse it) and stamps it with
    /// the current time.
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Systems added at runtime. Each row is decoded on its own, so one bad row (an operator's typo) is
    /// reported without hiding the others.
    async fn added_systems(&self) -> Result<Vec<Result<AddedSystem, StoreError>>, StoreError>;

    /// Stargates added at runtime, as (from, to) system ids (a gate is usable both ways).
    async fn added_stargates(&self) -> Result<Vec<(u32, u32)>, StoreError>;

    /// The arena a character is invited to, consuming the invitation.
    async fn take_invite(&self, character_id: u64) -> Result<Option<u32>, StoreError>;

    /// Operators' requests to move a system (rows of `system_moves` not done yet), oldest first.
    async fn pending_moves(&self) -> Result<Vec<crate::MoveRequest>, StoreError>;

    /// Mark a move request done, with its outcome (a report, or `error: …`).
    async fn finish_move(&self, move_id: u64, outcome: &str) -> Result<(), StoreError>;

    // ---- combat ----

    /// Stores kill reports, in one transaction with what they do to their pilots, and returns their new ids in
    /// order. A lost ship's row becomes a fresh `hulls.capsule` (its pilot ejected in it under the same ship id).
    /// A lost capsule that is still its character's active ship is out of space for good, and the character gets
    /// a new `hulls.respawn` ship, docked in its home system (the system it was created in), as its active ship.
    /// [`StoreError::Invalid`] (nothing stored) for a report with an out-of-range id or a non-finite number.
    async fn save_kills(&self, kills: &[KillRecord], hulls: LossHulls) -> Result<Vec<u64>, StoreError>;

    /// The latest `limit` kill reports, newest first, with their attackers: of one system, or of all.
    async fn kills(&self, system_id: Option<u32>, limit: u32) -> Result<Vec<KillRecord>, StoreError>;

    // ---- economy ----

    /// The economy's half of the store (wallets, hangars, orders, the market's log; `crate::EconomyStore`), in the
    /// same database.
    fn economy(&self) -> &dyn crate::EconomyStore;
}
