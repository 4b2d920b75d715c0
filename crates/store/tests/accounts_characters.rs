//! Accounts, session tokens, characters and their first ships: conformance cases, run against SQLite and
//! PostgreSQL alike (PostgreSQL through `ORRERY_TEST_POSTGRES_URL`, see scripts/services.sh).

mod common;

use common::{Backend, new_ship, pilot};
use orrery_store::{NewShip, StoreError};

async fn accounts_are_created_found_and_unique_ignoring_case(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let id = store.create_account("Pilot", "$argon2id$one").await.unwrap();
    assert!(id >= 1);

    let found = store.account_by_name("pILOT").await.unwrap().expect("found ignoring case");
    assert_eq!(found.account_id, id);
    assert_eq!(found.username, "Pilot", "the name as typed at creation");
    assert_eq!(found.password_hash, "$argon2id$one");
    assert_eq!(store.account_by_name("nobody").await.unwrap(), None);

    let err = store.create_account("PILOT", "$argon2id$two").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // Not just ASCII: the key is the Unicode lowercase.
    store.create_account("Ålesund", "h").await.unwrap();
    assert!(matches!(store.create_account("ÅLESUND", "h").await, Err(StoreError::Conflict { .. })));

    let other = store.create_account("Another", "h").await.unwrap();
    assert_ne!(other, id);
    assert_eq!(fresh.count("accounts").await, 3);
}

async fn session_tokens_put_lookup_delete(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let a = store.create_account("a", "h").await.unwrap();
    let b = store.create_account("b", "h").await.unwrap();

    store.put_session_token("tok-hash-1", a).await.unwrap();
    store.put_session_token("tok-hash-2", a).await.unwrap();
    assert_eq!(store.account_for_token("tok-hash-1").await.unwrap(), Some(a));
    assert_eq!(store.account_for_token("tok-hash-2").await.unwrap(), Some(a));
    assert_eq!(store.account_for_token("unknown").await.unwrap(), None);

    // Putting a token again re-points it.
    store.put_session_token("tok-hash-2", b).await.unwrap();
    assert_eq!(store.account_for_token("tok-hash-2").await.unwrap(), Some(b));

    store.delete_session_token("tok-hash-1").await.unwrap();
    assert_eq!(store.account_for_token("tok-hash-1").await.unwrap(), None);
    store.delete_session_token("tok-hash-1").await.unwrap(); // unknown: not an error
    assert_eq!(store.account_for_token("tok-hash-2").await.unwrap(), Some(b));

    let err = store.put_session_token("tok-hash-3", 999).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.put_session_token("tok-hash-3", 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(matches!(store.put_session_token("t", u64::MAX).await, Err(StoreError::Invalid { .. })));
}

async fn character_and_ship_are_created_together(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let account = store.create_account("owner", "h").await.unwrap();
    let ship = NewShip {
        system_id: 30000142,
        position: [1.5e10, -3.0, 7.25],
        velocity: [100.0, 0.0, -1.0],
        ship_type_id: None,
    };
    let created = store.create_character(account, "Ava Kestrel", ship).await.unwrap();

    assert_eq!(created.account_id, account);
    assert_eq!(created.name, "Ava Kestrel");
    assert_eq!(created.ship.character_id, created.character_id);
    assert_eq!(created.ship.system_id, 30000142);
    assert_eq!(created.ship.position, ship.position);
    assert_eq!(created.ship.velocity, ship.velocity);
    assert_eq!(created.ship.handoff_seq, 0);
    assert!(!created.ship.in_space);

    assert_eq!(store.character(created.character_id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.ship(created.ship.ship_id).await.unwrap(), Some(created.ship));
    assert_eq!(store.character(created.character_id + 100).await.unwrap(), None);
    assert_eq!(store.character(0).await.unwrap(), None);
    assert_eq!(store.character(u64::MAX).await.unwrap(), None);
    assert_eq!(store.ship(0).await.unwrap(), None);
}

async fn duplicate_character_name_conflicts_and_leaves_no_orphan_ship(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (account, _, _) = pilot(&*store, "Ava Kestrel").await.unwrap();
    assert_eq!((fresh.count("characters").await, fresh.count("ships").await), (1, 1));

    let err = store.create_character(account, "AVA KESTREL", new_ship(1, 0.0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let other = store.create_account("someone else", "h").await.unwrap();
    let err = store.create_character(other, "ava kestrel", new_ship(1, 0.0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "names are unique across accounts: {err:?}");

    // A missing account and a non-finite position fail whole too.
    let err = store.create_character(424242, "Nobody's", new_ship(1, 0.0)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let bad = NewShip { system_id: 1, position: [f64::NAN, 0.0, 0.0], velocity: [0.0; 3], ship_type_id: None };
    assert!(matches!(store.create_character(account, "Nan", bad).await, Err(StoreError::Invalid { .. })));
    let bad = NewShip { system_id: 1, position: [0.0; 3], velocity: [0.0, f64::INFINITY, 0.0], ship_type_id: None };
    assert!(matches!(store.create_character(account, "Inf", bad).await, Err(StoreError::Invalid { .. })));

    assert_eq!((fresh.count("characters").await, fresh.count("ships").await), (1, 1), "no orphan rows");
    // The failed attempts did not poison the connection: the next creation works.
    store.create_character(account, "Second", new_ship(2, 0.0)).await.unwrap();
    assert_eq!((fresh.count("characters").await, fresh.count("ships").await), (2, 2));
}

async fn characters_are_listed_per_account_oldest_first(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let a = store.create_account("a", "h").await.unwrap();
    let b = store.create_account("b", "h").await.unwrap();
    let a1 = store.create_character(a, "A one", new_ship(10, 1.0)).await.unwrap();
    let b1 = store.create_character(b, "B one", new_ship(20, 2.0)).await.unwrap();
    let a2 = store.create_character(a, "A two", new_ship(30, 3.0)).await.unwrap();

    assert_eq!(store.characters(a).await.unwrap(), vec![a1, a2]);
    assert_eq!(store.characters(b).await.unwrap(), vec![b1]);
    let c = store.create_account("c", "h").await.unwrap();
    assert_eq!(store.characters(c).await.unwrap(), vec![]);
    assert_eq!(store.characters(0).await.unwrap(), vec![]);
}

on_both_backends!(
    accounts_are_created_found_and_unique_ignoring_case,
    session_tokens_put_lookup_delete,
    character_and_ship_are_created_together,
    duplicate_character_name_conflicts_and_leaves_no_orphan_ship,
    characters_are_listed_per_account_oldest_first,
);
