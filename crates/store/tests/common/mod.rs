//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use orrery_store::{NewShip, SqliteStore, Store, StoreError};

/// A store on a fresh file in a temporary directory (kept alive by the returned guard).
pub async fn file_store() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("orrery.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 temp path")).await.expect("open a fresh store");
    (dir, path, store)
}

/// A ship at rest in Jita-ish space.
pub fn new_ship(system_id: u32, x: f64) -> NewShip {
    NewShip { system_id, position: [x, -2.0, 3.5e9], velocity: [0.0, 10.0, -0.5] }
}

/// An account with one character; returns (account id, character id, ship id).
pub async fn pilot(store: &dyn Store, name: &str) -> Result<(u64, u64, u64), StoreError> {
    let account = store.create_account(&format!("{name}-account"), "$argon2id$hash").await?;
    let character = store.create_character(account, name, new_ship(30000142, 1.0)).await?;
    Ok((account, character.character_id, character.ship.ship_id))
}

/// Rows in a table, straight from SQL.
pub async fn count(store: &SqliteStore, table: &str) -> i64 {
    let row: (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(store.pool()).await.expect("count rows");
    row.0
}
