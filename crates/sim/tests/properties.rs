//! Properties over random inputs: the sim never panics or loses a ship into NaN whatever commands and numbers
//! it is fed, and the Time Dilation controller shares the budget max-min fairly within its bounds.

mod common;

use common::{ALPHA, ship, sim};
use orrery_sim::tidi::{TidiConfig, TidiController};
use orrery_sim::{Command, MAX_SPEED_MS, Motion, ObjectId, SYSTEM_RADIUS_M, Target, Vec3};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add(u64, Vec3),
    Arrive(u64, u32),
    Remove(u64),
    Apply(u64, Command),
    Step(u64),
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => proptest::num::f64::ANY,
        3 => -1.0e13..1.0e13f64,
        1 => Just(0.0),
        1 => -3_000.0..3_000.0f64,
    ]
}

/// Points anywhere, including non-finite ones, and points right next to the celestials.
fn point(celestials: Vec<Vec3>) -> impl Strategy<Value = Vec3> {
    let anywhere = (number(), number(), number()).prop_map(|(x, y, z)| Vec3::new(x, y, z));
    let near = (proptest::sample::select(celestials), -2_000.0..2_000.0f64, -2_000.0..2_000.0f64)
        .prop_map(|(c, dx, dz)| c + Vec3::new(dx, 0.0, dz));
    prop_oneof![anywhere, near]
}

fn object(celestials: Vec<ObjectId>) -> impl Strategy<Value = ObjectId> {
    prop_oneof![1..5u64, proptest::sample::select(celestials), any::<u64>()]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let layout = sim(ALPHA).layout().clone();
    let ids: Vec<ObjectId> = layout.celestials.iter().map(|c| c.id).collect();
    let positions: Vec<Vec3> = layout.celestials.iter().map(|c| c.position).collect();
    let text = prop_oneof!["[ -~]{0,20}", ".{0,600}", "\\PC{490,510}"];
    let command = prop_oneof![
        point(positions.clone()).prop_map(|p| Command::Approach(Target::Point(p))),
        object(ids.clone()).prop_map(|o| Command::Approach(Target::Object(o))),
        Just(Command::Stop),
        (object(ids.clone()), number()).prop_map(|(object, range_m)| Command::WarpTo { object, range_m }),
        object(ids).prop_map(|gate| Command::Jump { gate }),
        text.prop_map(|text| Command::Chat { text }),
    ];
    let op = prop_oneof![
        2 => (1..5u64, point(positions)).prop_map(|(id, p)| Op::Add(id, p)),
        1 => (1..5u64, 0..5u32).prop_map(|(id, from)| Op::Arrive(id, from)),
        1 => (1..5u64).prop_map(Op::Remove),
        6 => (1..5u64, command).prop_map(|(id, c)| Op::Apply(id, c)),
        4 => prop_oneof![0..3_000u64, Just(1_000u64), Just(30_000u64)].prop_map(Op::Step),
    ];
    proptest::collection::vec(op, 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_or_corrupts_a_ship(ops in ops()) {
        let mut sim = sim(ALPHA);
        for op in ops {
            match op {
                Op::Add(id, p) => { let _ = sim.add_ship(ship(id, p)); }
                Op::Arrive(id, from) => { let _ = sim.arrive(ship(id, Vec3::ZERO), from); }
                Op::Remove(id) => { sim.remove_ship(id); }
                Op::Apply(id, command) => { let _ = sim.apply(id, command); }
                Op::Step(dt) => {
                    let before = sim.tick();
                    let out = sim.step(dt);
                    prop_assert_eq!(out.tick, before + 1);
                    for view in &out.moved {
                        prop_assert!(!out.arrived.iter().any(|a| a.id == view.id));
                        prop_assert!(!out.departed.contains(&view.id));
                    }
                }
            }
            for s in sim.ships() {
                prop_assert!(s.position.is_finite() && s.position.length() <= 1.01 * SYSTEM_RADIUS_M, "{:?}", s);
                prop_assert!(s.velocity.is_finite());
                if s.motion() != Motion::Warping {
                    prop_assert!(s.velocity.length() <= MAX_SPEED_MS + 1e-6, "{:?}", s);
                }
            }
        }
    }

    #[test]
    fn tidi_shares_the_budget_fairly(demands in proptest::collection::vec(0.0..3.0f64, 1..20)) {
        let config = TidiConfig::default();
        let mut tidi = TidiController::new(config).expect("valid defaults");
        for (system, &demand) in demands.iter().enumerate() {
            tidi.observe(system as u32, demand, 1.0);
        }
        tidi.update();
        let total: f64 = demands.iter().sum();
        let factors: Vec<f64> = tidi.factors().map(|(_, f)| f).collect();
        prop_assert_eq!(factors.len(), demands.len());
        for (&d, &f) in demands.iter().zip(&factors) {
            prop_assert!((config.floor..=1.0).contains(&f));
            if total <= config.budget || d <= config.budget / demands.len() as f64 {
                prop_assert_eq!(f, 1.0);
            }
        }
        let used: f64 = demands.iter().zip(&factors).map(|(d, f)| d * f).sum();
        if factors.iter().all(|&f| f > config.floor) {
            prop_assert!(used <= config.budget + 1e-9, "{} > budget", used);
            // Max-min fairness: every slowed system gets the same share, and no quiet system needs more.
            let slowed: Vec<f64> = demands.iter().zip(&factors).filter(|(_, f)| **f < 1.0).map(|(d, f)| d * f).collect();
            if let Some(&share) = slowed.first() {
                prop_assert!(slowed.iter().all(|s| (s - share).abs() < 1e-9));
                prop_assert!(demands.iter().zip(&factors).all(|(d, f)| *f < 1.0 || *d <= share + 1e-9));
            }
        }

        // When the load goes away, every factor recovers by at most one step per update, never falling.
        for _ in 0..12 {
            let before: Vec<f64> = tidi.factors().map(|(_, f)| f).collect();
            for system in 0..demands.len() {
                tidi.observe(system as u32, 0.0, 1.0);
            }
            tidi.update();
            for ((_, now), then) in tidi.factors().zip(before) {
                prop_assert!(now >= then && now - then <= config.recovery_per_update + 1e-12);
            }
        }
    }
}
