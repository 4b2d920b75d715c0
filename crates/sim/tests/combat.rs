//! Fights through the public API: locking, turrets, missiles, disruptors, destruction and kill reports, the
//! refusals of bad commands, and that a fight replays the same whatever the Time Dilation.

mod common;

use common::{ALPHA, position, ship, sim};
use orrery_sim::{
    Command, CommandError, FightEvent, MissileEnd, ModuleSpec, Outcome, Ship, ShipClass, ShipId, ShipType, ShipTypes,
    SystemSim, TickOutput, Vec3,
};

const BASE: Vec3 = Vec3 { x: 1.0e9, y: 0.0, z: 0.0 };

fn types() -> ShipTypes {
    ShipTypes::builtin().expect("data/ship-types.csv is valid")
}

fn hull(name: &str) -> ShipType {
    types().by_name(name).cloned().unwrap_or_else(|| panic!("data/ship-types.csv has no {name}"))
}

/// A sim of Alpha with the capsule set and ships of the given types at `BASE + offset` (metres along x).
fn arena(ships: &[(ShipId, &str, f64)]) -> SystemSim {
    let mut sim = sim(ALPHA);
    sim.set_capsule(types().capsule().cloned().expect("a capsule type"));
    for &(id, name, x) in ships {
        sim.add_ship(ship(id, BASE + Vec3::new(x, 0.0, 0.0)).with_type(hull(name))).expect("room for the ship");
    }
    sim
}

fn ok(result: Result<Outcome, CommandError>) {
    match result {
        Ok(Outcome::Accepted) => {}
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// Steps 1 s ticks until `done` holds for an output, returning every output; fails after `limit` ticks.
fn run_until(sim: &mut SystemSim, limit: u32, mut done: impl FnMut(&TickOutput) -> bool) -> Vec<TickOutput> {
    let mut outs = Vec::new();
    for _ in 0..limit {
        let out = sim.step(1_000);
        let stop = done(&out);
        outs.push(out);
        if stop {
            return outs;
        }
    }
    panic!("condition not reached within {limit} ticks");
}

fn locked_after(sim: &mut SystemSim, ship: ShipId, target: ShipId) -> u64 {
    ok(sim.apply(ship, Command::Lock { target }));
    let start = sim.sim_time_ms();
    run_until(sim, 30, |out| out.fight.contains(&FightEvent::Locked { ship, target }));
    sim.sim_time_ms() - start
}

#[test]
fn locking_takes_longer_for_small_targets_and_is_needed_to_shoot() {
    let mut sim = arena(&[(1, "Tempest", 0.0), (2, "Rifter", 5_000.0), (3, "Raven", -5_000.0)]);
    ok(sim.apply(1, Command::Lock { target: 2 }));
    assert_eq!(sim.apply(1, Command::Activate { module: 0, target: 2 }), Err(CommandError::NotLocked(2)));
    let frigate = {
        let start = sim.sim_time_ms();
        run_until(&mut sim, 30, |out| out.fight.contains(&FightEvent::Locked { ship: 1, target: 2 }));
        sim.sim_time_ms() - start
    };
    let battleship = locked_after(&mut sim, 1, 3);
    assert!(frigate > battleship, "a frigate ({frigate} ms) locks slower than a battleship ({battleship} ms)");
    ok(sim.apply(1, Command::Activate { module: 0, target: 2 }));
    assert_eq!(sim.apply(1, Command::Activate { module: 0, target: 3 }), Err(CommandError::ModuleAlreadyActive(0)));
    ok(sim.apply(1, Command::Deactivate { module: 0 }));
    assert_eq!(sim.apply(1, Command::Deactivate { module: 0 }), Err(CommandError::ModuleNotActive(0)));
}

#[test]
fn bad_fight_commands_are_refused_and_change_nothing() {
    let mut sim = arena(&[(1, "Rifter", 0.0), (2, "Rifter", 1_000.0), (3, "Rifter", 500_000.0)]);
    sim.add_ship(ship(9, BASE)).expect("an untyped ship");
    let before = sim.clone();
    assert_eq!(
        sim.apply_as(1_002, 1, Command::Lock { target: 2 }),
        Err(CommandError::NotOwner { ship: 1, character_id: 1_002 })
    );
    assert!(matches!(
        sim.apply(1, Command::Lock { target: 3 }),
        Err(CommandError::TargetOutOfRange { target: 3, max_m: 22_000.0, .. })
    ));
    assert_eq!(sim.apply(1, Command::Lock { target: 77 }), Err(CommandError::NotInSystem(77)));
    assert_eq!(sim.apply(1, Command::Lock { target: 9 }), Err(CommandError::NotCombatant(9)));
    assert_eq!(sim.apply(9, Command::Lock { target: 1 }), Err(CommandError::NotCombatant(9)));
    assert!(matches!(sim.apply(1, Command::Lock { target: 1 }), Err(CommandError::InvalidArgument(_))));
    assert_eq!(sim.apply(1, Command::Unlock { target: 2 }), Err(CommandError::NotLocked(2)));
    assert_eq!(
        sim.apply(1, Command::Activate { module: 9, target: 2 }),
        Err(CommandError::NoSuchModule { module: 9, modules: 4 })
    );
    assert_eq!(
        sim.apply(1, Command::Deactivate { module: 200 }),
        Err(CommandError::NoSuchModule { module: 200, modules: 4 })
    );
    assert!(matches!(
        sim.apply(1, Command::Orbit { object: 2, radius_m: f64::NAN }),
        Err(CommandError::InvalidArgument(_))
    ));
    assert_eq!(sim, before, "refused commands leave the system as it was");

    // A ship in another system is not in this one.
    let mut other = arena(&[]);
    other.add_ship(ship(5, BASE).with_type(hull("Rifter"))).expect("room");
    assert_eq!(other.apply(5, Command::Lock { target: 1 }), Err(CommandError::NotInSystem(1)));

    ok(sim.apply(1, Command::Lock { target: 2 }));
    assert_eq!(sim.apply(1, Command::Lock { target: 2 }), Err(CommandError::AlreadyLocked(2)));
    ok(sim.apply(1, Command::Unlock { target: 2 }));
}

#[test]
fn no_ship_holds_more_locks_than_its_type_allows() {
    let ids: Vec<ShipId> = (2..10).collect();
    let mut ships = vec![(1, "Rifter", 0.0)];
    ships.extend(ids.iter().map(|&id| (id, "Rifter", id as f64 * 500.0)));
    let mut sim = arena(&ships);
    for &target in &ids[..4] {
        ok(sim.apply(1, Command::Lock { target }));
    }
    assert_eq!(sim.apply(1, Command::Lock { target: ids[4] }), Err(CommandError::TooManyLocks { max: 4 }));
    ok(sim.apply(1, Command::Unlock { target: ids[0] }));
    ok(sim.apply(1, Command::Lock { target: ids[4] }));
}

#[test]
fn a_turret_fight_ends_in_a_kill_report_a_wreck_and_a_pod() {
    let mut sim = arena(&[(1, "Tempest", 0.0), (2, "Rupture", 12_000.0), (3, "Rifter", 8_000.0)]);
    locked_after(&mut sim, 1, 3);
    locked_after(&mut sim, 2, 3);
    for module in 0..6 {
        ok(sim.apply(1, Command::Activate { module, target: 3 }));
    }
    for module in 0..4 {
        ok(sim.apply(2, Command::Activate { module, target: 3 }));
    }
    let outs = run_until(&mut sim, 300, |out| !out.kills.is_empty());
    let out = outs.last().expect("at least one tick");
    let kill = &out.kills[0];
    assert_eq!((kill.victim, kill.class, kill.system_id), (3, ShipClass::Frigate, ALPHA));
    assert_eq!(kill.ship_type_id, hull("Rifter").type_id);
    let attackers: Vec<ShipId> = kill.attackers.iter().map(|a| a.ship).collect();
    assert!(attackers.contains(&kill.final_blow.ship));
    let dealt: f64 = kill.attackers.iter().map(|a| a.damage).sum();
    let rifter = hull("Rifter");
    assert!(dealt >= rifter.armour_hp + rifter.hull_hp, "the attackers dealt {dealt}, at least armour and hull");
    let total: f64 = outs
        .iter()
        .flat_map(|o| &o.fight)
        .filter_map(|e| match e {
            FightEvent::Damage { target: 3, damage, .. } => Some(*damage),
            _ => None,
        })
        .sum();
    assert!((total - dealt).abs() < 1e-6, "damage events ({total}) add up to the kill report ({dealt})");
    assert!(out.fight.contains(&FightEvent::Destroyed { victim: 3, ship_type_id: rifter.type_id }));
    let wreck = sim.wrecks().first().copied().expect("a wreck");
    assert_eq!((wreck.id, wreck.character_id), (kill.wreck, 1_003));
    assert!(out.fight.contains(&FightEvent::WreckAppeared(wreck)));

    // The pilot is in a pod under the same id; the locks on the lost ship are gone.
    let pod = sim.ship(3).and_then(|s| s.combat.as_ref()).expect("the pod");
    assert_eq!(pod.ship_type.class, ShipClass::Capsule);
    assert!(out.fight.contains(&FightEvent::LockLost { ship: 1, target: 3 }));
    assert_eq!(sim.apply(1, Command::Activate { module: 0, target: 3 }), Err(CommandError::NotLocked(3)));
    assert_eq!(sim.apply(1, Command::Deactivate { module: 0 }), Err(CommandError::ModuleNotActive(0)), "switched off");

    // Killing the pod sends the pilot out of the system.
    locked_after(&mut sim, 1, 3);
    for module in 0..6 {
        ok(sim.apply(1, Command::Activate { module, target: 3 }));
    }
    let outs = run_until(&mut sim, 300, |out| !out.kills.is_empty());
    let out = outs.last().expect("a tick");
    assert_eq!(out.kills[0].class, ShipClass::Capsule);
    assert_eq!(out.departed, vec![3]);
    assert!(sim.ship(3).is_none());
}

#[test]
fn missiles_fly_as_entities_and_explode_on_their_target() {
    let mut sim = arena(&[(1, "Caracal", 0.0), (2, "Tempest", 20_000.0)]);
    locked_after(&mut sim, 1, 2);
    ok(sim.apply(1, Command::Activate { module: 0, target: 2 }));
    let out = sim.step(1_000);
    let launched = out.fight.iter().find_map(|e| match e {
        FightEvent::MissileLaunched { missile } => Some(*missile),
        _ => None,
    });
    let missile = launched.expect("a missile launched in the first tick");
    assert_eq!(sim.missiles().len(), 1);
    let flown = sim.missiles()[0].position.distance(missile.position);
    assert!(flown > 1_000.0 && flown < 4_000.0, "a missile at 3,750 m/s flew {flown} m in under a second");
    let outs = run_until(&mut sim, 20, |out| {
        out.fight.contains(&FightEvent::MissileGone { missile: missile.id, end: MissileEnd::Exploded })
    });
    let hit = outs.last().and_then(|o| {
        o.fight.iter().find_map(|e| match e {
            FightEvent::Damage { missile: Some(id), damage, .. } if *id == missile.id => Some(*damage),
            _ => None,
        })
    });
    let caracal = hull("Caracal");
    let ModuleSpec::Launcher(launcher) = caracal.modules[0] else { panic!("the Caracal carries launchers") };
    assert_eq!(hit, Some(launcher.damage), "a still battleship takes the full explosion");
}

#[test]
fn a_missile_runs_out_of_fuel_chasing_a_target_out_of_reach() {
    let mut sim = arena(&[(1, "Merlin", 0.0), (2, "Rifter", 22_000.0)]);
    locked_after(&mut sim, 1, 2);
    ok(sim.apply(2, Command::Approach(orrery_sim::Target::Point(BASE + Vec3::new(1.0e6, 0.0, 0.0)))));
    sim.step(1_000);
    sim.step(1_000);
    // The Rifter now flees at speed; the missile (6 s of flight at 3,750 m/s) falls short of it.
    let distance = position(&sim, 1).distance(position(&sim, 2));
    assert!(distance < 24_000.0, "still in lock range ({distance} m)");
    ok(sim.apply(1, Command::Activate { module: 0, target: 2 }));
    let outs = run_until(&mut sim, 20, |out| {
        out.fight.iter().any(|e| matches!(e, FightEvent::MissileGone { end: MissileEnd::OutOfFuel, .. }))
    });
    assert!(
        !outs
            .iter()
            .flat_map(|o| &o.fight)
            .any(|e| matches!(e, FightEvent::MissileGone { end: MissileEnd::Exploded, .. }))
    );
}

#[test]
fn a_disrupted_ship_cannot_warp_and_shields_regenerate() {
    let mut sim = arena(&[(1, "Rifter", 0.0), (2, "Caracal", 5_000.0)]);
    let planet = sim
        .layout()
        .celestials
        .iter()
        .find(|c| c.position.distance(BASE) > 1.0e9)
        .map(|c| c.id)
        .expect("a far celestial");
    locked_after(&mut sim, 1, 2);
    ok(sim.apply(2, Command::WarpTo { object: planet, range_m: 0.0 }));
    ok(sim.apply(1, Command::Activate { module: 3, target: 2 }));
    ok(sim.apply(1, Command::Activate { module: 0, target: 2 }));
    let out = sim.step(1_000);
    assert!(out.fight.iter().any(|e| matches!(e, FightEvent::Disrupted { ship: 1, target: 2, .. })));
    let shield = |sim: &SystemSim| sim.ship(2).and_then(|s| s.combat.as_ref()).map_or(0.0, |c| c.shield_hp);
    let full = hull("Caracal").shield_hp;
    let mut hit = false;
    for _ in 0..10 {
        let out = sim.step(1_000);
        assert_ne!(sim.ship(2).map(Ship::motion), Some(orrery_sim::Motion::Warping), "a disrupted ship warped");
        if out.fight.iter().any(|e| matches!(e, FightEvent::Damage { target: 2, damage, .. } if *damage > 0.0)) {
            assert!(shield(&sim) < full, "a hit takes shield");
            ok(sim.apply(1, Command::Deactivate { module: 0 }));
            hit = true;
            break;
        }
    }
    assert!(hit, "the Rifter's guns hit within 10 s");
    assert_eq!(sim.apply(2, Command::WarpTo { object: planet, range_m: 0.0 }), Err(CommandError::WarpDisrupted(2)));
    ok(sim.apply(1, Command::Unlock { target: 2 }));
    let before = shield(&sim);
    sim.step(1_000);
    sim.step(1_000);
    assert!((shield(&sim) - (before + 2.0 * hull("Caracal").shield_regen_hp_s).min(full)).abs() < 1e-9);
    // The disruption ends with its last cycle.
    for _ in 0..6 {
        sim.step(1_000);
    }
    ok(sim.apply(2, Command::WarpTo { object: planet, range_m: 0.0 }));
}
