//! Ship checkpoints and the handoff rule, the mapping, settings, and concurrent writers: conformance cases,
//! run against SQLite and PostgreSQL alike (PostgreSQL through `ORRERY_TEST_POSTGRES_URL`, see
//! scripts/services.sh).

mod common;

use common::{Backend, pilot};
use orrery_store::{ShipRow, StoreError};

fn moved(ship: ShipRow, x: f64, system_id: u32, handoff_seq: u64) -> ShipRow {
    ShipRow { position: [x, 0.0, 0.0], system_id, handoff_seq, ..ship }
}

async fn save_ships_writes_a_batch(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let mut ships = Vec::new();
    for name in ["one", "two", "three"] {
        let (_, character, ship_id) = pilot(&*store, name).await.unwrap();
        let ship = store.ship(ship_id).await.unwrap().unwrap();
        assert_eq!(ship.character_id, character);
        ships.push(ship);
    }
    let batch: Vec<ShipRow> = ships
        .iter()
        .enumerate()
        .map(|(i, s)| ShipRow { velocity: [i as f64, 1.0, 2.0], ..moved(*s, 1000.0 * i as f64, 7, 0) })
        .collect();
    assert_eq!(store.save_ships(&batch).await.unwrap(), 3);
    for row in &batch {
        assert_eq!(store.ship(row.ship_id).await.unwrap().as_ref(), Some(row));
    }
    assert_eq!(store.save_ships(&[]).await.unwrap(), 0);
}

async fn older_handoff_sequence_is_ignored_equal_and_newer_are_written(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, _, ship_id) = pilot(&*store, "jumper").await.unwrap();
    let ship = store.ship(ship_id).await.unwrap().unwrap();

    // Jumped twice: system 2 with seq 2 is the truth.
    let current = moved(ship, 5.0, 2, 2);
    assert_eq!(store.save_ships(&[current]).await.unwrap(), 1);

    // A late checkpoint from the system it left (seq 1) must not move it back.
    assert_eq!(store.save_ships(&[moved(ship, 99.0, 1, 1)]).await.unwrap(), 0);
    assert_eq!(store.ship(ship_id).await.unwrap(), Some(current));

    // Same sequence: the current system's next checkpoint.
    let later = moved(ship, 6.0, 2, 2);
    assert_eq!(store.save_ships(&[later]).await.unwrap(), 1);
    assert_eq!(store.ship(ship_id).await.unwrap(), Some(later));

    // Newer: the next jump.
    let next = moved(ship, 7.0, 3, 3);
    assert_eq!(store.save_ships(&[moved(ship, 0.0, 1, 1), next]).await.unwrap(), 1, "stale row skipped in a batch");
    assert_eq!(store.ship(ship_id).await.unwrap(), Some(next));

    // The largest sequence the store can hold.
    let far = moved(ship, 8.0, 4, i64::MAX as u64);
    assert_eq!(store.save_ships(&[far]).await.unwrap(), 1);
    assert_eq!(store.ship(ship_id).await.unwrap(), Some(far));
}

async fn unknown_ships_and_wrong_owners_are_skipped_bad_batches_refused_whole(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, a_char, a_ship) = pilot(&*store, "a").await.unwrap();
    let (_, b_char, b_ship) = pilot(&*store, "b").await.unwrap();
    let a = store.ship(a_ship).await.unwrap().unwrap();

    let unknown = ShipRow { ship_id: 999, ..a };
    let wrong_owner = ShipRow { ship_id: b_ship, character_id: a_char, ..a };
    assert_eq!(store.save_ships(&[unknown, wrong_owner]).await.unwrap(), 0);
    assert_eq!(store.ship(999).await.unwrap(), None);
    assert_eq!(store.ship(b_ship).await.unwrap().unwrap().character_id, b_char);

    let good = moved(a, 123.0, 9, 1);
    for bad in [
        ShipRow { position: [f64::NAN, 0.0, 0.0], ..a },
        ShipRow { velocity: [0.0, 0.0, f64::NEG_INFINITY], ..a },
        ShipRow { ship_id: 0, ..a },
        ShipRow { character_id: u64::MAX, ..a },
        ShipRow { handoff_seq: u64::MAX, ..a },
    ] {
        let err = store.save_ships(&[good, bad]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    }
    assert_eq!(store.ship(a_ship).await.unwrap(), Some(a), "the good row of a refused batch is not written");
}

async fn in_space_flag_round_trips(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let mut ids = Vec::new();
    for name in ["x", "y", "z"] {
        ids.push(pilot(&*store, name).await.unwrap().2);
    }
    assert_eq!(store.ships_in_space().await.unwrap(), vec![]);

    let undock = |id: u64, in_space: bool| {
        let store = &store;
        async move {
            let ship = store.ship(id).await.unwrap().unwrap();
            let ship = ShipRow { in_space, ..ship };
            assert_eq!(store.save_ships(&[ship]).await.unwrap(), 1);
            ship
        }
    };
    let x = undock(ids[0], true).await;
    let z = undock(ids[2], true).await;
    assert_eq!(store.ships_in_space().await.unwrap(), vec![x, z]);
    assert!(store.ship(ids[0]).await.unwrap().unwrap().in_space);

    undock(ids[0], false).await;
    assert_eq!(store.ships_in_space().await.unwrap(), vec![z]);
    assert!(!store.ship(ids[0]).await.unwrap().unwrap().in_space);
}

async fn mapping_is_replaced_with_its_epoch(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    assert_eq!(store.load_mapping().await.unwrap(), None);

    store.save_mapping(1, &[(30, 2), (10, 1), (20, 1)]).await.unwrap();
    let loaded = store.load_mapping().await.unwrap().unwrap();
    assert_eq!(loaded.epoch, 1);
    assert_eq!(loaded.assignments, vec![(10, 1), (20, 1), (30, 2)], "sorted by system");

    // Replaced whole: system 10 is gone, not left over.
    store.save_mapping(2, &[(20, 3), (30, 3), (u32::MAX, u32::MAX)]).await.unwrap();
    let loaded = store.load_mapping().await.unwrap().unwrap();
    assert_eq!((loaded.epoch, loaded.assignments), (2, vec![(20, 3), (30, 3), (u32::MAX, u32::MAX)]));

    // The same epoch again is allowed; an older one is a conflict and changes nothing.
    store.save_mapping(2, &[(20, 4)]).await.unwrap();
    let err = store.save_mapping(1, &[(1, 1)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("older than the stored epoch 2"), "{err}");
    let loaded = store.load_mapping().await.unwrap().unwrap();
    assert_eq!((loaded.epoch, loaded.assignments), (2, vec![(20, 4)]));

    let err = store.save_mapping(3, &[(5, 1), (6, 1), (5, 2)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(matches!(store.save_mapping(u64::MAX, &[]).await, Err(StoreError::Invalid { .. })));

    store.save_mapping(3, &[]).await.unwrap();
    let loaded = store.load_mapping().await.unwrap().unwrap();
    assert_eq!((loaded.epoch, loaded.assignments), (3, vec![]));
}

async fn settings_round_trip(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    assert_eq!(store.settings().await.unwrap(), vec![]);
    assert_eq!(store.get_setting("tidi.floor").await.unwrap(), None);

    store.put_setting("tidi.floor", "0.1").await.unwrap();
    store.put_setting("motd", r#""Fly safe""#).await.unwrap();
    store.put_setting("tidi.floor", "0.25").await.unwrap();

    let all = store.settings().await.unwrap();
    let pairs: Vec<(&str, &str)> = all.iter().map(|s| (s.key.as_str(), s.value.as_str())).collect();
    assert_eq!(pairs, vec![("motd", r#""Fly safe""#), ("tidi.floor", "0.25")]);
    let floor = store.get_setting("tidi.floor").await.unwrap().unwrap();
    assert_eq!(floor.value, "0.25");
    assert!(floor.updated_at_ms > 1_600_000_000_000, "stamped with the wall clock: {}", floor.updated_at_ms);
    assert_eq!(fresh.count("settings").await, 2);
}

async fn concurrent_writers_wait_instead_of_failing(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let mut ships = Vec::new();
    let mut account = 0;
    for i in 0..8 {
        let (a, _, id) = pilot(&*store, &format!("pilot {i}")).await.unwrap();
        account = a;
        ships.push(store.ship(id).await.unwrap().unwrap());
    }

    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let store = store.clone();
            let ships = ships.clone();
            tokio::spawn(async move {
                let mut written = 0;
                for round in 0..30u64 {
                    // Every task checkpoints every ship: overlapping rows, so writers really contend.
                    let seq = round * 8 + task;
                    let batch: Vec<ShipRow> = ships.iter().map(|s| moved(*s, seq as f64, 1, seq)).collect();
                    written += store.save_ships(&batch).await?;
                    if round % 10 == 0 {
                        // Readers and other writers beside the checkpoints.
                        store.ships_in_space().await?;
                        store.create_character(account, &format!("t{task}r{round}"), common::new_ship(1, 0.0)).await?;
                    }
                }
                Ok::<usize, StoreError>(written)
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task panicked").expect("no write failed (busy timeout)");
    }
    assert!(total > 0);
    // Whatever the interleaving, every ship ends at the largest sequence any task sent.
    let last = 29 * 8 + 7;
    for ship in &ships {
        let stored = store.ship(ship.ship_id).await.unwrap().unwrap();
        assert_eq!((stored.handoff_seq, stored.position[0]), (last, last as f64));
    }
}

async fn added_systems_stargates_and_invites_round_trip_and_bad_rows_are_reported_alone(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    fresh
        .execute(
            "INSERT INTO added_systems (system_id, name, x, y, z, security, arena) VALUES \
             (7, 'Seven', 1.5, 0, -2, 0.4, 0), (8, 'Arena', 0, 0, 0, 0, 1), (9, '  ', 0, 0, 0, 0, 0)",
        )
        .await;
    fresh.execute("INSERT INTO added_stargates (from_system, to_system) VALUES (7, 30000142)").await;
    fresh.execute("INSERT INTO arena_invites (system_id, character_id) VALUES (8, 5), (9, 5)").await;
    let rows = store.added_systems().await.unwrap();
    assert_eq!(rows.len(), 3);
    let seven = rows[0].as_ref().unwrap();
    assert_eq!(
        (seven.system_id, seven.name.as_str(), seven.position, seven.arena),
        (7, "Seven", [1.5, 0.0, -2.0], false)
    );
    assert!(rows[1].as_ref().unwrap().arena);
    let bad = rows[2].as_ref().unwrap_err().to_string();
    assert!(bad.contains("added system 9") && bad.contains("empty name"), "{bad}");
    assert_eq!(store.added_stargates().await.unwrap(), vec![(7, 30000142)]);
    // The first invitation by system id, each used once.
    assert_eq!(store.take_invite(5).await.unwrap(), Some(8));
    assert_eq!(store.take_invite(5).await.unwrap(), Some(9));
    assert_eq!(store.take_invite(5).await.unwrap(), None, "an invitation is used once");
    assert_eq!(store.take_invite(6).await.unwrap(), None);
}

async fn move_requests_by_sql_are_pending_until_finished(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    assert!(store.pending_moves().await.unwrap().is_empty());
    fresh.execute("INSERT INTO system_moves (system_id, node_id) VALUES (30000142, 1), (30000144, 0)").await;
    let pending = store.pending_moves().await.unwrap();
    assert_eq!(
        pending.iter().map(|m| (m.system_id, m.node_id)).collect::<Vec<_>>(),
        vec![(30000142, 1), (30000144, 0)]
    );
    assert!(pending[0].move_id < pending[1].move_id, "oldest first");
    store.finish_move(pending[0].move_id, "{\"epoch\":2}").await.unwrap();
    let left = store.pending_moves().await.unwrap();
    assert_eq!(left, vec![pending[1]], "a finished request is no longer pending");
}

on_both_backends!(
    move_requests_by_sql_are_pending_until_finished,
    save_ships_writes_a_batch,
    older_handoff_sequence_is_ignored_equal_and_newer_are_written,
    unknown_ships_and_wrong_owners_are_skipped_bad_batches_refused_whole,
    in_space_flag_round_trips,
    mapping_is_replaced_with_its_epoch,
    settings_round_trip,
    concurrent_writers_wait_instead_of_failing,
    added_systems_stargates_and_invites_round_trip_and_bad_rows_are_reported_alone,
);
