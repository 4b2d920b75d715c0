//! One system hosted by a sol node: its sim, its inbox, and the work of one tick — apply the queued messages
//! in arrival order, step the sim, and produce the messages to send. Sending is left to the caller (it is
//! async); this part is synchronous so that a panic in it can be caught and confined to the system.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use orrery_proto::v1::{self, server_envelope::Body as S, system_inbox::Body as In};
use orrery_proto::{error, frame, reply};
use orrery_sim::{SystemSim, tidi::permille};
use prost::Message;

use crate::convert;
use crate::persist::PersistJob;

mod arrivals;
mod commands;
mod departures;
#[cfg(test)]
mod tests;
mod transfer;

/// Everything one tick wants sent: bus messages and store writes.
#[derive(Default)]
pub struct TickEffects {
    pub publish: Vec<(String, Bytes)>,
    pub persist: Vec<PersistJob>,
    /// Losses of the tick: stored before any of `publish` is sent.
    pub kills: Option<KillWrite>,
}

/// A tick's kill reports, which the node stores (and waits for) before it publishes anything of the tick, so
/// no client hears of a loss the store does not have.
pub struct KillWrite {
    pub kills: Vec<orrery_store::KillRecord>,
    pub hulls: orrery_store::LossHulls,
    /// Where the tick's delta (with the kill reports) is in `publish`.
    pub delta_at: Option<usize>,
    /// Messages of `publish` to send instead, by index, if the kills cannot be stored (a lost capsule's pilot is
    /// told of an internal error instead of a respawn that did not happen).
    pub instead: Vec<(usize, (String, Bytes))>,
}

impl TickEffects {
    /// The kill write could not be done: the delta goes out without its kill reports, and what depended on
    /// them is replaced.
    pub fn kills_lost(&mut self) {
        let Some(write) = self.kills.take() else { return };
        if let Some(at) = write.delta_at
            && let Some((_, payload)) = self.publish.get_mut(at)
            && let Ok(mut envelope) =
                frame::decode::<v1::ServerEnvelope>(payload.get(frame::HEADER_LEN..).unwrap_or_default())
            && let Some(S::Delta(delta)) = &mut envelope.body
        {
            delta.kills.clear();
            *payload = frame::encode(&envelope);
        }
        for (at, message) in write.instead {
            if let Some(slot) = self.publish.get_mut(at) {
                *slot = message;
            }
        }
    }
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
    /// The session flying each ship here. Only that session's commands move the ship and only its leave takes
    /// the ship out; an undock of a ship already here hands the live ship to the undocking session.
    pilots: HashMap<u64, v1::SessionRoute>,
    /// Ships that left space here recently, as they were when they left, with the tick: an undock right after
    /// a disconnect may carry an older stored copy (the store may not have the last position yet), and the
    /// ship must come back where it left, not where it was last checkpointed.
    left_here: HashMap<u64, (v1::ShipRecord, u64)>,
    /// Per publisher (origin), the highest stamp applied on this system's subject and the tick it was last
    /// heard: what a live migration's new node must not apply again. A publisher silent for `FORWARD_TICKS` is
    /// forgotten (doubles only arise around a move, within seconds), so that the map holds the sessions of the
    /// last minutes, not every session ever.
    pub seen: HashMap<u64, (u64, u64)>,
    /// Stamps what this system publishes to other systems' inboxes (handoffs, forwarded commands).
    stamper: orrery_proto::Stamper,
    /// Prepared for a live migration: the inbox fills, the system does not tick until its state arrives.
    pub held: bool,
    /// Released to another node (or dropped after a stall): no longer ticked, reported or written.
    pub gone: bool,
    /// Ships destroyed here since this node started hosting the system (for the operators' reports).
    pub kills: u64,
}

/// How many ticks a jumped ship's forwarding address, and a ship that left space's last state, are kept (by
/// then the store has long caught up).
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
    pub fn new(mut sim: SystemSim, tick_ms: u32, step_ms: u64) -> Hosted {
        let system_id = sim.layout().system_id;
        if let Some(capsule) = convert::hulls::types().capsule() {
            sim.set_capsule(capsule.clone());
        }
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
            pilots: HashMap::new(),
            left_here: HashMap::new(),
            max_players: u32::MAX,
            queue: VecDeque::new(),
            new_celestials: Vec::new(),
            seen: HashMap::new(),
            stamper: orrery_proto::Stamper::random(),
            held: false,
            gone: false,
            kills: 0,
        }
    }

    /// A placeholder for a system about to move here: its inbox fills from the subscription, it does not tick
    /// until the state arrives and replaces it.
    pub fn held(system_id: u32, tick_ms: u32) -> Hosted {
        let layout = orrery_sim::SystemLayout { system_id, name: String::new(), celestials: Vec::new() };
        let mut hosted = Hosted::new(SystemSim::new(layout), tick_ms, 1);
        hosted.held = true;
        hosted
    }

    /// Hosted here and running: neither held for a migration nor gone.
    pub fn live(&self) -> bool {
        !self.held && !self.gone
    }

    /// Note a received inbox message's stamp (see [`Hosted::seen`]); false if it was seen before. A publisher's
    /// stamps grow with every message it sends, so a stamp at or below the highest seen from it is a message
    /// taken already (after a live migration, one the old node applied and the new one also received).
    fn note_seen(&mut self, message: &v1::SystemInbox) -> bool {
        if message.origin == 0 {
            return true;
        }
        let now = self.sim.tick();
        let (seen, heard) = self.seen.entry(message.origin).or_default();
        if message.seq <= *seen {
            return false;
        }
        (*seen, *heard) = (message.seq, now);
        true
    }

    /// One tick. Panics are the caller's to catch.
    pub fn tick(&mut self, context: &TickContext<'_>, effects: &mut TickEffects) {
        let mut entered = Vec::new();
        while let Some(message) = self.inbox.pop_front() {
            let decoded = frame::decode::<v1::SystemInbox>(&message);
            if let Ok(message) = &decoded
                && !self.note_seen(message)
            {
                tracing::debug!(system = self.system_id, origin = message.origin, seq = message.seq, "taken already");
                continue;
            }
            match decoded {
                Ok(v1::SystemInbox { body: Some(body), .. }) => {
                    let kind = message_kind(&body);
                    if let Some(metrics) = context.metrics {
                        metrics.count_command(kind);
                    }
                    let started = context.profiler.map(|_| std::time::Instant::now());
                    self.handle(body, context, &mut entered, effects);
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
        self.left_here.retain(|_, (_, left_at)| now.saturating_sub(*left_at) <= FORWARD_TICKS);
        self.seen.retain(|_, (_, heard)| now.saturating_sub(*heard) <= FORWARD_TICKS);
        let tidi_permille = permille(context.factor);
        let chat: Vec<v1::ChatLine> = output
            .chat
            .into_iter()
            .map(|line| v1::ChatLine { character_id: line.character_id, pilot: line.pilot, text: line.text })
            .collect();
        let new_celestials = std::mem::take(&mut self.new_celestials);
        let mut kill_write = (!output.kills.is_empty()).then(|| KillWrite {
            kills: output.kills.iter().map(convert::kill_record).collect(),
            hulls: convert::hulls::loss_hulls().unwrap_or(orrery_store::LossHulls { capsule: 0, respawn: 0 }),
            delta_at: None,
            instead: Vec::new(),
        });
        if self.sim.ship_count() > 0 || !output.departed.is_empty() || !chat.is_empty() || !output.kills.is_empty() {
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
                kills: output.kills.iter().map(convert::kill_report).collect(),
                fight: output.fight.iter().map(convert::fight_event).collect(),
            };
            if let Some(write) = &mut kill_write {
                write.delta_at = Some(effects.publish.len());
            }
            effects.publish.push((self.delta_subject.clone(), frame::encode(&reply(0, S::Delta(delta)))));
        }
        self.kills += output.kills.len() as u64;
        if let Some(mut write) = kill_write {
            self.respawn_lost_capsules(&output.kills, &mut write, effects);
            effects.kills = Some(write);
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

    /// A lost capsule is out of space: its session (if it has one here) is told it wakes up at home in a new ship
    /// (which the kill write stores), and goes back to docked.
    fn respawn_lost_capsules(&mut self, kills: &[orrery_sim::Kill], write: &mut KillWrite, effects: &mut TickEffects) {
        for kill in kills.iter().filter(|kill| kill.class == orrery_sim::ShipClass::Capsule) {
            let Some(route) = self.pilots.remove(&kill.victim) else { continue };
            let respawned = v1::Respawned { character_id: kill.victim_character_id, lost_ship_id: kill.victim };
            let reason = "your capsule was destroyed, but the loss could not be stored: log in again later";
            write.instead.push((effects.publish.len(), left(route, &error(0, v1::ErrorCode::Internal, reason))));
            effects.publish.push(left(route, &reply(0, S::Respawned(respawned))));
        }
    }

    /// Route one inbox message to its handler: commands ([`commands`]), entries and handoffs ([`arrivals`]),
    /// departures ([`departures`]), and the operators' messages.
    fn handle(&mut self, body: In, context: &TickContext<'_>, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        match body {
            In::Command(command) => self.on_command(command, context, entered, effects),
            In::Enter(enter) => self.on_enter(enter, entered, effects),
            In::Handoff(handoff) => self.on_handoff(handoff, context, entered, effects),
            In::Leave(leave) => self.on_leave(leave, effects),
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

    /// The error a session gets when a newer session took its ship: its commands are refused with it, and it
    /// is told so (as a departure) when the ship is taken.
    fn replaced(request_id: u32, ship_id: u64) -> v1::ServerEnvelope {
        let reason = format!("ship {ship_id} is flown by a newer session of this account");
        error(request_id, v1::ErrorCode::SessionReplaced, reason)
    }

    /// A message about a ship that jumped out of here recently follows the ship to its destination (the
    /// session could not know yet); the message is given back when the ship is not such a ship.
    fn follow_jumped(&self, ship_id: u64, body: In, effects: &mut TickEffects) -> Option<In> {
        if self.sim.ship(ship_id).is_some() {
            return Some(body);
        }
        let Some(&(destination, _)) = self.jumped.get(&ship_id) else { return Some(body) };
        effects.publish.push((orrery_proto::system_subject(destination), self.stamper.encode(body)));
        None
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
            let Ok(v1::SystemInbox { body: Some(body), .. }) = frame::decode::<v1::SystemInbox>(&message) else {
                continue;
            };
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

/// Tell a session's proxy that its ship is not in `system_id` and that system knows nothing of it.
fn lost(route: v1::SessionRoute, system_id: u32, ship_id: u64) -> (String, Bytes) {
    let message = v1::ProxyInbox {
        session_id: route.session_id,
        body: Some(v1::proxy_inbox::Body::Lost(v1::ShipLost { system_id, ship_id })),
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
