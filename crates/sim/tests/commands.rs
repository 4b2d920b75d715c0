//! Commands and their refusals, jumps and arrivals, and what a step reports.

mod common;

use common::{ALPHA, BETA, DELTA, GAMMA, gate, position, ship, sim};
use orrery_sim::{
    Command, CommandError, JUMP_RANGE_M, MAX_SPEED_MS, Motion, Outcome, Ship, Target, TickOutput, Vec3, celestial_id,
};

const HERE: Vec3 = Vec3::new(2.0e9, 0.0, 1.0e9);

fn invalid(result: Result<Outcome, CommandError>) -> String {
    match result {
        Err(CommandError::InvalidArgument(reason)) => reason,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn ids(views: &[orrery_sim::ShipView]) -> Vec<u64> {
    views.iter().map(|v| v.id).collect()
}

#[test]
fn commands_for_a_ship_not_here_are_refused() {
    let mut sim = sim(ALPHA);
    for command in [Command::Stop, Command::Chat { text: "hi".into() }, Command::Jump { gate: 1 }] {
        assert_eq!(sim.apply(5, command), Err(CommandError::UnknownShip(5)));
    }
}

#[test]
fn a_jump_in_range_hands_the_ship_over_and_it_arrives_at_the_linked_gate() {
    let mut alpha = sim(ALPHA);
    let to_beta = gate(&alpha, BETA);
    let mut traveller = ship(1, to_beta.position + Vec3::new(0.0, 2_000.0, 0.0));
    traveller.handoff_seq = 6;
    alpha.add_ship(traveller).expect("new");
    alpha.step(1_000);
    let Ok(Outcome::JumpedOut { ship, destination_system }) = alpha.apply(1, Command::Jump { gate: to_beta.id }) else {
        panic!("the jump should succeed");
    };
    assert_eq!((ship.id, ship.handoff_seq, destination_system), (1, 7, BETA));
    assert_eq!((ship.velocity, ship.motion()), (Vec3::ZERO, Motion::Idle));
    assert_eq!(alpha.ship_count(), 0);
    assert_eq!(alpha.apply(1, Command::Stop), Err(CommandError::UnknownShip(1)));
    assert_eq!(alpha.step(1_000).departed, vec![1]);
    assert!(alpha.step(1_000).departed.is_empty(), "reported once");

    let mut beta = sim(BETA);
    beta.arrive(*ship, ALPHA).expect("room in Beta");
    let back = gate(&beta, ALPHA);
    let distance = position(&beta, 1).distance(back.position);
    assert!((500.0..=1_500.0).contains(&distance), "{distance}");
    let out = beta.step(1_000);
    assert_eq!(ids(&out.arrived), vec![1]);
    assert_eq!(out.arrived[0].motion, Motion::Idle);
    assert!(out.moved.is_empty());
    // Arrival is within jump range of the gate back, so a pilot can jump straight back.
    assert!(matches!(
        beta.apply(1, Command::Jump { gate: back.id }),
        Ok(Outcome::JumpedOut { destination_system: ALPHA, .. })
    ));
}

#[test]
fn an_arrival_without_a_gate_back_appears_near_the_star() {
    let mut delta = sim(DELTA);
    delta.arrive(ship(1, HERE), GAMMA).expect("room");
    assert!((position(&delta, 1).length() - 50_000.0).abs() < 1e-6);
}

#[test]
fn a_jump_needs_a_near_stargate_of_this_system() {
    let mut sim = sim(ALPHA);
    let to_beta = gate(&sim, BETA);
    let planet = sim.layout().celestials[1].clone();
    sim.add_ship(ship(1, to_beta.position + Vec3::new(3_000.0, 0.0, 0.0))).expect("new");
    sim.add_ship(ship(2, planet.position + Vec3::new(100.0, 0.0, 0.0))).expect("new");
    match sim.apply(1, Command::Jump { gate: to_beta.id }) {
        Err(CommandError::OutOfRange { gate, distance_m, max_m }) => {
            assert_eq!((gate, max_m), (to_beta.id, JUMP_RANGE_M));
            assert!((distance_m - 3_000.0).abs() < 1e-3, "{distance_m}");
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    assert_eq!(sim.apply(2, Command::Jump { gate: planet.id }), Err(CommandError::NotAGate(planet.id)));
    assert_eq!(sim.apply(2, Command::Jump { gate: 1 }), Err(CommandError::NotAGate(1)));
    let elsewhere = gate(&common::sim(BETA), ALPHA).id;
    assert_eq!(sim.apply(2, Command::Jump { gate: elsewhere }), Err(CommandError::NotInSystem(elsewhere)));
    assert_eq!(sim.apply(2, Command::Jump { gate: 77 }), Err(CommandError::NotInSystem(77)));
    assert_eq!(sim.ship_count(), 2, "refused jumps leave the ships in place");
}

#[test]
fn warp_arguments_are_checked() {
    let mut sim = sim(ALPHA);
    let to_beta = gate(&sim, BETA);
    sim.add_ship(ship(1, HERE)).expect("new");
    sim.add_ship(ship(2, HERE + Vec3::new(10_000.0, 0.0, 0.0))).expect("new");
    let warp = |object, range_m| Command::WarpTo { object, range_m };
    assert!(invalid(sim.apply(1, warp(to_beta.id, f64::NAN))).starts_with("warp_to.range_m"));
    assert!(invalid(sim.apply(1, warp(to_beta.id, -5.0))).starts_with("warp_to.range_m"));
    assert!(invalid(sim.apply(1, warp(to_beta.id, 1e13))).starts_with("warp_to.range_m"));
    assert!(invalid(sim.apply(1, warp(2, 0.0))).contains("approach instead"), "a ship 10 km away");
    assert!(invalid(sim.apply(1, warp(1, 0.0))).contains("the ship itself"));
    let far = celestial_id(BETA, 0);
    assert_eq!(sim.apply(1, warp(far, 0.0)), Err(CommandError::NotInSystem(far)));
    assert_eq!(sim.apply(1, warp(99, 0.0)), Err(CommandError::NotInSystem(99)));
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Idle));
}

#[test]
fn a_warping_ship_only_chats_but_an_aligning_one_can_change_its_mind() {
    let mut sim = sim(ALPHA);
    let to_beta = gate(&sim, BETA);
    sim.add_ship(ship(1, HERE)).expect("new");
    sim.apply(1, Command::WarpTo { object: to_beta.id, range_m: 0.0 }).expect("far");
    sim.step(1_000);
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Aligning));
    sim.apply(1, Command::Stop).expect("alignment can be cancelled");
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Idle));
    sim.apply(1, Command::WarpTo { object: to_beta.id, range_m: 0.0 }).expect("far");
    sim.step(5_000);
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Warping));
    for command in [Command::Stop, Command::Approach(Target::Point(HERE)), Command::Jump { gate: to_beta.id }] {
        assert_eq!(sim.apply(1, command), Err(CommandError::WarpInProgress(1)));
    }
    assert_eq!(sim.apply(1, Command::Chat { text: "wheee".into() }), Ok(Outcome::Accepted));
}

#[test]
fn approach_arguments_are_checked() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, HERE)).expect("new");
    let approach = |target| Command::Approach(target);
    let nan = Vec3::new(0.0, f64::NAN, 0.0);
    assert_eq!(invalid(sim.apply(1, approach(Target::Point(nan)))), "approach.point: not finite");
    assert!(invalid(sim.apply(1, approach(Target::Point(Vec3::new(1e15, 0.0, 0.0))))).starts_with("approach.point"));
    assert_eq!(invalid(sim.apply(1, approach(Target::Object(1)))), "approach.object_id: the ship itself");
    assert_eq!(sim.apply(1, approach(Target::Object(3))), Err(CommandError::NotInSystem(3)));
}

#[test]
fn chat_is_validated_and_said_in_the_next_step() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, HERE)).expect("new");
    assert_eq!(invalid(sim.apply(1, Command::Chat { text: "   ".into() })), "chat.text: empty");
    assert_eq!(invalid(sim.apply(1, Command::Chat { text: "y".repeat(612) })), "chat.text: 612 bytes, at most 500");
    assert!(invalid(sim.apply(1, Command::Chat { text: "bell\u{7}".into() })).contains("control character"));
    sim.apply(1, Command::Chat { text: " o7 ".into() }).expect("fine");
    sim.apply(1, Command::Chat { text: "x".repeat(500) }).expect("exactly at the limit");
    let out = sim.step(1_000);
    assert_eq!(out.chat.len(), 2);
    assert_eq!(
        (out.chat[0].character_id, out.chat[0].pilot.as_str(), out.chat[0].text.as_str()),
        (1_001, "Pilot 1", "o7")
    );
    assert!(sim.step(1_000).chat.is_empty());
}

#[test]
fn ships_entering_are_checked_and_placed() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, Vec3::ZERO)).expect("new");
    let spawn = position(&sim, 1);
    assert!((spawn.length() - 50_000.0).abs() < 1e-6, "a new ship starts 50 km from the star");
    assert_eq!(sim.add_ship(ship(1, HERE)), Err(CommandError::DuplicateShip(1)));
    assert_eq!(sim.arrive(ship(1, HERE), BETA), Err(CommandError::DuplicateShip(1)));
    assert!(
        matches!(sim.add_ship(ship(1 << 63, HERE)), Err(CommandError::InvalidArgument(r)) if r.starts_with("ship.id"))
    );
    let nan = Vec3::new(f64::NAN, 0.0, 0.0);
    assert!(
        matches!(sim.add_ship(ship(2, nan)), Err(CommandError::InvalidArgument(r)) if r == "ship.position: not finite")
    );
    let mut fast = ship(2, HERE);
    fast.velocity = nan;
    assert!(
        matches!(sim.add_ship(fast.clone()), Err(CommandError::InvalidArgument(r)) if r == "ship.velocity: not finite")
    );
    fast.velocity = Vec3::new(0.0, 0.0, 4.0e11);
    sim.add_ship(fast).expect("stored mid-warp");
    assert!((sim.ship(2).map_or(0.0, |s| s.velocity.length()) - MAX_SPEED_MS).abs() < 1e-9);
    assert_eq!(sim.ship(2).map(Ship::motion), Some(Motion::Idle));

    let mut other = common::sim(ALPHA);
    other.add_ship(ship(1, Vec3::ZERO)).expect("new");
    assert_eq!(position(&other, 1), spawn, "placement is a function of the ship id");
    other.add_ship(ship(3, Vec3::ZERO)).expect("new");
    assert_ne!(position(&other, 3), spawn);
}

#[test]
fn moved_lists_only_ships_whose_rounded_state_changed() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, HERE)).expect("new");
    sim.add_ship(ship(2, HERE + Vec3::new(0.0, 0.0, 5_000.0))).expect("new");
    let out = sim.step(1_000);
    assert_eq!((ids(&out.arrived), out.moved.len()), (vec![1, 2], 0));
    assert_eq!(sim.step(1_000), TickOutput { tick: 2, sim_time_ms: 2_000, ..TickOutput::default() });

    sim.apply(2, Command::Approach(Target::Point(HERE + Vec3::new(0.0, 0.0, 8_000.0)))).expect("valid");
    // An approach to where the ship already is ends at once and moves nothing visible.
    sim.apply(1, Command::Approach(Target::Point(HERE + Vec3::new(0.2, 0.0, 0.0)))).expect("valid");
    let out = sim.step(1_000);
    assert_eq!(ids(&out.moved), vec![2]);
    assert_eq!(out.moved[0].motion, Motion::Approaching);
    assert_eq!(sim.ship(1).map(|s| (s.position, s.motion())), Some((HERE, Motion::Idle)));
    common::fly_until_idle(&mut sim, 2, 1_000, 60_000);
    assert!(sim.step(1_000).moved.is_empty(), "a ship at rest is not reported again");
}

#[test]
fn arrivals_and_departures_are_reported_once_and_never_both() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, HERE)).expect("new");
    sim.add_ship(ship(2, HERE)).expect("new");
    sim.remove_ship(2).expect("was here");
    let out = sim.step(1_000);
    assert_eq!((ids(&out.arrived), out.departed.clone()), (vec![1], vec![]), "came and went unseen");

    let removed = sim.remove_ship(1).expect("was here");
    assert_eq!(removed.id, 1);
    sim.add_ship(removed).expect("back again");
    let out = sim.step(1_000);
    assert_eq!((ids(&out.arrived), out.departed.clone()), (vec![1], vec![]), "left and came back: re-announced");

    assert!(sim.remove_ship(1).is_some());
    assert!(sim.remove_ship(1).is_none());
    let out = sim.step(1_000);
    assert_eq!((out.arrived.len(), out.departed), (0, vec![1]));
    assert_eq!(sim.views(), vec![]);
}
