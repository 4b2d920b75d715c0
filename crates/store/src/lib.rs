//! The `Store` seam: the durable state of an orrery cluster — accounts, session tokens, characters, where
//! their ships are, the system → node mapping, operator settings — behind one async, transactional trait.
//!
//! Every role reaches the database through [`Store`], never through SQL of its own, so the backend can
//! change under them: [`SqliteStore`] (one file) is the embedded default of `orrery run`; [`PostgresStore`],
//! for the distributed mode where several processes share the state, implements the same trait with the same
//! statements (`src/backend.rs`, `src/sql.rs`) and its own migrations (`migrations/postgres`). Each
//! method is one transaction, so a crash between calls never leaves half of an operation behind (a
//! character without its ship, a mapping without its epoch).
//!
//! ## Why sqlx
//!
//! One async crate covers both SQLite and PostgreSQL with connection pools, transactions and embedded
//! migrations, so the PostgreSQL store will share this trait and most of the SQL (the statements, in
//! `src/sql.rs`, are written in the dialect both accept). Queries are built at run time (`sqlx::query`),
//! not with the compile-time checked macros, so building the crate needs no database. Migrations are
//! compiled in and applied on open.
//!
//! ## What the store guarantees
//!
//! - Usernames and character names are unique ignoring case ([`StoreError::Conflict`]).
//! - Ship checkpoints never go back in time: a row is written only when its handoff sequence is at least
//!   the stored one ([`Store::save_ships`]), so a late checkpoint from the system a ship left is ignored.
//! - The mapping's epoch never goes back either ([`Store::save_mapping`]).
//! - Nothing read from the database is trusted: a negative id, a NULL or non-finite position, a value of
//!   the wrong type is [`StoreError::Corrupt`], never a panic.
//! - Concurrent writers wait for each other (SQLite: WAL journal and a 5 s busy timeout; PostgreSQL: row
//!   locks, taken in ship order so that checkpoints cannot deadlock) instead of failing.
//!
//! ```
//! use orrery_store::{NewShip, SqliteStore, Store};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = SqliteStore::in_memory().await?;
//! let account = store.create_account("Pilot", "$argon2id$...").await?;
//! let character = store.create_character(account, "Ava Kestrel", NewShip {
//!     system_id: 30000142,
//!     position: [1.0e6, 0.0, -2.5e5],
//!     velocity: [0.0; 3],
//!     ship_type_id: Some(587), // a Rifter (data/ship-types.csv)
//! }).await?;
//! let mut ship = character.ship;
//! ship.in_space = true;
//! assert_eq!(store.save_ships(&[ship]).await?, 1);
//! assert_eq!(store.ships_in_space().await?, vec![ship]);
//! # Ok::<(), orrery_store::StoreError>(())
//! # }).unwrap();
//! ```

mod backend;
mod economy;
mod error;
mod model;
mod postgres;
mod sql;
mod sqlite;
mod store;

use std::sync::Arc;

pub use economy::{
    Amount, DeskRow, EconomyBalances, EconomyBatch, EconomyLogRow, EconomyStore, FlowRow, HangarRow, HistoryRow,
    JournalRow, OrderRow, OrderState, OwnerRef, TradedItem, TransactionRow, WalletRow,
};
pub use error::StoreError;
pub use model::{
    AccountRecord, AddedSystem, CharacterRecord, Hull, KillAttacker, KillRecord, LossHulls, MappingRecord, MoveRequest,
    NewShip, SettingRow, ShipRow,
};
pub use postgres::{CONNECT_TIMEOUT, PostgresStore, create_scratch_database, redacted as redacted_url};
pub use sqlite::{BUSY_TIMEOUT, SqliteStore};
pub use store::Store;

/// Opens the store a URL names, for callers that do not care which backend it is.
///
/// - `sqlite:///path/to/orrery.db`, `sqlite:relative.db`, or a plain path: a [`SqliteStore`] on that file
///   (created if missing); `sqlite::memory:` for a throwaway one.
/// - `postgres://…` / `postgresql://…`: a [`PostgresStore`] on that database ([`StoreError::Unreachable`]
///   naming the server if it does not answer).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url).await?));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}
