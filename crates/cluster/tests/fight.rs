//! Fights end to end over real sockets: pilots in their stored hulls lock and shoot, a loss is stored before
//! anyone hears of it and both sides hear of it, a lost ship leaves its pilot in a pod, a lost pod wakes its pilot
//! up at home in a new frigate, and damage survives a logout.

mod common;

use common::{Pilot, TestCluster, WAIT, pilot};
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, fight_event::Event};

const RIFTER: u32 = 587;
const CAPSULE: u32 = 670;

/// `hunter` locks `target` and switches every turret of its Rifter on it (module 3 is its disruptor).
async fn engage(hunter: &mut Pilot, target: u64) {
    let me = hunter.ship_id();
    hunter.command(Cmd::Lock(v1::Lock { target_id: target })).await;
    hunter
        .until(WAIT, "the lock", |p| {
            p.fight.iter().any(|e| matches!(e, Event::Locked(l) if l.ship_id == me && l.target_id == target))
        })
        .await;
    hunter.fight.clear();
    for module in 0..3 {
        hunter.command(Cmd::ActivateModule(v1::ActivateModule { module, target_id: target })).await;
    }
}

/// A test cluster whose simulation runs 30 times faster than the wall clock: ships that start tens of km apart
/// meet within seconds; the fight itself is the same (sub-steps of 100 ms of simulation).
async fn fast_cluster() -> TestCluster {
    TestCluster::start_with(|config| {
        config.sim_speed = 30.0;
        config.admin_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        config.admin_token = Some(TOKEN.into());
    })
    .await
}

const TOKEN: &str = "fight-admin-token-0123456789";

/// The hunter orbits the prey at 1.5 km, the prey flies towards the hunter (and stops once close).
async fn close_in(hunter: &mut Pilot, prey: &mut Pilot) {
    let (hunter_ship, prey_ship) = (hunter.ship_id(), prey.ship_id());
    hunter.until(WAIT, "seeing the prey", |p| p.ships.contains_key(&prey_ship)).await;
    hunter.command(Cmd::Orbit(v1::Orbit { object_id: prey_ship, radius_m: 1_500 })).await;
    prey.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::ObjectId(hunter_ship)) })).await;
    hunter.until(WAIT, "closing in", |p| p.distance_to_ship(prey_ship) < 8_000.0).await;
    prey.command(Cmd::Stop(v1::Stop {})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loss_is_stored_before_anyone_hears_of_it_and_a_lost_pod_wakes_up_at_home_in_a_frigate() {
    losses_are_stored_first_and_pods_wake_up_at_home(fast_cluster().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_and_postgres_a_loss_is_stored_first_and_a_lost_pod_wakes_up_at_home() {
    let postgres = orrery_store::create_scratch_database(&common::service("ORRERY_TEST_POSTGRES_URL"), "orrery_fight")
        .await
        .expect("a database of this test's own");
    let test = TestCluster::start_with(|config| {
        common::on_real_services(config, &postgres);
        config.sim_speed = 30.0;
    })
    .await;
    losses_are_stored_first_and_pods_wake_up_at_home(test).await;
}

async fn losses_are_stored_first_and_pods_wake_up_at_home(test: TestCluster) {
    let store = test.cluster.store().clone();
    let mut hunter = pilot(&test.addr(), "hunter").await;
    let system = hunter.system();
    let prey_name = common::name_starting_in(&test, system, "prey_");
    let mut prey = pilot(&test.addr(), &prey_name).await;
    let prey_ship = prey.ship_id();
    let prey_character = prey.character.character_id;
    let stored = store.ship(prey_ship).await.expect("store").expect("row");
    assert_eq!(stored.hull.map(|h| h.type_id), Some(RIFTER), "a new character starts in a frigate");

    close_in(&mut hunter, &mut prey).await;
    engage(&mut hunter, prey_ship).await;

    // The first delta that tells the hunter of the loss: by then the store has the report.
    hunter.until(WAIT * 3, "the frigate's loss", |p| !p.kills.is_empty()).await;
    let reports = store.kills(Some(system), 10).await.expect("kills");
    assert_eq!(reports.len(), 1, "stored before it was sent: {reports:?}");
    let report = &reports[0];
    assert_eq!(
        (report.victim_ship_id, report.victim_character_id, report.ship_type_id),
        (prey_ship, prey_character, RIFTER)
    );
    assert!(!report.capsule);
    assert_eq!(report.final_blow.ship_id, hunter.ship_id());
    assert_eq!(report.attackers.iter().map(|a| a.ship_id).collect::<Vec<_>>(), vec![hunter.ship_id()]);
    assert_eq!(hunter.kills[0].victim_ship_id, prey_ship);
    // The other side hears of it too.
    prey.until(WAIT, "its own loss", |p| p.kills.iter().any(|k| k.victim_ship_id == prey_ship)).await;
    // The pilot ejected: the same ship id, now a capsule, also in the store.
    let stored = store.ship(prey_ship).await.expect("store").expect("row");
    assert_eq!(stored.hull.map(|h| h.type_id), Some(CAPSULE));

    // The pod dies too: its pilot is sent home, docked in a new frigate, and can undock in it.
    engage(&mut hunter, prey_ship).await;
    prey.until(WAIT * 3, "being sent home", |p| p.respawned.is_some()).await;
    let respawned = prey.respawned.expect("respawned");
    assert_eq!((respawned.character_id, respawned.lost_ship_id), (prey_character, prey_ship));
    let reports = store.kills(Some(system), 10).await.expect("kills");
    assert!(reports[0].capsule && reports[0].victim_ship_id == prey_ship, "the pod's loss stored: {reports:?}");
    let record = store.character(prey_character).await.expect("store").expect("character");
    assert_ne!(record.ship.ship_id, prey_ship, "a new ship");
    assert_eq!(record.ship.hull.map(|h| h.type_id), Some(RIFTER));
    assert_eq!(record.ship.system_id, system, "at home (where the character was created)");
    let snapshot = prey.client.undock(prey_character).await.expect("undock in the new ship");
    assert_eq!(snapshot.your_ship_id, record.ship.ship_id);
    hunter.until(WAIT, "both kills", |p| p.kills.len() == 2).await;

    // Operators see the losses: the admin API lists them, newest first, and the busiest-systems view counts them.
    if test.cluster.admin_addr().is_some() {
        let (status, body) =
            common::http(&test, "GET", &format!("/api/v1/kills?system={system}&limit=5"), Some(TOKEN), None).await;
        assert_eq!(status, 200, "{body}");
        let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
        let listed = listed.as_array().expect("an array");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["capsule"], true);
        assert_eq!(listed[1]["victim"]["ship_type"], "Rifter");
        assert_eq!(listed[1]["final_blow"]["ship_id"], hunter.ship_id());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (_, body) = common::http(&test, "GET", "/api/v1/cluster", Some(TOKEN), None).await;
            let view: serde_json::Value = serde_json::from_str(&body).expect("json");
            let kills = view["systems"]
                .as_array()
                .and_then(|systems| systems.iter().find(|s| s["system_id"] == system).map(|s| s["kills"].clone()));
            if kills == Some(serde_json::json!(2)) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the cluster view never counted 2 kills: {kills:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_survives_a_logout_and_a_hostile_client_cannot_fight_across_systems_or_past_its_limits() {
    let test = fast_cluster().await;
    let store = test.cluster.store().clone();
    let mut hunter = pilot(&test.addr(), "shooter").await;
    let system = hunter.system();
    let prey_name = common::name_starting_in(&test, system, "target_");
    let mut prey = pilot(&test.addr(), &prey_name).await;
    let prey_ship = prey.ship_id();
    let elsewhere = common::name_starting_elsewhere(&test, system, "faraway_");
    let far = pilot(&test.addr(), &elsewhere).await;

    // Across systems: refused, nothing changes.
    let (code, _) = hunter.refused(Cmd::Lock(v1::Lock { target_id: far.ship_id() })).await;
    assert_eq!(code, v1::ErrorCode::NotInSystem);
    // Beyond lock range (ships start tens of km apart, a Rifter locks to 22 km) or modules without a lock.
    let (code, _) = hunter.refused(Cmd::ActivateModule(v1::ActivateModule { module: 0, target_id: prey_ship })).await;
    assert_eq!(code, v1::ErrorCode::NotLocked);
    let (code, _) = hunter.refused(Cmd::ActivateModule(v1::ActivateModule { module: 9, target_id: prey_ship })).await;
    assert_eq!(code, v1::ErrorCode::InvalidArgument);

    close_in(&mut hunter, &mut prey).await;
    engage(&mut hunter, prey_ship).await;
    // A module switched on twice is refused, not queued: it cannot fire faster than its cycle.
    let (code, _) = hunter.refused(Cmd::ActivateModule(v1::ActivateModule { module: 0, target_id: prey_ship })).await;
    assert_eq!(code, v1::ErrorCode::ModuleActive);
    let hunter_ship = hunter.ship_id();
    hunter
        .until(WAIT, "a few hits", |p| {
            p.fight
                .iter()
                .filter(|e| matches!(e, Event::Damage(d) if d.attacker_id == hunter_ship && d.damage > 0.0))
                .count()
                >= 2
        })
        .await;
    for module in 0..3 {
        hunter.command(Cmd::DeactivateModule(v1::DeactivateModule { module })).await;
    }
    // Damage stays with the ship through a logout.
    prey.client.logout().await.expect("logout");
    let stored = store.ship(prey_ship).await.expect("store").expect("row");
    let hull = stored.hull.expect("a hull");
    let [shield, armour, structure] = hull.hit_points.expect("hit points stored");
    assert!(shield + armour + structure < 450.0 + 400.0 + 350.0, "damaged: {hull:?}");
    let mut back = pilot(&test.addr(), &prey_name).await;
    assert_eq!(back.ship_id(), prey_ship);
    let again = store.ship(prey_ship).await.expect("store").expect("row").hull.expect("a hull");
    assert_eq!(again.type_id, RIFTER);
    back.until(WAIT, "a tick", |p| p.last_tick > 0).await;
    test.cluster.shutdown().await;
}
