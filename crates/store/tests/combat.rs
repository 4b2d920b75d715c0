//! Ships' hulls and damage, kill reports, and what a loss does to its pilot: conformance cases, run against
//! SQLite and PostgreSQL alike (PostgreSQL through `ORRERY_TEST_POSTGRES_URL`, see scripts/services.sh).

mod common;

use common::{Backend, pilot};
use orrery_store::{Hull, KillAttacker, KillRecord, LossHulls, ShipRow, StoreError};

const RIFTER: u32 = 587;
const TEMPEST: u32 = 639;
const CAPSULE: u32 = 670;
const HULLS: LossHulls = LossHulls { capsule: CAPSULE, respawn: RIFTER };

fn attacker(ship_id: u64, damage: f64) -> KillAttacker {
    KillAttacker { ship_id, character_id: ship_id + 1000, ship_type_id: RIFTER, damage }
}

fn kill(system_id: u32, victim: (u64, u64), capsule: bool) -> KillRecord {
    KillRecord {
        kill_id: 0,
        system_id,
        tick: 42,
        sim_time_ms: 4200,
        killed_at_ms: 0,
        victim_ship_id: victim.0,
        victim_character_id: victim.1,
        ship_type_id: if capsule { CAPSULE } else { RIFTER },
        capsule,
        position: [1.0, -2.0, 3.5],
        final_blow: attacker(77, 40.0),
        attackers: vec![attacker(76, 900.0), attacker(77, 250.5)],
    }
}

async fn hulls_and_damage_survive_a_checkpoint(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, _, ship_id) = pilot(&*store, "damaged").await.unwrap();
    let ship = store.ship(ship_id).await.unwrap().unwrap();
    assert_eq!(ship.hull, Some(Hull { type_id: RIFTER, hit_points: None }), "a new ship is a fresh frigate");
    let damaged = ShipRow { hull: Some(Hull { type_id: RIFTER, hit_points: Some([0.0, 120.5, 350.0]) }), ..ship };
    assert_eq!(store.save_ships(&[damaged]).await.unwrap(), 1);
    assert_eq!(store.ship(ship_id).await.unwrap().unwrap().hull, damaged.hull);
    // A checkpoint without a hull keeps the stored type.
    assert_eq!(store.save_ships(&[ShipRow { hull: None, ..ship }]).await.unwrap(), 1);
    assert_eq!(store.ship(ship_id).await.unwrap().unwrap().hull, Some(Hull { type_id: RIFTER, hit_points: None }));
    // Non-finite hit points are refused with the batch.
    let bad = ShipRow { hull: Some(Hull { type_id: RIFTER, hit_points: Some([f64::NAN, 0.0, 1.0]) }), ..ship };
    assert!(matches!(store.save_ships(&[bad]).await, Err(StoreError::Invalid { .. })));
    // Half-set hit points are corruption, named.
    fresh.execute(&format!("UPDATE ships SET shield_hp = 5 WHERE ship_id = {ship_id}")).await;
    match store.ship(ship_id).await {
        Err(StoreError::Corrupt { what }) => assert!(what.contains("all set or all NULL"), "{what}"),
        other => panic!("expected corruption, got {other:?}"),
    }
}

async fn an_operator_gives_a_ship_by_sql(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, character, ship_id) = pilot(&*store, "lucky").await.unwrap();
    // The statement docs/combat.md gives operators.
    fresh
        .execute(&format!(
            "UPDATE ships SET type_id = {TEMPEST}, shield_hp = NULL, armour_hp = NULL, hull_hp = NULL \
             WHERE ship_id = {ship_id}"
        ))
        .await;
    let record = store.character(character).await.unwrap().unwrap();
    assert_eq!(record.ship.hull, Some(Hull { type_id: TEMPEST, hit_points: None }));
}

async fn a_lost_ship_leaves_its_pilot_in_a_capsule(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, character, ship_id) = pilot(&*store, "victim").await.unwrap();
    let ids = store.save_kills(&[kill(30000142, (ship_id, character), false)], HULLS).await.unwrap();
    assert_eq!(ids.len(), 1);
    let ship = store.ship(ship_id).await.unwrap().unwrap();
    assert_eq!(ship.hull, Some(Hull { type_id: CAPSULE, hit_points: None }), "the same ship id is now a pod");
    assert_eq!(store.character(character).await.unwrap().unwrap().ship.ship_id, ship_id);

    let stored = store.kills(None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let report = &stored[0];
    assert_eq!(report.kill_id, ids[0]);
    assert!(report.killed_at_ms > 0, "stamped with the time it was stored");
    let expected = KillRecord {
        kill_id: ids[0],
        killed_at_ms: report.killed_at_ms,
        ..kill(30000142, (ship_id, character), false)
    };
    assert_eq!(report, &expected, "every field and every attacker, in order");
}

async fn a_lost_capsule_wakes_its_pilot_at_home_in_a_new_frigate(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, character, ship_id) = pilot(&*store, "podded").await.unwrap();
    let home = store.ship(ship_id).await.unwrap().unwrap().system_id;
    // The pod flew elsewhere and was in space when it died.
    let away = ShipRow {
        system_id: 30000144,
        in_space: true,
        hull: Some(Hull { type_id: CAPSULE, hit_points: Some([0.0, 0.0, 12.0]) }),
        ..store.ship(ship_id).await.unwrap().unwrap()
    };
    store.save_ships(&[away]).await.unwrap();
    let pod_kill = kill(30000144, (ship_id, character), true);
    store.save_kills(std::slice::from_ref(&pod_kill), HULLS).await.unwrap();

    let record = store.character(character).await.unwrap().unwrap();
    assert_ne!(record.ship.ship_id, ship_id, "a new active ship");
    assert_eq!(record.ship.system_id, home, "docked at home");
    assert!(!record.ship.in_space);
    assert_eq!(record.ship.hull, Some(Hull { type_id: RIFTER, hit_points: None }));
    assert!(!store.ship(ship_id).await.unwrap().unwrap().in_space, "the lost pod is out of space");
    assert!(store.ships_in_space().await.unwrap().is_empty());

    // The same pod reported lost again (a retried write) does not respawn the pilot twice.
    store.save_kills(&[pod_kill], HULLS).await.unwrap();
    assert_eq!(store.character(character).await.unwrap().unwrap().ship.ship_id, record.ship.ship_id);
    assert_eq!(fresh.count("ships").await, 2);
}

async fn kills_are_listed_newest_first_by_system(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, character, ship_id) = pilot(&*store, "often").await.unwrap();
    for system in [1, 2, 1, 1] {
        store.save_kills(&[kill(system, (ship_id, character), false)], HULLS).await.unwrap();
    }
    let all = store.kills(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|k| k.system_id).collect::<Vec<_>>(), vec![1, 1, 2, 1]);
    assert!(all.windows(2).all(|w| w[0].kill_id > w[1].kill_id), "newest first");
    let in_one = store.kills(Some(1), 2).await.unwrap();
    assert_eq!(in_one.len(), 2, "limited");
    assert!(in_one.iter().all(|k| k.system_id == 1));
    assert!(store.kills(Some(3), 10).await.unwrap().is_empty());
}

async fn a_bad_kill_report_stores_nothing(backend: Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.clone();
    let (_, character, ship_id) = pilot(&*store, "careful").await.unwrap();
    let good = kill(1, (ship_id, character), false);
    let mut bad = good.clone();
    bad.attackers[1].damage = f64::INFINITY;
    assert!(matches!(store.save_kills(&[good, bad], HULLS).await, Err(StoreError::Invalid { .. })));
    assert_eq!(fresh.count("kills").await, 0);
    assert_eq!(store.ship(ship_id).await.unwrap().unwrap().hull.map(|h| h.type_id), Some(RIFTER), "not ejected");
}

on_both_backends!(
    hulls_and_damage_survive_a_checkpoint,
    an_operator_gives_a_ship_by_sql,
    a_lost_ship_leaves_its_pilot_in_a_capsule,
    a_lost_capsule_wakes_its_pilot_at_home_in_a_new_frigate,
    kills_are_listed_newest_first_by_system,
    a_bad_kill_report_stores_nothing,
);
