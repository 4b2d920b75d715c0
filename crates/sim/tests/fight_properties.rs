//! Fights over random and hostile inputs: whatever a client sends, the sim never panics, no ship holds more locks
//! than its type allows, no weapon fires faster than its cycle, hit points stay in range; and a fight replays
//! tick by tick the same at any Time Dilation factor.

mod common;

use std::collections::BTreeMap;

use common::{ALPHA, ship, sim};
use orrery_sim::tidi::{TidiConfig, TidiController};
use orrery_sim::{Command, FightEvent, ShipId, ShipTypes, SystemSim, Target, TickOutput, Vec3};
use proptest::prelude::*;

const BASE: Vec3 = Vec3 { x: 1.0e9, y: 0.0, z: 0.0 };
const IDS: std::ops::Range<u64> = 1..11;

fn types() -> ShipTypes {
    ShipTypes::builtin().expect("data/ship-types.csv is valid")
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        id: ShipId,
        hull: usize,
        at: Vec3,
    },
    Remove(ShipId),
    Apply(ShipId, Command),
    /// A command from a character who may not own the ship.
    ApplyAs(u64, ShipId, Command),
    Step(u64),
    /// Lock, wait for the lock, switch every module on: makes real fights common among the random commands.
    Engage(ShipId, ShipId),
    /// Try to lock everything: spamming locks must stop at the type's limit.
    LockAll(ShipId),
}

fn command() -> impl Strategy<Value = Command> {
    let target = prop_oneof![IDS, any::<u64>()];
    let module = prop_oneof![0..10u8, any::<u8>()];
    prop_oneof![
        3 => target.clone().prop_map(|target| Command::Lock { target }),
        1 => target.clone().prop_map(|target| Command::Unlock { target }),
        4 => (module.clone(), target.clone()).prop_map(|(module, target)| Command::Activate { module, target }),
        1 => module.prop_map(|module| Command::Deactivate { module }),
        1 => (target.clone(), prop_oneof![0.0..30_000.0f64, proptest::num::f64::ANY])
            .prop_map(|(object, radius_m)| Command::Orbit { object, radius_m }),
        1 => target.prop_map(|id| Command::Approach(Target::Object(id))),
        1 => Just(Command::Stop),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let hulls = types().types().len();
    let at = (-25_000.0..25_000.0f64, -2_000.0..2_000.0f64, -25_000.0..25_000.0f64)
        .prop_map(|(x, y, z)| BASE + Vec3::new(x, y, z));
    let op = prop_oneof![
        2 => (IDS, 0..hulls, at).prop_map(|(id, hull, at)| Op::Add { id, hull, at }),
        1 => IDS.prop_map(Op::Remove),
        8 => (IDS, command()).prop_map(|(id, c)| Op::Apply(id, c)),
        1 => (1_000..1_010u64, IDS, command()).prop_map(|(who, id, c)| Op::ApplyAs(who, id, c)),
        4 => prop_oneof![100..3_000u64, Just(1_000u64)].prop_map(Op::Step),
        2 => (IDS, IDS).prop_map(|(id, target)| Op::Engage(id, target)),
        1 => IDS.prop_map(Op::LockAll),
    ];
    prop::collection::vec(op, 1..120)
}

/// Checks one step's output against the cycle times: `fired` holds each (ship, module)'s last firing time.
fn check_cycles(sim: &SystemSim, out: &TickOutput, fired: &mut BTreeMap<(ShipId, u8), u64>) -> Result<(), String> {
    for kill in &out.kills {
        fired.retain(|&(ship, _), _| ship != kill.victim);
    }
    for event in &out.fight {
        let (ship, module, at) = match event {
            FightEvent::Damage { attacker, module, missile: None, at_ms, .. } => (*attacker, *module, *at_ms),
            FightEvent::MissileLaunched { missile } => (missile.attacker.ship, missile.module, missile.launched_ms),
            _ => continue,
        };
        let Some(cycle) = sim
            .ship(ship)
            .and_then(|s| s.combat.as_ref())
            .and_then(|c| c.ship_type.modules.get(usize::from(module)))
            .map(orrery_sim::ModuleSpec::cycle_ms)
        else {
            // The shooter died later in the same step (it is a pod now, or gone): nothing to compare with.
            fired.remove(&(ship, module));
            continue;
        };
        if let Some(before) = fired.insert((ship, module), at)
            && at < before + cycle
        {
            return Err(format!("ship {ship} module {module} fired at {before} and again at {at}, cycle {cycle} ms"));
        }
    }
    Ok(())
}

fn check_ships(sim: &SystemSim) -> Result<(), String> {
    for ship in sim.ships() {
        let Some(c) = &ship.combat else { continue };
        let t = &c.ship_type;
        if c.locks.len() > usize::from(t.max_locks) {
            return Err(format!("ship {} holds {} locks, at most {}", ship.id, c.locks.len(), t.max_locks));
        }
        let layers = [(c.shield_hp, t.shield_hp), (c.armour_hp, t.armour_hp), (c.hull_hp, t.hull_hp)];
        if layers.iter().any(|&(hp, max)| !(0.0..=max).contains(&hp)) {
            return Err(format!("ship {} hit points out of range: {layers:?}", ship.id));
        }
        if !ship.position.is_finite() || !ship.velocity.is_finite() {
            return Err(format!("ship {} lost in NaN", ship.id));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hostile_fight_commands_never_break_the_rules(ops in ops()) {
        let types = types();
        let mut sim = sim(ALPHA);
        sim.set_capsule(types.capsule().cloned().expect("a capsule"));
        let mut fired = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add { id, hull, at } => {
                    let hull = types.types()[hull].clone();
                    if sim.add_ship(ship(id, at).with_type(hull)).is_ok() {
                        fired.retain(|&(ship, _), _| ship != id);
                    }
                }
                Op::Remove(id) => {
                    sim.remove_ship(id);
                }
                Op::Apply(id, command) => {
                    let before = sim.clone();
                    if sim.apply(id, command).is_err() {
                        prop_assert_eq!(&sim, &before, "a refused command changed the system");
                    }
                }
                Op::ApplyAs(who, id, command) => {
                    let owner = sim.ship(id).map(|s| s.character_id);
                    let result = sim.apply_as(who, id, command);
                    if owner.is_some_and(|owner| owner != who) {
                        prop_assert!(
                            matches!(result, Err(orrery_sim::CommandError::NotOwner { .. })),
                            "{result:?}"
                        );
                    }
                }
                Op::Step(dt) => {
                    let out = sim.step(dt);
                    check_cycles(&sim, &out, &mut fired).map_err(TestCaseError::fail)?;
                }
                Op::LockAll(id) => {
                    for target in IDS {
                        let _ = sim.apply(id, Command::Lock { target });
                    }
                }
                Op::Engage(id, target) => {
                    let _ = sim.apply(id, Command::Lock { target });
                    for _ in 0..6 {
                        let out = sim.step(1_000);
                        check_cycles(&sim, &out, &mut fired).map_err(TestCaseError::fail)?;
                    }
                    for module in 0..8 {
                        let _ = sim.apply(id, Command::Activate { module, target });
                    }
                }
            }
            check_ships(&sim).map_err(TestCaseError::fail)?;
        }
    }
}

/// What a pilot script does at the start of a tick: per tick index, commands for ships.
fn fight_script(ships: &[ShipId]) -> BTreeMap<u64, Vec<(ShipId, Command)>> {
    let mut script: BTreeMap<u64, Vec<(ShipId, Command)>> = BTreeMap::new();
    let half = ships.len() / 2;
    for (i, &id) in ships.iter().enumerate() {
        let enemy = if i < half { ships[half + i % (ships.len() - half)] } else { ships[(i - half) % half] };
        let at = |tick: u64| tick + (i as u64 % 3);
        script.entry(at(0)).or_default().push((id, Command::Orbit { object: enemy, radius_m: 5_000.0 }));
        script.entry(at(1)).or_default().push((id, Command::Lock { target: enemy }));
        for module in 0..8u8 {
            script.entry(at(8)).or_default().push((id, Command::Activate { module, target: enemy }));
        }
        script.entry(at(40)).or_default().push((id, Command::Lock { target: ships[(i + 1) % ships.len()] }));
    }
    script
}

/// Runs the script the way a sol node would: at the start of each tick, the commands of that tick are applied,
/// then the system is stepped by the *nominal* tick (1 s); the wall-clock time between ticks is `1 s / factor`.
/// Returns every tick's output and the final state.
fn replay(factor: f64, ticks: u64) -> (Vec<TickOutput>, SystemSim, f64) {
    let types = types();
    let mut sim = sim(ALPHA);
    sim.set_capsule(types.capsule().cloned().expect("a capsule"));
    let hulls = ["Rifter", "Merlin", "Rupture", "Caracal", "Tempest", "Raven"];
    let ships: Vec<ShipId> = (1..=24).collect();
    for &id in &ships {
        let hull = types.by_name(hulls[id as usize % hulls.len()]).cloned().expect("a shipped hull");
        let side = if id <= 12 { -1.0 } else { 1.0 };
        let at = BASE + Vec3::new(side * 6_000.0, 0.0, (id % 12) as f64 * 700.0);
        sim.add_ship(ship(id, at).with_type(hull)).expect("room");
    }
    let script = fight_script(&ships);
    let mut outs = Vec::new();
    let mut wall_s = 0.0;
    for tick in 0..ticks {
        for (id, command) in script.get(&tick).into_iter().flatten() {
            // Refusals (a dead ship's module, a pod) are part of the replay too.
            let _ = sim.apply(*id, command.clone());
        }
        outs.push(sim.step(1_000));
        wall_s += 1.0 / factor;
    }
    (outs, sim, wall_s)
}

#[test]
fn a_fight_replays_the_same_at_full_speed_and_dilated_to_a_quarter() {
    // The factor a node would give a system needing 3.2 cores' worth of work with its 0.8 budget.
    let mut tidi = TidiController::new(TidiConfig { smoothing: 1.0, ..TidiConfig::default() }).expect("valid");
    tidi.observe(ALPHA, 3.2, 1.0);
    tidi.update();
    let dilated = tidi.factor(ALPHA);
    assert!((dilated - 0.25).abs() < 1e-12, "factor {dilated}");

    let (full, full_end, full_wall) = replay(1.0, 120);
    let (slow, slow_end, slow_wall) = replay(dilated, 120);
    assert!((slow_wall - 4.0 * full_wall).abs() < 1e-6, "the dilated run takes four times as long in wall time");
    for (tick, (a, b)) in full.iter().zip(&slow).enumerate() {
        assert_eq!(a, b, "tick {} differs", tick + 1);
    }
    assert_eq!(full_end, slow_end);
    let damage = full
        .iter()
        .flat_map(|o| &o.fight)
        .filter(|e| matches!(e, FightEvent::Damage { damage, .. } if *damage > 0.0))
        .count();
    let launched =
        full.iter().flat_map(|o| &o.fight).filter(|e| matches!(e, FightEvent::MissileLaunched { .. })).count();
    let kills: usize = full.iter().map(|o| o.kills.len()).sum();
    assert!(
        damage > 100 && launched > 20 && kills > 0,
        "a real fight: {damage} hits, {launched} missiles, {kills} kills"
    );
}

#[test]
fn a_copy_of_a_system_mid_fight_continues_exactly_like_the_original() {
    let (_, mut original, _) = replay(1.0, 30);
    let mut copy = original.clone();
    assert!(
        !original.missiles().is_empty()
            || original.ships().any(|s| s.combat.as_ref().is_some_and(|c| !c.locks.is_empty()))
    );
    for _ in 0..60 {
        assert_eq!(original.step(1_000), copy.step(1_000));
    }
}

/// What a live migration does with a system (the node sends it to another node as bytes): encoded and decoded
/// mid-fight, locks, cycles, missiles in flight and wrecks included, it continues exactly like the original.
#[test]
fn a_system_sent_as_bytes_mid_fight_continues_exactly_like_the_original() {
    let (_, mut original, _) = replay(1.0, 30);
    let bytes = postcard::to_allocvec(&original).expect("encodes");
    let mut moved: orrery_sim::SystemSim = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(moved, original);
    for _ in 0..60 {
        assert_eq!(original.step(1_000), moved.step(1_000));
    }
}
