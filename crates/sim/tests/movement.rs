//! Flight: approaches end where they should, ships stop, warps land at range and take a bounded time, and the
//! result does not depend on the tick length.

mod common;

use common::{ALPHA, BETA, fly_until_idle, gate, position, ship, sim};
use orrery_sim::{
    AU_M, Celestial, CelestialKind, Command, MAX_SPEED_MS, MAX_STEP_MS, Motion, OBJECT_ARRIVAL_M, POINT_ARRIVAL_M,
    Ship, SystemLayout, SystemSim, Target, Vec3, celestial_id,
};

const START: Vec3 = Vec3::new(1.0e9, 2.0e6, -3.0e9);

#[test]
fn an_approach_reaches_the_point_and_stops_there() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, START)).expect("a new ship");
    let point = START + Vec3::new(20_000.0, -3_000.0, 5_000.0);
    sim.apply(1, Command::Approach(Target::Point(point))).expect("a valid point");
    let mut top_speed: f64 = 0.0;
    while sim.ship(1).map(Ship::motion) == Some(Motion::Approaching) {
        assert!(sim.sim_time_ms() < 120_000, "still approaching after two minutes");
        sim.step(1_000);
        top_speed = top_speed.max(sim.ship(1).map_or(0.0, |s| s.velocity.length()));
    }
    let ship = sim.ship(1).expect("still here");
    assert!(ship.position.distance(point) <= POINT_ARRIVAL_M, "{} m off", ship.position.distance(point));
    assert_eq!(ship.velocity, Vec3::ZERO);
    assert!(top_speed <= MAX_SPEED_MS + 1e-9 && top_speed > 0.99 * MAX_SPEED_MS, "{top_speed}");
    // 20.8 km at 300 m/s with 10 s of acceleration and of braking: about 80 s.
    assert!((70_000..100_000).contains(&sim.sim_time_ms()), "{} ms", sim.sim_time_ms());
}

#[test]
fn an_approach_to_an_object_ends_within_its_arrival_distance() {
    let mut sim = sim(ALPHA);
    let gate = gate(&sim, BETA);
    sim.add_ship(ship(1, gate.position + Vec3::new(0.0, 0.0, 12_000.0))).expect("a new ship");
    sim.apply(1, Command::Approach(Target::Object(gate.id))).expect("the gate is here");
    fly_until_idle(&mut sim, 1, 1_000, 120_000);
    let distance = position(&sim, 1).distance(gate.position);
    assert!(distance <= OBJECT_ARRIVAL_M && distance > POINT_ARRIVAL_M, "{distance}");
}

#[test]
fn a_followed_ship_is_caught_when_it_stops() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, START)).expect("leader");
    sim.add_ship(ship(2, START + Vec3::new(-5_000.0, 0.0, 0.0))).expect("follower");
    let stop = START + Vec3::new(0.0, 0.0, 10_000.0);
    sim.apply(1, Command::Approach(Target::Point(stop))).expect("valid");
    sim.apply(2, Command::Approach(Target::Object(1))).expect("ship 1 is here");
    sim.step(20_000.min(MAX_STEP_MS));
    let halfway = position(&sim, 2);
    assert!(halfway.distance(START) > 1_000.0, "the follower turned after the leader: {halfway:?}");
    fly_until_idle(&mut sim, 2, 1_000, 120_000);
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Idle));
    let gap = position(&sim, 2).distance(position(&sim, 1));
    assert!(gap <= OBJECT_ARRIVAL_M, "{gap}");
}

#[test]
fn an_approach_ends_when_the_followed_ship_leaves() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, START)).expect("leader");
    sim.add_ship(ship(2, START + Vec3::new(-5_000.0, 0.0, 0.0))).expect("follower");
    sim.apply(1, Command::Approach(Target::Point(START + Vec3::new(0.0, 0.0, 1.0e6)))).expect("valid");
    sim.apply(2, Command::Approach(Target::Object(1))).expect("ship 1 is here");
    sim.step(5_000);
    assert_eq!(sim.ship(2).map(Ship::motion), Some(Motion::Approaching));
    sim.remove_ship(1);
    sim.step(1_000);
    assert_eq!(sim.ship(2).map(Ship::motion), Some(Motion::Idle));
}

#[test]
fn stop_brakes_to_a_standstill() {
    let mut sim = sim(ALPHA);
    sim.add_ship(ship(1, START)).expect("a new ship");
    sim.apply(1, Command::Approach(Target::Point(START + Vec3::new(1.0e6, 0.0, 0.0)))).expect("valid");
    for _ in 0..15 {
        sim.step(1_000);
    }
    assert!((sim.ship(1).map_or(0.0, |s| s.velocity.length()) - MAX_SPEED_MS).abs() < 1e-6);
    sim.apply(1, Command::Stop).expect("stop is always accepted in sub-warp");
    assert_eq!(sim.ship(1).map(Ship::motion), Some(Motion::Idle));
    sim.step(5_000);
    assert!((sim.ship(1).map_or(0.0, |s| s.velocity.length()) - 150.0).abs() < 1e-6, "30 m/s² of braking");
    sim.step(5_000);
    assert_eq!(sim.ship(1).map(|s| s.velocity), Some(Vec3::ZERO));
    let resting = position(&sim, 1);
    sim.step(1_000);
    assert_eq!(position(&sim, 1), resting);
}

#[test]
fn a_warp_aligns_warps_and_lands_exactly_at_range() {
    for (range, expected) in [(0.0, 1_000.0), (20_000.0, 20_000.0)] {
        let mut sim = sim(ALPHA);
        let gate = gate(&sim, BETA);
        sim.add_ship(ship(1, Vec3::ZERO)).expect("a new ship, placed near the star");
        sim.step(1_000);
        let origin = position(&sim, 1);
        sim.apply(1, Command::WarpTo { object: gate.id, range_m: range }).expect("the gate is far enough");
        let mut motions = vec![];
        while sim.ship(1).map(Ship::motion) != Some(Motion::Idle) || motions.is_empty() {
            assert!(sim.sim_time_ms() < 60_000);
            motions.push((sim.sim_time_ms(), sim.ship(1).map(Ship::motion)));
            sim.step(500);
        }
        assert_eq!(motions.iter().filter(|(_, m)| *m == Some(Motion::Aligning)).count(), 8, "4 s of aligning");
        assert!(motions.iter().any(|(_, m)| *m == Some(Motion::Warping)));
        let ship = sim.ship(1).expect("landed");
        assert!((ship.position.distance(gate.position) - expected).abs() < 0.01, "{range}: {:?}", ship.position);
        assert_eq!(ship.velocity, Vec3::ZERO);
        // On the line from the warp start, which is near where the ship was when it began aligning.
        let line = gate.position - origin;
        let off_line = (ship.position - origin).length() - line.length() + expected;
        assert!(off_line.abs() < 500.0, "{off_line}");
    }
}

#[test]
fn a_thirty_au_warp_takes_well_under_half_a_minute() {
    let far = Celestial {
        id: celestial_id(9, 1),
        kind: CelestialKind::Planet,
        name: "Far I".into(),
        position: Vec3::new(0.0, 0.0, 30.0 * AU_M),
        destination: None,
    };
    let layout = SystemLayout { system_id: 9, name: "Far".into(), celestials: vec![far.clone()] };
    let mut sim = SystemSim::new(layout);
    sim.add_ship(ship(1, Vec3::new(50_000.0, 0.0, 0.0))).expect("a new ship");
    sim.apply(1, Command::WarpTo { object: far.id, range_m: 0.0 }).expect("far away");
    let took = fly_until_idle(&mut sim, 1, 100, 60_000);
    assert!((14_000..=25_000).contains(&took), "align and warp took {took} ms");
    assert!((position(&sim, 1).distance(far.position) - 1_000.0).abs() < 0.01);
}

/// Flies the same scenario with a given tick length and returns the ships' final states.
fn scenario(tick_ms: u64) -> Vec<(Vec3, Vec3, Motion)> {
    let mut sim = sim(ALPHA);
    let gate = gate(&sim, BETA);
    sim.add_ship(ship(1, START)).expect("ship 1");
    sim.add_ship(ship(2, START + Vec3::new(8_000.0, 0.0, 0.0))).expect("ship 2");
    sim.add_ship(ship(3, Vec3::new(40_000.0, 0.0, 0.0))).expect("ship 3");
    sim.apply(1, Command::Approach(Target::Point(START + Vec3::new(0.0, 6_000.0, 9_000.0)))).expect("valid");
    sim.apply(2, Command::Approach(Target::Object(1))).expect("valid");
    sim.apply(3, Command::WarpTo { object: gate.id, range_m: 5_000.0 }).expect("valid");
    for _ in 0..(13_000 / tick_ms) {
        sim.step(tick_ms);
    }
    sim.ships().map(|s| (s.position, s.velocity, s.motion())).collect()
}

#[test]
fn one_second_ticks_and_tenth_second_ticks_agree() {
    let coarse = scenario(1_000);
    for tick_ms in [100, 250, 50] {
        let fine = scenario(tick_ms);
        for (a, b) in coarse.iter().zip(&fine) {
            assert_eq!(a.2, b.2, "{tick_ms} ms ticks");
            // Sub-steps are 100 ms either way; other tick lengths change only how often a follower re-aims.
            let (metres, speed) = if tick_ms == 100 { (0.0, 0.0) } else { (5.0, 1.0) };
            assert!(a.0.distance(b.0) <= metres, "{tick_ms} ms ticks: {:?} vs {:?}", a.0, b.0);
            assert!((a.1 - b.1).length() <= speed, "{tick_ms} ms ticks: {:?} vs {:?}", a.1, b.1);
        }
    }
}

#[test]
fn ticks_count_and_time_advances_by_the_nominal_length() {
    let mut sim = sim(ALPHA);
    assert_eq!((sim.tick(), sim.sim_time_ms()), (0, 0));
    let out = sim.step(1_000);
    assert_eq!((out.tick, out.sim_time_ms), (1, 1_000));
    sim.step(250);
    assert_eq!((sim.tick(), sim.sim_time_ms()), (2, 1_250));
    let out = sim.step(0);
    assert_eq!((out.tick, out.sim_time_ms), (3, 1_250));
    let out = sim.step(u64::MAX);
    assert_eq!((out.tick, out.sim_time_ms), (4, 1_250 + MAX_STEP_MS));
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let run = || {
        let mut sim = sim(ALPHA);
        let gate = gate(&sim, BETA);
        sim.add_ship(ship(1, Vec3::ZERO)).expect("ship 1");
        sim.add_ship(ship(2, START)).expect("ship 2");
        sim.apply(1, Command::WarpTo { object: gate.id, range_m: 0.0 }).expect("valid");
        sim.apply(2, Command::Approach(Target::Object(1))).expect("valid");
        (0..30).map(|_| sim.step(1_000)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
