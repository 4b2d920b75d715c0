//! The node's message handling driven as a unit: bus messages into a hosted system's inbox, ticks as the clock
//! (each advances the simulation by the tick's step, no wall time involved), and the effects — bus messages
//! and store writes — read back decoded.

use orrery_proto::v1::{self, proxy_inbox::Body as P, server_envelope::Body as S, system_inbox::Body as In};
use orrery_sim::{Celestial, CelestialKind, SystemLayout, Vec3, celestial_id};
use prost::Message;

use super::{Hosted, TickContext, TickEffects};
use crate::persist::PersistJob;

const HERE: u32 = 1;
const THERE: u32 = 2;
const STEP_MS: u64 = 1_000;
/// The farthest a ship moves in one step outside warp (the starter frigate's 350 m/s for one second of
/// simulation), and a little.
const ONE_TICK_OF_TRAVEL_M: f64 = 350.0 + 1e-6;
const GATE_AT: Vec3 = Vec3 { x: 1.0e12, y: 0.0, z: 0.0 };

fn gate_id() -> u64 {
    celestial_id(HERE, 1)
}

fn layout(system_id: u32, other: u32) -> SystemLayout {
    let star = Celestial {
        id: celestial_id(system_id, 0),
        kind: CelestialKind::Star,
        name: format!("S{system_id}"),
        position: Vec3::ZERO,
        destination: None,
    };
    let gate = Celestial {
        id: celestial_id(system_id, 1),
        kind: CelestialKind::Stargate,
        name: format!("S{system_id} gate to S{other}"),
        position: GATE_AT,
        destination: Some(other),
    };
    SystemLayout { system_id, name: format!("S{system_id}"), celestials: vec![star, gate] }
}

/// A proxy message, decoded: (proxy id, session id, body).
type ToProxy = (u32, u64, P);

/// What one tick sent, decoded.
#[derive(Default)]
struct Sent {
    /// Every proxy message published at once.
    to_proxy: Vec<ToProxy>,
    /// (system id, body) of every message to another system's inbox.
    to_system: Vec<(u32, In)>,
    deltas: Vec<v1::SystemDelta>,
    /// Notices to everyone in the system (on its delta subject).
    notices: Vec<String>,
    /// Store writes, with the proxy message each one sends once written.
    persisted: Vec<(Vec<orrery_store::ShipRow>, Option<ToProxy>)>,
}

fn decode_proxy(subject: &str, payload: &[u8]) -> ToProxy {
    let proxy = subject.strip_prefix("proxy.").and_then(|id| id.parse().ok()).expect("a proxy subject");
    let message = v1::ProxyInbox::decode(payload).expect("a proxy inbox message");
    (proxy, message.session_id, message.body.expect("a body"))
}

impl Sent {
    fn from(effects: TickEffects) -> Sent {
        let mut sent = Sent::default();
        for (subject, payload) in effects.publish {
            if subject.ends_with(".delta") {
                let envelope = orrery_proto::frame::decode::<v1::ServerEnvelope>(&payload[4..]).expect("a delta");
                match envelope.body {
                    Some(S::Delta(delta)) => sent.deltas.push(delta),
                    Some(S::Notice(notice)) => sent.notices.push(notice.text),
                    _ => panic!("neither a delta nor a notice: {envelope:?}"),
                }
            } else if let Some(system) = subject.strip_prefix("system.") {
                let system = system.parse().expect("a system subject");
                let message = v1::SystemInbox::decode(&payload[..]).expect("a system inbox message");
                sent.to_system.push((system, message.body.expect("a body")));
            } else {
                sent.to_proxy.push(decode_proxy(&subject, &payload));
            }
        }
        for PersistJob { rows, then_publish, .. } in effects.persist {
            let answer = then_publish.map(|(subject, payload)| decode_proxy(&subject, &payload));
            sent.persisted.push((rows, answer));
        }
        sent
    }

    /// The server envelope sent to `session` (forwarded, entered or left), in order.
    fn answers_to(&self, session: u64) -> Vec<v1::ServerEnvelope> {
        self.to_proxy
            .iter()
            .chain(self.persisted.iter().filter_map(|(_, answer)| answer.as_ref()))
            .filter(|(_, to, _)| *to == session)
            .filter_map(|(_, _, body)| match body {
                P::Forward(bytes) | P::Left(bytes) => {
                    Some(v1::ServerEnvelope::decode(&bytes[..]).expect("an envelope"))
                }
                P::Entered(entered) => Some(v1::ServerEnvelope::decode(&entered.snapshot[..]).expect("a snapshot")),
                P::Lost(_) => None,
            })
            .collect()
    }

    /// The ships `session`'s proxy was told are lost (not in the system, nothing known of them).
    fn lost_for(&self, session: u64) -> Vec<v1::ShipLost> {
        self.to_proxy
            .iter()
            .filter(|(_, to, _)| *to == session)
            .filter_map(|(_, _, body)| if let P::Lost(lost) = body { Some(*lost) } else { None })
            .collect()
    }

    fn rows(&self) -> Vec<&orrery_store::ShipRow> {
        self.persisted.iter().flat_map(|(rows, _)| rows).collect()
    }
}

fn route(session_id: u64) -> Option<v1::SessionRoute> {
    Some(v1::SessionRoute { proxy_id: 7, session_id })
}

fn record(ship_id: u64, position: Vec3) -> v1::ShipRecord {
    v1::ShipRecord {
        ship_id,
        character_id: ship_id + 1000,
        pilot: format!("pilot {ship_id}"),
        system_id: HERE,
        position: Some(v1::Vec3d { x: position.x, y: position.y, z: position.z }),
        velocity: Some(v1::Vec3d::default()),
        handoff_seq: 0,
        ..Default::default()
    }
}

fn enter(session: u64, request_id: u32, record: v1::ShipRecord) -> In {
    In::Enter(v1::EnterSpace { route: route(session), request_id, ship: Some(record) })
}

fn command(session: u64, ship_id: u64, request_id: u32, body: v1::client_envelope::Body) -> In {
    In::Command(v1::SessionCommand {
        route: route(session),
        ship_id,
        envelope: Some(v1::ClientEnvelope { request_id, body: Some(body) }),
    })
}

/// Session `session` takes ship `ship_id` out of space; `answer` is its logout's request id (none: a dropped
/// connection).
fn leave(ship_id: u64, session: u64, answer: Option<u32>) -> In {
    let answer_route = answer.and(route(session));
    In::Leave(v1::LeaveSpace { ship_id, route: answer_route, request_id: answer.unwrap_or(0), owner: route(session) })
}

fn approach(x: i64) -> v1::client_envelope::Body {
    v1::client_envelope::Body::Approach(v1::Approach {
        target: Some(v1::approach::Target::Point(v1::Vec3 { x, y: 0, z: 0 })),
    })
}

/// A hosted system driven by hand.
struct Harness {
    hosted: Hosted,
}

impl Harness {
    fn new(system_id: u32, other: u32) -> Harness {
        Harness { hosted: Hosted::new(orrery_sim::SystemSim::new(layout(system_id, other)), 1_000, STEP_MS) }
    }

    fn send(&mut self, body: In) {
        let message = v1::SystemInbox { body: Some(body), origin: 0, seq: 0 };
        self.hosted.inbox.push_back(bytes::Bytes::from(message.encode_to_vec()));
    }

    fn tick(&mut self) -> Sent {
        Sent::from(self.tick_effects())
    }

    /// One tick's effects as the node would get them.
    fn tick_effects(&mut self) -> TickEffects {
        let context =
            TickContext { profiler: None, metrics: None, node_id: 3, factor: 1.0, allow_fault_injection: false };
        let mut effects = TickEffects::default();
        self.hosted.tick(&context, &mut effects);
        effects
    }

    fn position(&self, ship_id: u64) -> Vec3 {
        self.hosted.sim.ship(ship_id).expect("the ship is in space").position
    }
}

fn only_snapshot(sent: &Sent, session: u64) -> v1::SystemSnapshot {
    match sent.answers_to(session).as_slice() {
        [v1::ServerEnvelope { body: Some(S::Snapshot(snapshot)), .. }] => snapshot.clone(),
        other => panic!("expected one snapshot for session {session}, got {other:?}"),
    }
}

fn only_error(sent: &Sent, session: u64) -> (u32, v1::ErrorCode, String) {
    match sent.answers_to(session).as_slice() {
        [v1::ServerEnvelope { request_id, body: Some(S::Error(error)) }] => {
            (*request_id, error.code(), error.reason.clone())
        }
        other => panic!("expected one error for session {session}, got {other:?}"),
    }
}

/// A system with ship 10 of session 1 in space, 1,000 km from the star.
fn undocked() -> Harness {
    let mut node = Harness::new(HERE, THERE);
    node.send(enter(1, 1, record(10, Vec3::new(1.0e6, 0.0, 0.0))));
    node.tick();
    node
}

#[test]
fn an_entering_ship_gets_its_snapshot_and_is_stored_in_space() {
    let mut node = Harness::new(HERE, THERE);
    node.send(enter(1, 5, record(10, Vec3::new(1.0e6, 0.0, 0.0))));
    let sent = node.tick();
    let snapshot = only_snapshot(&sent, 1);
    assert_eq!((snapshot.system_id, snapshot.your_ship_id, snapshot.tick, snapshot.node_id), (HERE, 10, 1, 3));
    assert_eq!(sent.answers_to(1)[0].request_id, 5);
    let rows = sent.rows();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].in_space && rows[0].ship_id == 10 && rows[0].system_id == HERE);
    assert_eq!(rows[0].position, [1.0e6, 0.0, 0.0]);
    assert_eq!(sent.deltas.len(), 1, "a system with a ship publishes a delta every tick");
    assert_eq!(sent.deltas[0].arrived.iter().map(|s| s.ship_id).collect::<Vec<_>>(), vec![10]);
}

#[test]
fn ticks_are_the_clock_each_advances_the_simulation_by_one_step() {
    let mut node = undocked();
    node.send(command(1, 10, 2, approach(2_000_000)));
    let mut last = node.position(10).x;
    for tick in 2..=6 {
        let sent = node.tick();
        assert_eq!(sent.deltas[0].tick, tick);
        assert_eq!(sent.deltas[0].sim_time_ms, tick * STEP_MS);
        let now = node.position(10).x;
        assert!(now > last && now - last <= ONE_TICK_OF_TRAVEL_M, "tick {tick}: moved from {last} to {now}");
        last = now;
    }
}

#[test]
fn a_refused_command_is_answered_to_its_session_with_its_request_id() {
    let mut node = Harness::new(HERE, THERE);
    node.send(command(4, 99, 17, v1::client_envelope::Body::Stop(v1::Stop {})));
    let (request_id, code, reason) = only_error(&node.tick(), 4);
    assert_eq!((request_id, code), (17, v1::ErrorCode::NotInSystem));
    assert!(reason.contains("ship 99 is not in system 1"), "{reason}");

    let mut node = undocked();
    let far_gate = v1::client_envelope::Body::Jump(v1::Jump { gate_id: gate_id() });
    node.send(command(1, 10, 18, far_gate));
    assert_eq!(only_error(&node.tick(), 1).1, v1::ErrorCode::OutOfRange);
}

#[test]
fn entering_ships_fly_their_stored_hull_and_damage_and_checkpoints_keep_them() {
    let mut node = Harness::new(HERE, THERE);
    // A ship stored before ships had types enters in the starter frigate; a damaged Tempest keeps its damage.
    let mut tempest = record(11, Vec3::new(1.0e6, 0.0, 0.0));
    tempest.ship_type_id = 639;
    tempest.hit_points = Some(v1::HitPoints { shield: 0.0, armour: 1_000.0, hull: 8_000.0 });
    node.send(enter(1, 1, record(10, Vec3::new(1.0e6, 5_000.0, 0.0))));
    node.send(enter(2, 2, tempest));
    let sent = node.tick();
    let hull = |id: u64| node.hosted.sim.ship(id).and_then(|s| s.combat.clone()).expect("a typed ship");
    assert_eq!(hull(10).ship_type.name, "Rifter");
    assert_eq!(hull(10).hull_hp, hull(10).ship_type.hull_hp, "fresh");
    assert_eq!(hull(11).ship_type.name, "Tempest");
    assert_eq!(hull(11).armour_hp, 1_000.0);
    let stored: Vec<_> = sent.rows().into_iter().filter(|row| row.ship_id == 11).collect();
    let hit_points = stored[0].hull.and_then(|h| h.hit_points).expect("hit points checkpointed");
    assert_eq!(stored[0].hull.map(|h| h.type_id), Some(639));
    assert!(hit_points[0] < 1.0 && hit_points[1] == 1_000.0, "{hit_points:?}");
}

#[test]
fn fight_commands_reach_the_sim_and_bad_ones_are_refused_with_a_clear_code() {
    use v1::client_envelope::Body as B;
    let mut node = undocked();
    node.send(enter(2, 1, record(11, Vec3::new(1.0e6 + 2_000.0, 0.0, 0.0))));
    node.tick();
    node.send(command(1, 10, 21, B::Lock(v1::Lock { target_id: 11 })));
    assert!(node.tick().answers_to(1).is_empty(), "an accepted lock has no answer");
    node.send(command(1, 10, 22, B::Lock(v1::Lock { target_id: 11 })));
    let (request_id, code, _) = only_error(&node.tick(), 1);
    assert_eq!((request_id, code), (22, v1::ErrorCode::AlreadyLocked));
    node.send(command(1, 10, 23, B::ActivateModule(v1::ActivateModule { module: 300, target_id: 11 })));
    let (_, code, reason) = only_error(&node.tick(), 1);
    assert_eq!(code, v1::ErrorCode::InvalidArgument);
    assert!(reason.contains("activate_module.module: 300"), "{reason}");
    node.send(command(1, 10, 24, B::Orbit(v1::Orbit { object_id: 11, radius_m: 1_000 })));
    let sent = node.tick();
    assert!(sent.answers_to(1).is_empty(), "an accepted orbit has no answer");
    assert!(sent.deltas[0].moved.iter().any(|s| s.ship_id == 10), "the orbiting ship moves");
}

#[test]
fn a_hostile_session_cannot_lock_past_its_limit_or_grow_the_system_by_repeating_commands() {
    use v1::client_envelope::Body as B;
    let mut node = undocked();
    for (session, ship) in (2..=7).zip(11..=16u64) {
        node.send(enter(session, 1, record(ship, Vec3::new(1.0e6 + 1_000.0 * (ship - 10) as f64, 0.0, 0.0))));
    }
    node.tick();
    // A Rifter holds at most 4 locks: the fifth is refused and nothing changes.
    for (request, target) in (50..).zip(11..=15u64) {
        node.send(command(1, 10, request, B::Lock(v1::Lock { target_id: target })));
    }
    let sent = node.tick();
    match sent.answers_to(1).as_slice() {
        [v1::ServerEnvelope { request_id: 54, body: Some(S::Error(error)) }] => {
            assert_eq!(error.code(), v1::ErrorCode::TooManyLocks);
        }
        other => panic!("expected one TOO_MANY_LOCKS for the fifth lock, got {other:?}"),
    }
    let locks = |node: &Harness| node.hosted.sim.ship(10).and_then(|s| s.combat.as_ref()).map_or(0, |c| c.locks.len());
    assert_eq!(locks(&node), 4);
    for _ in 0..5 {
        node.tick();
    }
    // A flood of the same activation within one tick: the first switches the turret on, every repeat is refused
    // (a module cannot fire faster than its cycle), and nothing is kept: the inbox is empty after the tick, the
    // ship holds the same locks and modules.
    for request in 0..2_000 {
        node.send(command(1, 10, 100 + request, B::ActivateModule(v1::ActivateModule { module: 0, target_id: 11 })));
    }
    let sent = node.tick();
    let refusals = sent.answers_to(1);
    assert_eq!(refusals.len(), 1_999, "every repeat answered");
    assert!(
        refusals
            .iter()
            .all(|answer| matches!(&answer.body, Some(S::Error(e)) if e.code() == v1::ErrorCode::ModuleActive))
    );
    assert!(node.hosted.inbox.is_empty());
    assert_eq!(locks(&node), 4);
    let combat = node.hosted.sim.ship(10).and_then(|s| s.combat.clone()).expect("typed");
    assert_eq!(combat.modules.len(), combat.ship_type.modules.len());
    assert_eq!(combat.modules.iter().filter(|m| m.target.is_some()).count(), 1);
    // Across systems: a ship that is not here is refused.
    node.send(command(1, 10, 5_000, B::Lock(v1::Lock { target_id: 999 })));
    let (_, code, _) = only_error(&node.tick(), 1);
    assert_eq!(code, v1::ErrorCode::NotInSystem);
}

/// Ship 10 (session 1) locks ship 11 (session 2) 2 km away and shoots it with every turret until the tick a
/// kill is reported; that tick's effects.
fn shoot_until_a_kill(node: &mut Harness, first_request: u32) -> TickEffects {
    use v1::client_envelope::Body as B;
    node.send(command(1, 10, first_request, B::Lock(v1::Lock { target_id: 11 })));
    for _ in 0..10 {
        node.tick();
    }
    for module in 0..3 {
        node.send(command(
            1,
            10,
            first_request + 1 + module,
            B::ActivateModule(v1::ActivateModule { module, target_id: 11 }),
        ));
    }
    for _ in 0..600 {
        let effects = node.tick_effects();
        if effects.kills.is_some() {
            return effects;
        }
    }
    panic!("no kill within 600 ticks");
}

#[test]
fn a_loss_is_stored_before_the_tick_is_published_and_a_lost_pod_is_sent_home() {
    let mut node = undocked();
    node.send(enter(2, 1, record(11, Vec3::new(1.0e6 + 2_000.0, 0.0, 0.0))));
    node.tick();

    // The frigate dies: the kill report waits to be stored; the delta that carries it is named.
    let effects = shoot_until_a_kill(&mut node, 30);
    let write = effects.kills.as_ref().expect("a kill write");
    assert_eq!(write.kills.len(), 1);
    let kill = &write.kills[0];
    assert_eq!(
        (kill.victim_ship_id, kill.victim_character_id, kill.ship_type_id, kill.capsule),
        (11, 1011, 587, false)
    );
    assert_eq!(kill.final_blow.ship_id, 10);
    assert_eq!(kill.attackers.iter().map(|a| a.ship_id).collect::<Vec<_>>(), vec![10]);
    assert_eq!(write.hulls, orrery_store::LossHulls { capsule: 670, respawn: 587 });
    let at = write.delta_at.expect("the delta's place");
    assert!(write.instead.is_empty(), "the pilot ejected: nobody is sent home yet");
    let delta_subject = node.hosted.delta_subject.clone();
    assert_eq!(effects.publish[at].0, delta_subject);
    let sent = Sent::from(effects);
    let delta = sent.deltas.iter().find(|d| !d.kills.is_empty()).expect("the delta with the kill");
    assert_eq!(delta.kills[0].victim_ship_id, 11);
    let pod = node.hosted.sim.ship(11).and_then(|s| s.combat.clone()).expect("the pilot in a pod");
    assert_eq!(pod.ship_type.name, "Capsule");

    // The pod dies too: its session is sent home (a Respawned, after the store write), or told of an internal
    // error if the write fails; the delta then goes out without the kill report.
    let mut effects = shoot_until_a_kill(&mut node, 40);
    let write = effects.kills.as_ref().expect("a kill write");
    assert!(write.kills[0].capsule);
    assert!(node.hosted.sim.ship(11).is_none(), "the pod left space");
    let home = Sent::from(TickEffects { publish: effects.publish.clone(), ..TickEffects::default() });
    match home.answers_to(2).as_slice() {
        [v1::ServerEnvelope { request_id: 0, body: Some(S::Respawned(respawned)) }] => {
            assert_eq!((respawned.character_id, respawned.lost_ship_id), (1011, 11));
        }
        other => panic!("expected a Respawned for session 2, got {other:?}"),
    }
    assert!(home.to_proxy.iter().any(|(_, session, body)| *session == 2 && matches!(body, P::Left(_))), "left space");
    effects.kills_lost();
    let lost = Sent::from(effects);
    assert!(lost.deltas.iter().all(|d| d.kills.is_empty()), "no kill report that was not stored");
    assert!(lost.deltas.iter().any(|d| d.departed.contains(&11)), "the rest of the delta still goes out");
    match lost.answers_to(2).as_slice() {
        [v1::ServerEnvelope { body: Some(S::Error(error)), .. }] => assert_eq!(error.code(), v1::ErrorCode::Internal),
        other => panic!("expected an internal error for session 2, got {other:?}"),
    }
}

/// Ship 10 of session 1 at the gate, its jump (request 9) queued; the next tick applies it.
fn jumping() -> Harness {
    let mut node = Harness::new(HERE, THERE);
    node.send(enter(1, 1, record(10, GATE_AT + Vec3::new(1_000.0, 0.0, 0.0))));
    node.tick();
    node.send(command(1, 10, 9, v1::client_envelope::Body::Jump(v1::Jump { gate_id: gate_id() })));
    node
}

#[test]
fn a_jump_hands_the_ship_to_its_destination_and_stores_it_there() {
    let mut node = jumping();
    let sent = node.tick();
    assert!(node.hosted.sim.ship(10).is_none());
    let [(system, In::Handoff(handoff))] = sent.to_system.as_slice() else {
        panic!("one handoff: {:?}", sent.to_system)
    };
    assert_eq!((*system, handoff.request_id, handoff.from_system_id), (THERE, 9, HERE));
    assert_eq!(handoff.route, route(1));
    assert_eq!(handoff.ship.as_ref().map(|ship| (ship.ship_id, ship.system_id)), Some((10, THERE)));
    let rows = sent.rows();
    assert!(rows.len() == 1 && rows[0].system_id == THERE && rows[0].in_space, "stored in the destination: {rows:?}");
    assert_eq!(sent.deltas[0].departed, vec![10]);
}

#[test]
fn commands_and_departures_behind_a_jump_follow_the_ship() {
    let mut node = jumping();
    node.tick();
    node.send(command(1, 10, 10, approach(0)));
    node.send(leave(10, 1, Some(11)));
    let sent = node.tick();
    assert!(sent.answers_to(1).is_empty(), "nothing answered here: {:?}", sent.answers_to(1));
    let followed: Vec<(u32, &str)> = sent
        .to_system
        .iter()
        .map(|(system, body)| (*system, if matches!(body, In::Command(_)) { "command" } else { "leave" }))
        .collect();
    assert_eq!(followed, vec![(THERE, "command"), (THERE, "leave")]);
}

#[test]
fn a_handoff_places_the_ship_at_the_gate_back_once() {
    let mut there = Harness::new(THERE, HERE);
    let mut ship = record(10, Vec3::ZERO);
    ship.system_id = THERE;
    ship.handoff_seq = 1;
    let handoff =
        v1::Handoff { route: route(1), request_id: 9, ship: Some(ship), from_system_id: HERE, arrival_gate_id: 0 };
    there.send(In::Handoff(handoff.clone()));
    there.send(In::Handoff(handoff));
    let sent = there.tick();
    let snapshot = only_snapshot(&sent, 1);
    assert_eq!((snapshot.system_id, snapshot.your_ship_id), (THERE, 10));
    assert_eq!(there.hosted.sim.ship_count(), 1, "a duplicate handoff is ignored");
    let distance = (there.position(10) - GATE_AT).length();
    assert!((500.0..=1_500.0).contains(&distance), "{distance} m from the gate back");
}

#[test]
fn a_full_system_bounces_a_jumping_ship_back_and_says_why() {
    let mut there = Harness::new(THERE, HERE);
    there.hosted.max_players = 0;
    let handoff = v1::Handoff {
        route: route(1),
        request_id: 9,
        ship: Some(record(10, Vec3::ZERO)),
        from_system_id: HERE,
        arrival_gate_id: 0,
    };
    there.send(In::Handoff(handoff));
    let sent = there.tick();
    let (request_id, code, _) = only_error(&sent, 1);
    assert_eq!((request_id, code), (9, v1::ErrorCode::SystemFull));
    let [(HERE, In::Handoff(back))] = sent.to_system.as_slice() else { panic!("bounced home: {:?}", sent.to_system) };
    assert_eq!(back.ship.as_ref().map(|ship| (ship.system_id, ship.handoff_seq)), Some((HERE, 1)));
}

#[test]
fn a_logout_is_answered_only_once_the_ship_is_stored() {
    let mut node = undocked();
    node.send(command(1, 10, 2, approach(2_000_000)));
    node.tick();
    node.tick();
    let live = node.position(10);
    node.send(leave(10, 1, Some(3)));
    let sent = node.tick();
    assert!(sent.to_proxy.is_empty(), "no answer before the write: {:?}", sent.to_proxy.len());
    let [(rows, Some((7, 1, P::Left(answer))))] = sent.persisted.as_slice() else {
        panic!("one write with its answer")
    };
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].in_space);
    assert_eq!(rows[0].position, [live.x, live.y, live.z], "stored where it was live");
    let answer = v1::ServerEnvelope::decode(&answer[..]).expect("envelope");
    assert!(matches!(answer, v1::ServerEnvelope { request_id: 3, body: Some(S::Ok(_)) }));
    assert_eq!(sent.deltas[0].departed, vec![10]);
}

#[test]
fn a_disconnect_stores_the_ship_without_an_answer() {
    let mut node = undocked();
    node.send(leave(10, 1, None));
    let sent = node.tick();
    assert!(sent.to_proxy.is_empty());
    assert!(matches!(sent.persisted.as_slice(), [(rows, None)] if rows.len() == 1 && !rows[0].in_space));
}

#[test]
fn a_full_system_queues_undocks_and_admits_them_when_a_place_frees() {
    let mut node = Harness::new(HERE, THERE);
    node.hosted.max_players = 1;
    node.send(enter(1, 1, record(10, Vec3::new(1.0e6, 0.0, 0.0))));
    node.send(enter(2, 4, record(20, Vec3::new(2.0e6, 0.0, 0.0))));
    let sent = node.tick();
    only_snapshot(&sent, 1);
    match sent.answers_to(2).as_slice() {
        [v1::ServerEnvelope { request_id: 4, body: Some(S::Queued(queued)) }] => {
            assert_eq!((queued.system_id, queued.position, queued.cap), (HERE, 1, 1));
        }
        other => panic!("session 2 should be queued: {other:?}"),
    }
    node.send(leave(10, 1, None));
    let sent = node.tick();
    let snapshot = only_snapshot(&sent, 2);
    assert_eq!((snapshot.your_ship_id, sent.answers_to(2)[0].request_id), (20, 4));
}

/// Ship 10 of session 1, flying towards +x for a few ticks; its record as last checkpointed (where it entered).
fn flying_with_a_stale_record() -> (Harness, v1::ShipRecord) {
    let stale = record(10, Vec3::new(1.0e6, 0.0, 0.0));
    let mut node = undocked();
    node.send(command(1, 10, 2, approach(2_000_000)));
    for _ in 0..8 {
        node.tick();
    }
    assert!(node.position(10).x > 1.0e6 + 500.0, "the ship moved away from its stored copy");
    (node, stale)
}

fn own_position(snapshot: &v1::SystemSnapshot) -> v1::Vec3 {
    let own = snapshot.ships.iter().find(|ship| ship.ship_id == snapshot.your_ship_id).expect("own ship listed");
    own.position.expect("a position")
}

fn quantised(position: Vec3) -> v1::Vec3 {
    let [x, y, z] = orrery_sim::quantise(position);
    v1::Vec3 { x, y, z }
}

#[test]
fn an_undock_right_after_a_drop_gets_the_ship_where_it_left_not_an_older_stored_copy() {
    for ticks_between in [0, 1, 3] {
        let (mut node, stale) = flying_with_a_stale_record();
        node.send(leave(10, 1, None));
        let sent = node.tick();
        let stored = sent.rows()[0].position;
        for _ in 0..ticks_between {
            node.tick();
        }
        node.send(enter(2, 7, stale.clone()));
        let snapshot = only_snapshot(&node.tick(), 2);
        // The snapshot describes the end of the entering tick: up to one tick of travel from where it left.
        let v1::Vec3 { x, y, z } = own_position(&snapshot);
        let offset = Vec3::new(x as f64, y as f64, z as f64) - Vec3::new(stored[0], stored[1], stored[2]);
        assert!(offset.length() <= ONE_TICK_OF_TRAVEL_M, "{ticks_between} ticks between drop and undock: {offset:?}");
    }
}

#[test]
fn an_undock_of_a_ship_in_space_hands_the_live_ship_to_the_new_session() {
    let (mut node, stale) = flying_with_a_stale_record();
    let live = node.position(10);
    node.send(enter(2, 7, stale));
    let sent = node.tick();
    let snapshot = only_snapshot(&sent, 2);
    assert_eq!(sent.answers_to(2)[0].request_id, 7);
    let moved_on = node.position(10);
    assert!((moved_on - live).length() <= ONE_TICK_OF_TRAVEL_M, "the live ship, one tick on: {live:?} → {moved_on:?}");
    assert_eq!(own_position(&snapshot), quantised(moved_on));
    assert_eq!(node.hosted.sim.ship_count(), 1, "one ship, never a copy beside it");
    assert!(sent.deltas[0].arrived.is_empty() && sent.deltas[0].departed.is_empty(), "it never left");
    match sent.to_proxy.iter().find(|(_, session, _)| *session == 1) {
        Some((_, _, P::Left(answer))) => {
            let answer = v1::ServerEnvelope::decode(&answer[..]).expect("envelope");
            let Some(S::Error(error)) = answer.body else { panic!("an error: {answer:?}") };
            assert_eq!(error.code(), v1::ErrorCode::SessionReplaced);
        }
        other => panic!("session 1 must be told it lost the ship: {other:?}"),
    }
}

#[test]
fn a_replaced_session_neither_steers_nor_stores_the_ship() {
    let (mut node, stale) = flying_with_a_stale_record();
    node.send(enter(2, 7, stale));
    node.tick();
    node.send(command(1, 10, 8, v1::client_envelope::Body::Stop(v1::Stop {})));
    let (request_id, code, _) = only_error(&node.tick(), 1);
    assert_eq!((request_id, code), (8, v1::ErrorCode::SessionReplaced));
    node.send(leave(10, 1, Some(9)));
    let sent = node.tick();
    assert!(node.hosted.sim.ship(10).is_some(), "the old session's logout leaves the ship to the new one");
    assert!(sent.rows().is_empty());
    assert!(matches!(sent.answers_to(1).as_slice(), [v1::ServerEnvelope { request_id: 9, body: Some(S::Ok(_)) }]));
    node.send(command(2, 10, 10, v1::client_envelope::Body::Stop(v1::Stop {})));
    assert!(node.tick().answers_to(2).is_empty(), "the new session steers");
    node.send(leave(10, 2, None));
    assert_eq!(node.tick().rows().len(), 1, "and its drop stores the ship");
}

#[test]
fn an_undock_behind_a_jump_follows_the_ship() {
    let mut node = jumping();
    node.tick();
    node.send(enter(2, 3, record(10, Vec3::new(5.0, 0.0, 0.0))));
    let sent = node.tick();
    assert!(node.hosted.sim.ship(10).is_none());
    assert!(matches!(sent.to_system.as_slice(), [(THERE, In::Enter(_))]), "{:?}", sent.to_system);
}

mod model;

/// A stamped inbox message, as a publisher with `origin` sends its `seq`-th message.
fn stamped(origin: u64, seq: u64, body: In) -> bytes::Bytes {
    bytes::Bytes::from(v1::SystemInbox { body: Some(body), origin, seq }.encode_to_vec())
}

fn chat(text: &str) -> v1::client_envelope::Body {
    v1::client_envelope::Body::Chat(v1::Chat { text: text.into() })
}

fn step() -> v1::MoveStep {
    v1::MoveStep { move_id: 1, system_id: HERE, from_node: 3, to_node: 4 }
}

#[test]
fn a_moved_system_ticks_on_from_the_same_state_and_tick() {
    let mut old = undocked();
    old.send(command(1, 10, 2, approach(2_000_000)));
    old.tick();
    old.tick();
    let transfer = old.hosted.export(step(), 400).expect("exports");
    assert!(old.hosted.gone, "the old node lets the system go");
    let mut new =
        Harness { hosted: Hosted::import(&transfer, std::collections::VecDeque::new(), STEP_MS).expect("imports") };
    assert_eq!(new.hosted.sim.tick(), 3);
    assert_eq!(new.position(10), old.position(10), "the ship is where it was");
    // The order being flown came along: the ship keeps approaching, one tick's travel per tick.
    let before = new.position(10).x;
    let sent = new.tick();
    assert_eq!(sent.deltas[0].tick, 4, "ticks on from the next tick number");
    assert!(new.position(10).x > before);
    // And the pilot came along: another session's command is refused as before.
    new.send(command(2, 10, 9, approach(0)));
    assert_eq!(only_error(&new.tick(), 2).1, v1::ErrorCode::SessionReplaced);
}

#[test]
fn a_moved_system_applies_every_message_once_whichever_node_received_it() {
    let mut old = undocked();
    // The proxy's session (origin 77) sends lines 1..=6. The old node took 1..=3 (it applied 1 and 2, and 3
    // waits in its inbox at the release); the new node subscribed before the release, so it holds 2..=6.
    let line = |n: u64| stamped(77, n, command(1, 10, n as u32, chat(&format!("line {n}"))));
    old.hosted.inbox.push_back(line(1));
    old.hosted.inbox.push_back(line(2));
    old.tick();
    old.hosted.inbox.push_back(line(3));
    let transfer = old.hosted.export(step(), 0).expect("exports");
    assert_eq!(transfer.seen.get(&77), Some(&2), "the highest stamp it applied");
    let held: std::collections::VecDeque<_> = (2..=6).map(line).collect();
    let mut new = Harness { hosted: Hosted::import(&transfer, held, STEP_MS).expect("imports") };
    let sent = new.tick();
    let said: Vec<String> = sent.deltas.iter().flat_map(|d| d.chat.iter().map(|c| c.text.clone())).collect();
    assert_eq!(said, ["line 3", "line 4", "line 5", "line 6"], "3 from the transfer, then 4..=6 held; 2 not again");
}

#[test]
fn a_transfer_that_does_not_decode_is_refused_not_a_panic() {
    let transfer = v1::SystemTransfer { sim: bytes::Bytes::from_static(&[0xff; 7]), ..v1::SystemTransfer::default() };
    assert!(Hosted::import(&transfer, std::collections::VecDeque::new(), STEP_MS).is_err());
}

#[test]
fn a_command_for_a_ship_the_system_knows_nothing_of_sends_the_proxy_looking_for_it() {
    // A system restored without the ship (the store had it elsewhere): the command is refused, and the
    // session's proxy is told the ship is lost here so that it looks for it where the store has it.
    let mut node = Harness::new(HERE, THERE);
    node.send(command(6, 42, 5, approach(0)));
    let sent = node.tick();
    assert_eq!(only_error(&sent, 6).1, v1::ErrorCode::NotInSystem);
    assert_eq!(sent.lost_for(6), vec![v1::ShipLost { system_id: HERE, ship_id: 42 }]);
    // A ship that jumped out is followed instead: no one is told it is lost.
    let mut node = jumping();
    node.send(command(1, 10, 9, approach(0)));
    let sent = node.tick();
    assert!(sent.lost_for(1).is_empty() && sent.answers_to(1).is_empty(), "followed to its destination");
}

#[test]
fn a_restored_system_counts_on_and_fences_the_dead_nodes_late_writes() {
    let mut node = Harness::new(HERE, THERE);
    let mut effects = TickEffects::default();
    let mut ship = record(10, Vec3::new(5.0e5, 0.0, 0.0));
    ship.handoff_seq = 4;
    node.hosted.restore(&[ship], (1_000_000, 2_000_000), &mut effects);
    let sent = Sent::from(effects);
    let rows = sent.rows();
    assert_eq!((rows.len(), rows[0].handoff_seq, rows[0].in_space), (1, 5, true), "written back one handoff later");
    assert!(sent.notices.iter().any(|text| text.contains("restored")), "its clients are told: {:?}", sent.notices);
    assert_eq!(node.position(10), Vec3::new(5.0e5, 0.0, 0.0));
    let tick = node.tick().deltas[0].tick;
    assert!(tick > 1_000_000, "the tick counts on from past the old node's numbers, got {tick}");
    // Without a pilot, the first session to command the ship claims it, and is sent the system (its proxy
    // may route it elsewhere: a jump whose handoff died with the node ends here) as the ship was restored.
    node.send(command(6, 10, 1, approach(0)));
    let claimed = node.tick();
    let snapshot = only_snapshot(&claimed, 6);
    assert_eq!((snapshot.system_id, snapshot.your_ship_id), (HERE, 10));
    assert!(
        claimed.to_proxy.iter().any(|(_, to, body)| *to == 6 && matches!(body, P::Entered(e) if e.system_id == HERE)),
        "the proxy is told the ship is here"
    );
    node.send(command(6, 10, 3, approach(0)));
    assert!(node.tick().answers_to(6).is_empty(), "accepted, no second snapshot");
    node.send(command(8, 10, 2, approach(0)));
    assert_eq!(only_error(&node.tick(), 8).1, v1::ErrorCode::SessionReplaced);
}

#[test]
fn a_message_a_publisher_sent_once_is_applied_once_even_if_it_arrives_twice() {
    let mut node = undocked();
    let line = |n: u64| stamped(5, n, command(1, 10, n as u32, chat(&format!("line {n}"))));
    for n in [1, 2, 2, 1, 3] {
        node.hosted.inbox.push_back(line(n));
    }
    let said: Vec<String> = node.tick().deltas.iter().flat_map(|d| d.chat.iter().map(|c| c.text.clone())).collect();
    assert_eq!(said, ["line 1", "line 2", "line 3"]);
}

#[test]
fn a_publisher_silent_for_the_forwarding_time_is_forgotten() {
    let mut node = undocked();
    node.hosted.inbox.push_back(stamped(9, 1, command(1, 10, 1, chat("hello"))));
    node.tick();
    assert!(node.hosted.seen.contains_key(&9));
    for _ in 0..=super::FORWARD_TICKS {
        node.tick();
    }
    assert!(!node.hosted.seen.contains_key(&9), "the map keeps recent publishers only");
}
