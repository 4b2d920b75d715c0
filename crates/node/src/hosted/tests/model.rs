//! A model-based test of the sessions a hosted system serves (issue 26): random sequences of undocks, commands,
//! logouts, dropped connections, ticks and a store that lags behind, from three sessions for two ships, checked
//! after every step against a small reference model:
//!
//! - exactly one live ship per character, flown by the session the model says (the last one to undock it);
//! - no command is applied for a session that does not fly the ship (it gets an error instead);
//! - every logout or drop by the ship's session stores that ship where it was live;
//! - positions never move backwards in time: from tick to tick, and across a drop and a new undock, a ship
//!   moves at most one tick of travel — never back to an older stored copy.

use std::collections::HashMap;

use orrery_proto::v1::{self, server_envelope::Body as S};
use orrery_sim::Vec3;
use proptest::prelude::*;

use super::{HERE, Harness, ONE_TICK_OF_TRAVEL_M, Sent, THERE, approach, command, enter, leave, record};

const SHIPS: [u64; 2] = [10, 20];
const SESSIONS: u64 = 3;

#[derive(Debug, Clone)]
enum Op {
    Undock { session: u64, ship: u64 },
    Approach { session: u64, ship: u64, x: i64 },
    Stop { session: u64, ship: u64 },
    Logout { session: u64, ship: u64 },
    Drop { session: u64, ship: u64 },
    Tick,
    StoreCatchesUp,
}

fn op() -> impl Strategy<Value = Op> {
    let who = (1..=SESSIONS, prop::sample::select(SHIPS.to_vec()));
    prop_oneof![
        2 => who.clone().prop_map(|(session, ship)| Op::Undock { session, ship }),
        2 => (who.clone(), -3_000_000i64..3_000_000).prop_map(|((session, ship), x)| Op::Approach { session, ship, x }),
        1 => who.clone().prop_map(|(session, ship)| Op::Stop { session, ship }),
        1 => who.clone().prop_map(|(session, ship)| Op::Logout { session, ship }),
        1 => who.prop_map(|(session, ship)| Op::Drop { session, ship }),
        4 => Just(Op::Tick),
        1 => Just(Op::StoreCatchesUp),
    ]
}

/// What the model expects of one ship.
#[derive(Debug, Clone, Copy, Default)]
struct ShipModel {
    /// The session flying it, while it is in space.
    pilot: Option<u64>,
    /// Where it was after the last tick it was in space.
    last_live: Option<Vec3>,
}

struct World {
    node: Harness,
    model: HashMap<u64, ShipModel>,
    /// The store as the proxy reads it: behind the node until the pending writes land.
    store: HashMap<u64, v1::ShipRecord>,
    pending: Vec<orrery_store::ShipRow>,
    /// Requests sent this tick that must be answered with an error, by session.
    must_fail: Vec<(u64, u32)>,
    /// Requests sent this tick that must not be answered with an error.
    must_pass: Vec<(u64, u32)>,
    /// Leaves sent this tick by the ship's own session, in order: (ship, position it must be stored at, when
    /// the model knows it — not for a ship that entered in the same tick).
    must_store: Vec<(u64, Option<Vec3>)>,
    next_request: u32,
}

impl World {
    fn new() -> World {
        let store = SHIPS.iter().map(|&ship| (ship, record(ship, Vec3::new(1.0e6 + ship as f64 * 1_000.0, 0.0, 0.0))));
        World {
            node: Harness::new(HERE, THERE),
            model: SHIPS.iter().map(|&ship| (ship, ShipModel::default())).collect(),
            store: store.collect(),
            pending: Vec::new(),
            must_fail: Vec::new(),
            must_pass: Vec::new(),
            must_store: Vec::new(),
            next_request: 1,
        }
    }

    fn request(&mut self) -> u32 {
        self.next_request += 1;
        self.next_request
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Undock { session, ship } => {
                let request_id = self.request();
                let stored = self.store[&ship].clone();
                self.node.send(enter(session, request_id, stored));
                // In space or not, the undocking session flies the ship from now on.
                self.model.get_mut(&ship).expect("a known ship").pilot = Some(session);
            }
            Op::Approach { session, ship, x } => self.steer(session, ship, approach(x)),
            Op::Stop { session, ship } => self.steer(session, ship, v1::client_envelope::Body::Stop(v1::Stop {})),
            Op::Logout { session, ship } | Op::Drop { session, ship } => {
                let answer = matches!(op, Op::Logout { .. }).then(|| self.request());
                self.node.send(leave(ship, session, answer));
                let model = self.model.get_mut(&ship).expect("a known ship");
                if model.pilot == Some(session) {
                    model.pilot = None;
                    let live = self.node.hosted.sim.ship(ship).map(|live| live.position);
                    self.must_store.push((ship, live));
                }
                if let Some(request_id) = answer {
                    self.must_pass.push((session, request_id));
                }
            }
            Op::StoreCatchesUp => {
                for row in self.pending.drain(..) {
                    let record = self.store.get_mut(&row.ship_id).expect("a known ship");
                    let [x, y, z] = row.position;
                    record.position = Some(v1::Vec3d { x, y, z });
                    let [x, y, z] = row.velocity;
                    record.velocity = Some(v1::Vec3d { x, y, z });
                    record.handoff_seq = row.handoff_seq;
                }
            }
            Op::Tick => return self.tick(),
        }
        Ok(())
    }

    fn steer(&mut self, session: u64, ship: u64, body: v1::client_envelope::Body) {
        let request_id = self.request();
        self.node.send(command(session, ship, request_id, body));
        // Whether the ship is still in space when the tick applies this is decided by the ops before it in
        // the same tick: the model's pilot is already up to date.
        if self.model[&ship].pilot == Some(session) {
            self.must_pass.push((session, request_id));
        } else {
            self.must_fail.push((session, request_id));
        }
    }

    fn tick(&mut self) -> Result<(), TestCaseError> {
        let sent = self.node.tick();
        self.check_answers(&sent)?;
        for ship in SHIPS {
            let stored: Vec<[f64; 3]> = sent
                .rows()
                .into_iter()
                .filter(|row| row.ship_id == ship && !row.in_space)
                .map(|row| row.position)
                .collect();
            let expected: Vec<Option<Vec3>> =
                self.must_store.iter().filter(|(s, _)| *s == ship).map(|(_, position)| *position).collect();
            prop_assert_eq!(stored.len(), expected.len(), "ship {}: one store per leave of its session", ship);
            for (row, position) in stored.iter().zip(&expected) {
                if let Some(p) = position {
                    prop_assert_eq!(*row, [p.x, p.y, p.z], "ship {} stored where it was live", ship);
                }
            }
        }
        self.must_store.clear();
        self.pending.extend(sent.rows().into_iter().copied());
        for ship in SHIPS {
            let model = self.model.get_mut(&ship).expect("a known ship");
            let live = self.node.hosted.sim.ship(ship).map(|live| live.position);
            prop_assert_eq!(live.is_some(), model.pilot.is_some(), "ship {} in space iff the model flies it", ship);
            let pilot = self.node.hosted.pilots.get(&ship).map(|route| route.session_id);
            prop_assert_eq!(pilot, model.pilot, "ship {} is flown by the session that undocked it last", ship);
            if let (Some(now), Some(before)) = (live, model.last_live) {
                let moved = (now - before).length();
                prop_assert!(moved <= ONE_TICK_OF_TRAVEL_M, "ship {} jumped {} m in one tick", ship, moved);
            }
            if let Some(now) = live {
                model.last_live = Some(now);
            }
        }
        Ok(())
    }

    fn check_answers(&mut self, sent: &Sent) -> Result<(), TestCaseError> {
        for session in 1..=SESSIONS {
            for answer in sent.answers_to(session) {
                let failed = matches!(answer.body, Some(S::Error(_)));
                let key = (session, answer.request_id);
                if self.must_fail.contains(&key) {
                    prop_assert!(failed, "request {:?} of a session not flying the ship was applied", key);
                }
                if self.must_pass.contains(&key) {
                    prop_assert!(!failed, "request {:?} of the ship's session refused: {:?}", key, answer);
                }
            }
            let answered: Vec<u32> = sent.answers_to(session).iter().map(|a| a.request_id).collect();
            for &(_, request_id) in self.must_fail.iter().filter(|(s, _)| *s == session) {
                prop_assert!(
                    answered.contains(&request_id),
                    "request {} of session {} unanswered",
                    request_id,
                    session
                );
            }
        }
        self.must_fail.clear();
        self.must_pass.clear();
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sessions_keep_one_live_ship_per_character(ops in prop::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op)?;
        }
        world.apply(&Op::Tick)?;
    }
}
