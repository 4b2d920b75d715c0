//! One system hosted by a sol node: its sim, its inbox, and the work of one tick — apply the queued messages
//! in arrival order, step the sim, and produce the messages to send. Sending is left to the caller (it is
//! async); this part is synchronous so that a panic in it can be caught and confined to the system.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use orrery_proto::v1::{self, server_envelope::Body as S, system_inbox::Body as In};
use orrery_proto::{error, frame, reply};
use orrery_sim::{CommandError, Outcome, SystemSim, tidi::permille};
use prost::Message;

use crate::convert;
use crate::persist::PersistJob;

/// Everything one tick wants sent: bus messages and store writes.
#[derive(Default)]
pub struct TickEffects {
    pub publish: Vec<(String, Bytes)>,
    pub persist: Vec<PersistJob>,
}

pub struct Hosted {
    pub sim: SystemSim,
    pub system_id: u32,
    pub tick_ms: u32,
    pub inbox: VecDeque<Bytes>,
    pub failed: bool,
    pub delta_subject: String,
    /// Simulation time one tick advances (the nominal tick length times the cluster's speed-up).
    pub step_ms: u64,
    /// Injected extra work per tick (test clusters only).
    burn: std::time::Duration,
    /// Celestials added since the last delta.
    new_celestials: Vec<v1::Celestial>,
    /// Player cap: ships beyond it wait in `queue` (entering) or are refused (jumping in).
    pub max_players: u32,
    /// Ships waiting to enter space here, in arrival order.
    queue: VecDeque<Waiting>,
    /// Ships that jumped out recently, with their destination and the tick they left: commands and logouts
    /// that were already on their way here follow the ship instead of failing (the client could not know).
    jumped: HashMap<u64, (u32, u64)>,
}

/// How many ticks a jumped ship's forwarding address is kept.
const FORWARD_TICKS: u64 = 600;

/// A ship waiting for a place in a full system.
struct Waiting {
    route: v1::SessionRoute,
    request_id: u32,
    ship: v1::ShipRecord,
    /// The position the session was last told.
    told: u32,
}

/// A ship that entered during this tick, to be sent its snapshot once the tick is done.
struct Entered {
    route: v1::SessionRoute,
    request_id: u32,
    ship_id: u64,
    handoff_seq: u64,
}

/// What a node needs to know while ticking.
pub struct TickContext<'a> {
    /// Present only while the profiler runs.
    pub profiler: Option<&'a orrery_telemetry::Profiler>,
    pub metrics: Option<&'a orrery_telemetry::Metrics>,
    pub node_id: u32,
    pub factor: f64,
    pub allow_fault_injection: bool,
}

impl Hosted {
    pub fn new(sim: SystemSim, tick_ms: u32, step_ms: u64) -> Hosted {
        let system_id = sim.layout().system_id;
        Hosted {
            sim,
            system_id,
            tick_ms,
            inbox: VecDeque::new(),
            failed: false,
            delta_subject: orrery_proto::delta_subject(system_id),
            step_ms,
            burn: std::time::Duration::ZERO,
            jumped: HashMap::new(),
            max_players: u32::MAX,
            queue: VecDeque::new(),
            new_celestials: Vec::new(),
        }
    }

    /// One tick. Panics are the caller's to catch.
    pub fn tick(&mut self, context: &TickContext<'_>, effects: &mut TickEffects) {
        let mut entered = Vec::new();
        while let Some(message) = self.inbox.pop_front() {
            match frame::decode::<v1::SystemInbox>(&message) {
                Ok(v1::SystemInbox { body: Some(body) }) => {
                    let kind = message_kind(&body);
                    if let Some(metrics) = context.metrics {
                        metrics.count_command(kind);
                    }
                    let started = context.profiler.map(|_| std::time::Instant::now());
                    self.apply(body, context, &mut entered, effects);
                    if let (Some(profiler), Some(started)) = (context.profiler, started) {
                        profiler.record_message(kind, started.elapsed());
                    }
                }
                Ok(_) => tracing::warn!(system = self.system_id, "empty system inbox message"),
                Err(problem) => tracing::error!(system = self.system_id, %problem, "undecodable system inbox message"),
            }
        }
        self.admit_waiting(&mut entered, effects);
        if !self.burn.is_zero() {
            let started = std::time::Instant::now();
            while started.elapsed() < self.burn {
                std::hint::spin_loop();
            }
        }
        let output = self.sim.step(self.step_ms);
        let now = output.tick;
        self.jumped.retain(|_, (_, left_at)| now.saturating_sub(*left_at) <= FORWARD_TICKS);
        let tidi_permille = permille(context.factor);
        let chat: Vec<v1::ChatLine> = output
            .chat
            .into_iter()
            .map(|line| v1::ChatLine { character_id: line.character_id, pilot: line.pilot, text: line.text })
            .collect();
        let new_celestials = std::mem::take(&mut self.new_celestials);
        if self.sim.ship_count() > 0 || !output.departed.is_empty() || !chat.is_empty() {
            let delta = v1::SystemDelta {
                system_id: self.system_id,
                tick: output.tick,
                sim_time_ms: output.sim_time_ms,
                tidi_permille,
                moved: output.moved.iter().map(convert::ship_state).collect(),
                arrived: output.arrived.iter().map(convert::ship_state).collect(),
                departed: output.departed,
                chat: chat.clone(),
                new_celestials,
            };
            effects.publish.push((self.delta_subject.clone(), frame::encode(&reply(0, S::Delta(delta)))));
        }
        for entry in entered {
            let mut snapshot = self.snapshot(entry.request_id, entry.ship_id, context.node_id, tidi_permille);
            if let Some(S::Snapshot(body)) = &mut snapshot.body {
                body.chat = chat.clone();
            }
            let message = v1::ProxyInbox {
                session_id: entry.route.session_id,
                body: Some(v1::proxy_inbox::Body::Entered(v1::Entered {
                    system_id: self.system_id,
                    snapshot: Bytes::from(snapshot.encode_to_vec()),
                    handoff_seq: entry.handoff_seq,
                    ship_id: entry.ship_id,
                })),
            };
            effects.publish.push(proxy_message(entry.route.proxy_id, &message));
        }
    }

    fn apply(&mut self, body: In, context: &TickContext<'_>, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        match body {
            In::Command(command) => {
                let route = command.route.unwrap_or_default();
                let envelope = command.envelope.unwrap_or_default();
                let request_id = envelope.request_id;
                if self.sim.ship(command.ship_id).is_none()
                    && let Some(&(destination, _)) = self.jumped.get(&command.ship_id)
                {
                    let ship_id = command.ship_id;
                    let message = v1::SystemInbox {
                        body: Some(In::Command(v1::SessionCommand {
                            route: Some(route),
                            ship_id,
                            envelope: Some(envelope),
                        })),
                    };
                    effects
                        .publish
                        .push((orrery_proto::system_subject(destination), Bytes::from(message.encode_to_vec())));
                    return;
                }
                let outcome = match convert::command(&envelope) {
                    Ok(cmd) => self.sim.apply(command.ship_id, cmd),
                    Err(reason) => Err(CommandError::InvalidArgument(reason)),
                };
                match outcome {
                    Ok(Outcome::Accepted) => {}
                    Ok(Outcome::JumpedOut { ship, destination_system }) => {
                        if let Some(metrics) = context.metrics {
                            metrics.count_jump();
                        }
                        self.jumped.insert(ship.id, (destination_system, self.sim.tick()));
                        let handoff = v1::SystemInbox {
                            body: Some(In::Handoff(v1::Handoff {
                                route: Some(route),
                                request_id,
                                ship: Some(convert::ship_record(&ship, destination_system)),
                                from_system_id: self.system_id,
                                arrival_gate_id: 0,
                            })),
                        };
                        // The ship belongs to the destination from now on, in the store too: a crash before
                        // it arrives leaves it there (next to the star), never in two systems.
                        let mut in_transit = ship.clone();
                        in_transit.position = orrery_sim::Vec3::ZERO;
                        in_transit.velocity = orrery_sim::Vec3::ZERO;
                        effects.persist.push(PersistJob::rows(vec![convert::ship_row(
                            &in_transit,
                            destination_system,
                            true,
                        )]));
                        effects.publish.push((
                            orrery_proto::system_subject(destination_system),
                            Bytes::from(handoff.encode_to_vec()),
                        ));
                    }
                    Err(problem) => effects.publish.push(forward(route, &self.command_error(request_id, &problem))),
                }
            }
            In::Enter(enter) => {
                let route = enter.route.unwrap_or_default();
                let Some(record) = enter.ship else { return };
                if self.is_full() || !self.queue.is_empty() {
                    if self.sim.ship(record.ship_id).is_some()
                        || self.queue.iter().any(|w| w.ship.ship_id == record.ship_id)
                    {
                        let answer =
                            error(enter.request_id, v1::ErrorCode::AlreadyInSpace, "this ship is already here");
                        effects.publish.push(left(route, &answer));
                        return;
                    }
                    self.queue.push_back(Waiting { route, request_id: enter.request_id, ship: record, told: 0 });
                    return;
                }
                self.enter(route, enter.request_id, &record, entered, effects);
            }
            In::Handoff(handoff) => {
                let route = handoff.route.unwrap_or_default();
                let Some(record) = handoff.ship else { return };
                let ship = convert::ship(&record);
                let (ship_id, handoff_seq) = (ship.id, ship.handoff_seq);
                if self.sim.ship(ship_id).is_some() {
                    // A duplicate delivery of a handoff already applied: the ship is here once.
                    tracing::warn!(system = self.system_id, ship = ship_id, "duplicate handoff ignored");
                    return;
                }
                if self.is_full() {
                    // Full: the ship goes back through the gate it came from, and the pilot is told why.
                    let mut back = record.clone();
                    back.system_id = handoff.from_system_id;
                    back.handoff_seq += 1;
                    let bounce = v1::SystemInbox {
                        body: Some(In::Handoff(v1::Handoff {
                            route: Some(route),
                            request_id: 0,
                            ship: Some(back),
                            from_system_id: self.system_id,
                            arrival_gate_id: 0,
                        })),
                    };
                    effects.publish.push((
                        orrery_proto::system_subject(handoff.from_system_id),
                        Bytes::from(bounce.encode_to_vec()),
                    ));
                    let reason = format!(
                        "system {} is full ({} of {} players): the ship stays at its gate",
                        self.system_id,
                        self.sim.ship_count(),
                        self.max_players
                    );
                    effects.publish.push(forward(route, &error(handoff.request_id, v1::ErrorCode::SystemFull, reason)));
                    return;
                }
                match self.sim.arrive(ship, handoff.from_system_id) {
                    Ok(()) => {
                        if let Some(metrics) = context.metrics {
                            metrics.count_handoff();
                        }
                        let arrival = Entered { route, request_id: handoff.request_id, ship_id, handoff_seq };
                        self.now_in_space(arrival, entered, effects);
                    }
                    Err(problem) => {
                        tracing::error!(system = self.system_id, ship = ship_id, %problem, "handoff refused")
                    }
                }
            }
            In::Leave(leave) => {
                if let Some(at) = self.queue.iter().position(|w| w.ship.ship_id == leave.ship_id) {
                    self.queue.remove(at);
                    if let Some(route) = leave.route {
                        effects.publish.push(left(route, &reply(leave.request_id, S::Ok(v1::Ok {}))));
                    }
                    return;
                }
                if self.sim.ship(leave.ship_id).is_none()
                    && let Some(&(destination, _)) = self.jumped.get(&leave.ship_id)
                {
                    let message = v1::SystemInbox { body: Some(In::Leave(leave)) };
                    effects
                        .publish
                        .push((orrery_proto::system_subject(destination), Bytes::from(message.encode_to_vec())));
                    return;
                }
                let answer = leave.route.map(|route| {
                    let ok = reply(leave.request_id, S::Ok(v1::Ok {}));
                    left(route, &ok)
                });
                match self.sim.remove_ship(leave.ship_id) {
                    Some(ship) => {
                        let row = convert::ship_row(&ship, self.system_id, false);
                        effects.persist.push(PersistJob { rows: vec![row], then_publish: answer, done: None });
                    }
                    None => effects.publish.extend(answer),
                }
            }
            In::AddCelestial(celestial) => {
                if let Err(problem) = self.sim.add_celestial(convert::celestial_from(&celestial)) {
                    tracing::warn!(system = self.system_id, %problem, "celestial not added");
                } else {
                    tracing::info!(system = self.system_id, name = %celestial.name, "celestial added");
                    self.new_celestials.push(celestial);
                }
            }
            In::InjectFault(fault) => {
                if !context.allow_fault_injection {
                    tracing::warn!(system = self.system_id, "fault injection refused: not enabled on this node");
                    return;
                }
                self.burn = std::time::Duration::from_millis(u64::from(fault.burn_ms_per_tick));
                if fault.panic {
                    panic!("fault injected into system {}", self.system_id);
                }
            }
        }
    }

    fn is_full(&self) -> bool {
        self.sim.ship_count() >= self.max_players as usize
    }

    /// Players waiting for a place in this system.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Let waiting ships in while there is room (a raised cap admits them at the next tick), and tell the rest
    /// their new place in line.
    fn admit_waiting(&mut self, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        while !self.is_full()
            && let Some(waiting) = self.queue.pop_front()
        {
            self.enter(waiting.route, waiting.request_id, &waiting.ship, entered, effects);
        }
        let (system_id, cap) = (self.system_id, self.max_players);
        for (index, waiting) in self.queue.iter_mut().enumerate() {
            let position = index as u32 + 1;
            if waiting.told != position {
                waiting.told = position;
                let queued = reply(waiting.request_id, S::Queued(v1::Queued { system_id, position, cap }));
                effects.publish.push(forward(waiting.route, &queued));
            }
        }
    }

    /// Put a ship into space here (undock or login), or answer why not.
    fn enter(
        &mut self,
        route: v1::SessionRoute,
        request_id: u32,
        record: &v1::ShipRecord,
        entered: &mut Vec<Entered>,
        effects: &mut TickEffects,
    ) {
        let ship = convert::ship(record);
        let (ship_id, handoff_seq) = (ship.id, ship.handoff_seq);
        match self.sim.add_ship(ship) {
            Ok(()) => self.now_in_space(Entered { route, request_id, ship_id, handoff_seq }, entered, effects),
            Err(problem) => {
                let answer = error(request_id, v1::ErrorCode::AlreadyInSpace, problem.to_string());
                effects.publish.push(left(route, &answer));
            }
        }
    }

    /// A ship just placed in this system (undock or jump): it is here for good, so forget any forwarding
    /// address, store it, and send its session the snapshot once the tick is done.
    fn now_in_space(&mut self, arrival: Entered, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        self.jumped.remove(&arrival.ship_id);
        if let Some(ship) = self.sim.ship(arrival.ship_id) {
            effects.persist.push(PersistJob::rows(vec![convert::ship_row(ship, self.system_id, true)]));
        }
        entered.push(arrival);
    }

    fn command_error(&self, request_id: u32, problem: &CommandError) -> v1::ServerEnvelope {
        use v1::ErrorCode as E;
        let code = match problem {
            CommandError::UnknownShip(_) => E::NotInSystem,
            CommandError::DuplicateShip(_) => E::AlreadyInSpace,
            CommandError::NotInSystem(_) | CommandError::NotAGate(_) => E::NotInSystem,
            CommandError::OutOfRange { .. } => E::OutOfRange,
            CommandError::WarpInProgress(_) | CommandError::InvalidArgument(_) => E::InvalidArgument,
        };
        let reason = match problem {
            CommandError::UnknownShip(ship) => {
                format!("ship {ship} is not in system {} (it may have just jumped)", self.system_id)
            }
            other => other.to_string(),
        };
        error(request_id, code, reason)
    }

    /// The snapshot a session gets on entering, as an encoded ServerEnvelope.
    pub fn snapshot(&self, request_id: u32, your_ship_id: u64, node_id: u32, tidi_permille: u32) -> v1::ServerEnvelope {
        let layout = self.sim.layout();
        reply(
            request_id,
            S::Snapshot(v1::SystemSnapshot {
                system_id: self.system_id,
                system_name: layout.name.clone(),
                sim_time_ms: self.sim.sim_time_ms(),
                your_ship_id,
                celestials: convert::celestials(layout),
                ships: self.sim.views().iter().map(convert::ship_state).collect(),
                tidi_permille,
                tick_ms: self.tick_ms,
                tick: self.sim.tick(),
                node_id,
                chat: Vec::new(),
            }),
        )
    }

    /// Answer everything queued for a failed system with UNAVAILABLE, so clients are not left waiting.
    pub fn refuse_inbox(&mut self, effects: &mut TickEffects) {
        while let Some(message) = self.inbox.pop_front() {
            let Ok(v1::SystemInbox { body: Some(body) }) = frame::decode::<v1::SystemInbox>(&message) else { continue };
            let reason = format!("system {} is unavailable (its simulation failed)", self.system_id);
            let (route, request_id, entering) = match body {
                In::Command(command) => {
                    (command.route, command.envelope.map_or(0, |envelope| envelope.request_id), false)
                }
                In::Enter(enter) => (enter.route, enter.request_id, true),
                In::Leave(leave) => (leave.route, leave.request_id, true),
                In::Handoff(_) | In::InjectFault(_) | In::AddCelestial(_) => (None, 0, false),
            };
            if let Some(route) = route {
                let answer = error(request_id, v1::ErrorCode::Unavailable, reason);
                effects.publish.push(if entering { left(route, &answer) } else { forward(route, &answer) });
            }
        }
    }
}

/// The name a message is counted and profiled under.
fn message_kind(body: &In) -> &'static str {
    match body {
        In::Command(command) => command.envelope.as_ref().map_or("empty", orrery_proto::command_name),
        In::Enter(_) => "enter_space",
        In::Handoff(_) => "handoff",
        In::Leave(_) => "leave_space",
        In::InjectFault(_) => "inject_fault",
        In::AddCelestial(_) => "add_celestial",
    }
}

fn proxy_message(proxy_id: u32, message: &v1::ProxyInbox) -> (String, Bytes) {
    (orrery_proto::proxy_subject(proxy_id), Bytes::from(message.encode_to_vec()))
}

fn forward(route: v1::SessionRoute, answer: &v1::ServerEnvelope) -> (String, Bytes) {
    let message = v1::ProxyInbox {
        session_id: route.session_id,
        body: Some(v1::proxy_inbox::Body::Forward(Bytes::from(answer.encode_to_vec()))),
    };
    proxy_message(route.proxy_id, &message)
}

fn left(route: v1::SessionRoute, answer: &v1::ServerEnvelope) -> (String, Bytes) {
    let message = v1::ProxyInbox {
        session_id: route.session_id,
        body: Some(v1::proxy_inbox::Body::Left(Bytes::from(answer.encode_to_vec()))),
    };
    proxy_message(route.proxy_id, &message)
}
