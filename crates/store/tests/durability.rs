//! Persistence across restarts, migrations, opening by URL, and rows the store cannot trust.

mod common;

use common::{count, file_store, pilot};
use orrery_store::{ShipRow, SqliteStore, Store, StoreError};

#[tokio::test]
async fn reopening_a_file_keeps_everything() {
    let (_dir, path, store) = file_store().await;
    let (account, character, ship_id) = pilot(&store, "Survivor").await.unwrap();
    store.put_session_token("resume-me", account).await.unwrap();
    let ship = store.ship(ship_id).await.unwrap().unwrap();
    let checkpoint = ShipRow { system_id: 77, position: [1.0, 2.0, 3.0], handoff_seq: 4, in_space: true, ..ship };
    assert_eq!(store.save_ships(&[checkpoint]).await.unwrap(), 1);
    store.save_mapping(9, &[(77, 1), (78, 2)]).await.unwrap();
    store.put_setting("motd", "\"back soon\"").await.unwrap();
    let before = store.character(character).await.unwrap().unwrap();
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url).await.unwrap();
    assert_eq!(store.account_by_name("survivor-ACCOUNT").await.unwrap().unwrap().account_id, account);
    assert_eq!(store.account_for_token("resume-me").await.unwrap(), Some(account));
    assert_eq!(store.character(character).await.unwrap(), Some(before.clone()));
    assert_eq!(before.ship, checkpoint);
    assert_eq!(store.ships_in_space().await.unwrap(), vec![checkpoint]);
    let mapping = store.load_mapping().await.unwrap().unwrap();
    assert_eq!((mapping.epoch, mapping.assignments), (9, vec![(77, 1), (78, 2)]));
    assert_eq!(store.get_setting("motd").await.unwrap().unwrap().value, "\"back soon\"");
    // Ids keep growing after a restart.
    assert!(store.create_account("late", "h").await.unwrap() > account);

    // Dropped without close (a crash of the process): committed work is still there.
    store.put_setting("after", "1").await.unwrap();
    drop(store);
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.get_setting("after").await.unwrap().unwrap().value, "1");
}

#[tokio::test]
async fn migrations_are_applied_once() {
    let (_dir, path, store) = file_store().await;
    pilot(&store, "first").await.unwrap();
    let path = path.to_str().unwrap();
    // A second store on the same file while the first is open, then a third after both.
    let second = SqliteStore::open(path).await.unwrap();
    assert_eq!(second.characters(1).await.unwrap().len(), 1);
    store.close().await;
    second.close().await;
    let third = SqliteStore::open(path).await.unwrap();
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(third.pool())
        .await
        .unwrap();
    // Every migration exactly once (0001 initial, 0002 runtime systems, 0003 system moves, 0004 combat, 0005 the
    // economy).
    assert_eq!(applied, vec![(1, true), (2, true), (3, true), (4, true), (5, true)]);
    assert_eq!(count(&third, "accounts").await, 1);
}

#[tokio::test]
async fn the_store_sets_wal_foreign_keys_and_busy_timeout() {
    let (_dir, _path, store) = file_store().await;
    let journal: (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(journal.0.to_lowercase(), "wal");
    let fk: (i64,) = sqlx::query_as("PRAGMA foreign_keys").fetch_one(store.pool()).await.unwrap();
    assert_eq!(fk.0, 1);
    let sync: (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(store.pool()).await.unwrap();
    assert_eq!(sync.0, 1, "NORMAL");
    let busy: (i64,) = sqlx::query_as("PRAGMA busy_timeout").fetch_one(store.pool()).await.unwrap();
    assert_eq!(busy.0, 5000);
}

#[tokio::test]
async fn open_by_url_creates_directories_and_refuses_what_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("var/lib/orrery/cluster.db");
    let store = orrery_store::open(&format!("sqlite://{}", nested.display())).await.unwrap();
    store.create_account("x", "h").await.unwrap();
    assert!(nested.exists());
    drop(store);

    let memory = orrery_store::open("sqlite::memory:").await.unwrap();
    assert_eq!(memory.settings().await.unwrap(), vec![]);

    // A PostgreSQL URL where no server listens: an error naming the server (without the password).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for scheme in ["postgres", "postgresql"] {
        let url = format!("{scheme}://orrery:s3cret@127.0.0.1:{port}/orrery");
        let err = orrery_store::open(&url).await.err().expect("nobody listens there");
        let text = err.to_string();
        assert!(matches!(&err, StoreError::Unreachable { .. }), "{err:?}");
        assert!(text.contains(&format!("127.0.0.1:{port}")) && !text.contains("s3cret"), "{text}");
    }
    assert!(matches!(orrery_store::open("redis://x").await, Err(StoreError::InvalidUrl(_))));

    // A file where the directory should be.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let err = SqliteStore::open(blocker.join("db.sqlite").to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    // A file that is not a database.
    let err = SqliteStore::open(blocker.to_str().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_) | StoreError::Migrate(_)), "{err:?}");
}

/// Runs raw SQL on the in-memory store's single connection, with CHECK constraints and foreign keys off,
/// as a buggy tool or a hand edit might have written the file.
async fn tamper(store: &SqliteStore, sql: &str) {
    sqlx::query("PRAGMA ignore_check_constraints = ON").execute(store.pool()).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = OFF").execute(store.pool()).await.unwrap();
    sqlx::query(sql).execute(store.pool()).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON").execute(store.pool()).await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = OFF").execute(store.pool()).await.unwrap();
}

fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>, mentions: &str) {
    match result {
        Err(StoreError::Corrupt { what }) => assert!(what.contains(mentions), "{what:?} should mention {mentions:?}"),
        other => panic!("expected Corrupt mentioning {mentions:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let store = SqliteStore::in_memory().await.unwrap();
    let (account, character, ship_id) = pilot(&store, "victim").await.unwrap();
    let ship = store.ship(ship_id).await.unwrap().unwrap();
    assert_eq!(store.save_ships(&[ShipRow { in_space: true, ..ship }]).await.unwrap(), 1);

    // Negative account id.
    tamper(
        &store,
        "INSERT INTO accounts (account_id, username, username_key, password_hash, created_at_ms) \
         VALUES (-7, 'neg', 'neg', 'h', 0)",
    )
    .await;
    assert_corrupt(store.account_by_name("neg").await, "-7");
    // A negative account id behind a session token.
    tamper(&store, "INSERT INTO session_tokens (token_hash, account_id, created_at_ms) VALUES ('t', -7, 0)").await;
    assert_corrupt(store.account_for_token("t").await, "-7");

    // Non-finite and non-numeric positions.
    tamper(&store, &format!("UPDATE ships SET pos_x = 1e999 WHERE ship_id = {ship_id}")).await;
    assert_corrupt(store.ship(ship_id).await, "pos_x");
    assert_corrupt(store.ships_in_space().await, "pos_x");
    assert_corrupt(store.character(character).await, "pos_x");
    assert_corrupt(store.characters(account).await, "pos_x");
    tamper(&store, &format!("UPDATE ships SET pos_x = 1.0, vel_y = 'north' WHERE ship_id = {ship_id}")).await;
    assert_corrupt(store.ship(ship_id).await, "vel_y");

    // Out-of-range system, negative sequence, a boolean that is neither.
    tamper(&store, &format!("UPDATE ships SET vel_y = 0.0, system_id = 4294967296 WHERE ship_id = {ship_id}")).await;
    assert_corrupt(store.ship(ship_id).await, "system_id");
    tamper(&store, &format!("UPDATE ships SET system_id = 1, handoff_seq = -1 WHERE ship_id = {ship_id}")).await;
    assert_corrupt(store.ship(ship_id).await, "handoff_seq");
    tamper(&store, &format!("UPDATE ships SET handoff_seq = 0, in_space = 7 WHERE ship_id = {ship_id}")).await;
    assert_corrupt(store.ship(ship_id).await, "in_space");
    tamper(&store, &format!("UPDATE ships SET in_space = 1 WHERE ship_id = {ship_id}")).await;
    assert!(store.ship(ship_id).await.unwrap().is_some(), "repaired");

    // A ship with a negative id, found by the in-space scan.
    tamper(
        &store,
        &format!(
            "INSERT INTO ships (ship_id, character_id, system_id, pos_x, pos_y, pos_z, vel_x, vel_y, vel_z, \
         handoff_seq, in_space, updated_at_ms) VALUES (-2, {character}, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0)"
        ),
    )
    .await;
    assert_corrupt(store.ships_in_space().await, "-2");
    tamper(&store, "DELETE FROM ships WHERE ship_id = -2").await;

    // A character whose active ship is missing (NULL pointer) or dangling (the join yields NULL columns).
    tamper(
        &store,
        &format!(
            "INSERT INTO characters (character_id, account_id, name, name_key, ship_id, created_at_ms) \
             VALUES (50, {account}, 'shipless', 'shipless', NULL, 0)"
        ),
    )
    .await;
    assert_corrupt(store.character(50).await, "no active ship");
    tamper(&store, "UPDATE characters SET ship_id = 9999 WHERE character_id = 50").await;
    assert_corrupt(store.character(50).await, "NULL");
    // Its active ship belongs to someone else.
    tamper(&store, &format!("UPDATE characters SET ship_id = {ship_id} WHERE character_id = 50")).await;
    assert_corrupt(store.character(50).await, "belongs to character");
    assert_corrupt(store.characters(account).await, "character_id 50");

    // Mapping and settings.
    store.save_mapping(1, &[(1, 1)]).await.unwrap();
    tamper(&store, "UPDATE mapping SET node_id = -1").await;
    assert_corrupt(store.load_mapping().await, "node_id");
    tamper(&store, "UPDATE mapping_epoch SET epoch = -5").await;
    assert_corrupt(store.load_mapping().await, "epoch");
    store.put_setting("k", "1").await.unwrap();
    tamper(&store, "UPDATE settings SET updated_at_ms = -1").await;
    assert_corrupt(store.settings().await, "updated_at_ms");
    tamper(&store, "UPDATE settings SET updated_at_ms = 0, value = X'FF00'").await;
    assert_corrupt(store.get_setting("k").await, "value");
}
