//! What only a server database can do to the store: its connection dies in the middle of a transaction.
//! (SQLite has no connection to lose; a process dying mid-write is its durability tests' business.)
//! Needs `ORRERY_TEST_POSTGRES_URL` (scripts/services.sh); fails, saying so, without it.

mod common;

use std::time::{Duration, Instant};

use common::{pilot, postgres_store};
use orrery_store::{ShipRow, Store, StoreError};
use sqlx::Connection as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_transaction_applies_nothing_and_the_store_goes_on() {
    let store = postgres_store().await;
    let mut ships = Vec::new();
    for name in ["one", "two", "three"] {
        let (_, _, ship_id) = pilot(&store, name).await.unwrap();
        ships.push(store.ship(ship_id).await.unwrap().unwrap());
    }
    let last = ships.iter().map(|ship| ship.ship_id).max().unwrap();
    let moved: Vec<ShipRow> = ships
        .iter()
        .map(|ship| ShipRow { position: [9.0, 9.0, 9.0], handoff_seq: 1, in_space: true, ..*ship })
        .collect();

    // An operator's session holds the last ship's row: the checkpoint updates the others (in ship order),
    // then waits for that lock, inside its transaction.
    let mut operator = sqlx::PgConnection::connect_with(&store.pool().connect_options()).await.unwrap();
    let mut blocker = operator.begin().await.unwrap();
    sqlx::query("SELECT ship_id FROM ships WHERE ship_id = $1 FOR UPDATE")
        .bind(last as i64)
        .fetch_one(&mut *blocker)
        .await
        .unwrap();
    let writer = {
        let store = store.clone();
        let moved = moved.clone();
        tokio::spawn(async move { store.save_ships(&moved).await })
    };

    // Find the checkpoint's backend waiting on the lock, and kill its connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    let waiting = loop {
        let row: Option<(i32,)> = sqlx::query_as(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_optional(store.pool())
        .await
        .unwrap();
        if let Some((pid,)) = row {
            break pid;
        }
        assert!(Instant::now() < deadline, "the checkpoint never waited for the row lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (killed,): (bool,) =
        sqlx::query_as("SELECT pg_terminate_backend($1)").bind(waiting).fetch_one(store.pool()).await.unwrap();
    assert!(killed);
    blocker.rollback().await.unwrap();

    let outcome = writer.await.expect("the checkpoint task ends");
    assert!(matches!(outcome, Err(StoreError::Database(_))), "{outcome:?}");
    // Nothing of the batch was applied, not even the rows updated before the connection died.
    for ship in &ships {
        assert_eq!(store.ship(ship.ship_id).await.unwrap().as_ref(), Some(ship), "ship {} unchanged", ship.ship_id);
    }
    // The pool replaces the dead connection: the same checkpoint goes through now.
    assert_eq!(store.save_ships(&moved).await.unwrap(), 3);
    for ship in &moved {
        assert_eq!(store.ship(ship.ship_id).await.unwrap().as_ref(), Some(ship));
    }
}
