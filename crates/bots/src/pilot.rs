//! A bot's decisions, without the network: what it knows of its system (from the snapshot and the deltas on top
//! of it), where it is going, and which command to send next.
//!
//! Keeping the pilot free of I/O makes the scenarios testable with hand-made snapshots and deltas; the runtime
//! (`bot.rs`) feeds it what the server sends and sends what it asks for.

use std::collections::VecDeque;
use std::time::Duration;

use orrery_client::{JUMP_RANGE_M, MIN_WARP_M, delta_is_new, distance};
use orrery_proto::v1::{self, CelestialKind, ErrorCode, ShipMotion, client_envelope::Body as Cmd};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::config::Role;
use crate::route::HubRoute;
use crate::stats::Tally;

/// The server refuses warps whose drop-out point is nearer than 150 km ("approach instead"); with the default
/// drop-out of 1,000 m, gates nearer than this are approached rather than warped to.
const MIN_WARP_TO_GATE_M: f64 = MIN_WARP_M + 1_000.0;
/// Idle bots ping this often.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// Hub bots chat this often once at the hub.
pub const HUB_CHAT_EVERY: Duration = Duration::from_secs(5);
/// Travelling bots chat "rarely": once every 30–90 s.
const TRAVEL_CHAT_SECS: std::ops::Range<u64> = 30..90;
/// After a command, how long the ship may show no movement before the bot tries again (at full speed;
/// stretched by time dilation).
const STALL: Duration = Duration::from_secs(20);
/// How long a single leg (warp or approach to a gate) may take at all before the bot picks again.
const LEG_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the snapshot after a `Jump` before picking again.
const JUMP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before retrying after an error answer.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Chat lines not echoed back within this time are forgotten (no latency sample).
const CHAT_ECHO_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many chat lines wait for their echo.
const MAX_PENDING_CHATS: usize = 16;
/// The event loop wakes at least this often, to notice timeouts.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// A stargate as a pilot needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gate {
    pub id: u64,
    pub destination: u32,
    pub position: Option<v1::Vec3>,
}

/// What a bot knows of the system it is in: its own ship and the gates, not every ship (an
/// [`orrery_client::Mirror`] per bot would make ten thousand bots in one hub system hold a hundred million
/// ship states).
#[derive(Debug, Clone)]
pub(crate) struct SystemView {
    pub system_id: u32,
    pub node_id: u32,
    pub last_tick: u64,
    pub tidi_permille: u32,
    pub ship_id: u64,
    pub position: Option<v1::Vec3>,
    pub motion: ShipMotion,
    pub gates: Vec<Gate>,
}

impl SystemView {
    pub fn new(snapshot: &v1::SystemSnapshot) -> SystemView {
        let own = snapshot.ships.iter().find(|ship| ship.ship_id == snapshot.your_ship_id);
        let gates = snapshot
            .celestials
            .iter()
            .filter(|c| c.kind == CelestialKind::Stargate as i32)
            .map(|c| Gate { id: c.id, destination: c.destination_system_id, position: c.position })
            .collect();
        SystemView {
            system_id: snapshot.system_id,
            node_id: snapshot.node_id,
            last_tick: snapshot.tick,
            tidi_permille: snapshot.tidi_permille,
            ship_id: snapshot.your_ship_id,
            position: own.and_then(|ship| ship.position),
            motion: own.map_or(ShipMotion::Idle, motion_of),
            gates,
        }
    }

    fn gate(&self, id: u64) -> Option<&Gate> {
        self.gates.iter().find(|gate| gate.id == id)
    }

    /// Distance from the own ship to a gate, in metres (`None` when either position is unknown).
    fn distance_to(&self, gate: &Gate) -> Option<f64> {
        distance(self.position, gate.position)
    }

    fn is_idle(&self) -> bool {
        matches!(self.motion, ShipMotion::Idle | ShipMotion::Unspecified)
    }

    /// A duration stretched by the current time dilation (a tenth of the speed takes ten times as long).
    fn dilated(&self, base: Duration) -> Duration {
        let tidi = if self.tidi_permille == 0 { 1000 } else { self.tidi_permille.clamp(100, 1000) };
        base * 1000 / tidi
    }
}

fn motion_of(ship: &v1::ShipState) -> ShipMotion {
    ShipMotion::try_from(ship.motion).unwrap_or(ShipMotion::Unspecified)
}

/// A command the pilot wants sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Intent {
    Ping { nonce: u64 },
    Chat { text: String },
    WarpTo { gate: u64 },
    Approach { gate: u64 },
    Jump { gate: u64 },
}

impl Intent {
    pub fn body(&self) -> Cmd {
        match self {
            Intent::Ping { nonce } => Cmd::Ping(v1::Ping { nonce: *nonce }),
            Intent::Chat { text } => Cmd::Chat(v1::Chat { text: text.clone() }),
            // Range 0 asks for the default drop-out distance (1,000 m): inside jump range.
            Intent::WarpTo { gate } => Cmd::WarpTo(v1::WarpTo { object_id: *gate, range_m: 0 }),
            Intent::Approach { gate } => {
                Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::ObjectId(*gate)) })
            }
            Intent::Jump { gate } => Cmd::Jump(v1::Jump { gate_id: *gate }),
        }
    }
}

/// Where a travelling bot is in getting through the next gate.
#[derive(Debug, Clone, PartialEq)]
enum Leg {
    /// Pick a gate once `not_before` has passed.
    Choose { not_before: Instant },
    /// Flying to `gate`: by warp, or by sub-warp approach when `approach`. `sent` once the command went out
    /// (with `request_id`), `moved` once the own ship was seen moving since.
    Going { gate: u64, approach: bool, sent: bool, request_id: Option<u32>, since: Instant, moved: bool },
    /// `Jump` sent; waiting for the destination's snapshot.
    Jumping { gate: u64, request_id: Option<u32>, since: Instant },
    /// Nothing to fly to: an idle bot, a hub bot at the hub, or a system without gates.
    Stay,
}

/// One bot's brain.
pub(crate) struct Pilot {
    role: Role,
    rng: ChaCha8Rng,
    hub: Option<HubRoute>,
    name: String,
    character_id: u64,
    view: Option<SystemView>,
    came_from: Option<u32>,
    /// A border bot that crossed to another node: it jumps back and forth through that gate.
    shuttling: bool,
    leg: Leg,
    pending_move: Option<(u32, Instant)>,
    pending_chats: VecDeque<(String, Instant)>,
    said: u64,
    pinged: u64,
    next_ping: Option<Instant>,
    next_chat: Option<Instant>,
    /// What happened since the runtime last collected it.
    pub tally: Tally,
}

impl Pilot {
    pub fn new(role: Role, rng: ChaCha8Rng, hub: Option<HubRoute>, name: String) -> Pilot {
        Pilot {
            role,
            rng,
            hub,
            name,
            character_id: 0,
            view: None,
            came_from: None,
            shuttling: false,
            leg: Leg::Stay,
            pending_move: None,
            pending_chats: VecDeque::new(),
            said: 0,
            pinged: 0,
            next_ping: None,
            next_chat: None,
            tally: Tally::default(),
        }
    }

    /// The system the bot is in, if in space.
    #[cfg(test)]
    pub fn system_id(&self) -> Option<u32> {
        self.view.as_ref().map(|v| v.system_id)
    }

    /// Starts a session in space: the snapshot answering `Undock` (first time or after a reconnect). Not a
    /// jump, whatever system it shows.
    pub fn enter(&mut self, snapshot: &v1::SystemSnapshot, character_id: u64, now: Instant) {
        self.character_id = character_id;
        self.view = None;
        self.pending_move = None;
        self.pending_chats.clear();
        self.next_chat = None;
        self.next_ping = None;
        self.arrive(snapshot, now);
        match self.role {
            // Spread the pings over the interval so that ten thousand bots do not ping in the same second.
            Role::Idle => self.next_ping = Some(now + self.rng.random_range(Duration::ZERO..PING_EVERY)),
            Role::Travel => self.schedule_travel_chat(now),
            Role::Hub | Role::Border => {}
        }
    }

    /// A snapshot outside `Undock`: after a `Jump` (the destination), or a resend of the current system.
    pub fn on_snapshot(&mut self, snapshot: &v1::SystemSnapshot, now: Instant) {
        if let Some(old) = &self.view
            && old.system_id != snapshot.system_id
        {
            self.tally.jumps += 1;
            let cross_node = old.node_id != snapshot.node_id;
            if cross_node {
                self.tally.cross_node_jumps += 1;
                // A border bot found its border: from now on it shuttles across it.
                self.shuttling |= self.role == Role::Border;
            }
            if let Leg::Jumping { since, .. } = self.leg {
                self.tally.jump_latencies.push((now.saturating_duration_since(since), cross_node));
            }
            self.came_from = Some(old.system_id);
        }
        if snapshot.tick_ms > 0 {
            self.tally.tick_ms = snapshot.tick_ms;
        }
        self.pending_move = None;
        self.arrive(snapshot, now);
    }

    fn arrive(&mut self, snapshot: &v1::SystemSnapshot, now: Instant) {
        self.tally.note_tidi(snapshot.tidi_permille);
        self.hear(&snapshot.chat, now);
        self.view = Some(SystemView::new(snapshot));
        self.leg = match self.role {
            Role::Idle => Leg::Stay,
            // A short pause, as a player would take, which also spreads the bots' commands over time.
            Role::Travel | Role::Hub | Role::Border => {
                Leg::Choose { not_before: now + self.rng.random_range(Duration::ZERO..Duration::from_millis(1500)) }
            }
        };
    }

    /// A delta: applied if new (see [`delta_is_new`]); latencies of pending commands are taken from it.
    pub fn on_delta(&mut self, delta: &v1::SystemDelta, now: Instant) {
        self.tally.deltas += 1;
        let Some(view) = self.view.as_mut() else { return };
        if !delta_is_new(delta, view.system_id, view.last_tick) {
            return;
        }
        view.last_tick = delta.tick;
        if delta.tidi_permille > 0 {
            view.tidi_permille = delta.tidi_permille;
        }
        self.tally.note_tidi(delta.tidi_permille);
        if let Some(ship) = delta.arrived.iter().find(|s| s.ship_id == view.ship_id) {
            view.position = ship.position.or(view.position);
            view.motion = motion_of(ship);
        }
        let own_moved = delta.moved.iter().find(|s| s.ship_id == view.ship_id);
        if let Some(ship) = own_moved {
            view.position = ship.position.or(view.position);
            view.motion = motion_of(ship);
            if let Some((_, sent)) = self.pending_move.take() {
                self.tally.latencies.push(now.saturating_duration_since(sent));
            }
        }
        if let Leg::Going { sent: true, moved, .. } = &mut self.leg
            && (own_moved.is_some() || !view.is_idle())
        {
            *moved = true;
        }
        self.hear(&delta.chat, now);
    }

    /// Chat lines from a delta or a snapshot (a snapshot carries the lines of the tick it describes); our own
    /// lines give a latency sample.
    fn hear(&mut self, chat: &[v1::ChatLine], now: Instant) {
        self.tally.chat_received += chat.len() as u64;
        for line in chat.iter().filter(|line| line.character_id == self.character_id) {
            if let Some(at) = self.pending_chats.iter().position(|(text, _)| *text == line.text)
                && let Some((_, sent)) = self.pending_chats.remove(at)
            {
                self.tally.latencies.push(now.saturating_duration_since(sent));
            }
        }
    }

    /// An error answer to one of this bot's commands. Returns whether it was unexpected (and counted so).
    pub fn on_error(&mut self, request_id: u32, code: ErrorCode, now: Instant) -> bool {
        if let Some((pending, sent)) = self.pending_move
            && pending == request_id
        {
            self.tally.latencies.push(now.saturating_duration_since(sent));
            self.pending_move = None;
        }
        // The protocol says to try again on these; everything else means the bot misjudged something.
        let unexpected = !matches!(code, ErrorCode::Unavailable | ErrorCode::ShuttingDown);
        self.tally.note_error(code, unexpected);
        let retry = Leg::Choose { not_before: now + RETRY_DELAY };
        self.leg = match std::mem::replace(&mut self.leg, Leg::Stay) {
            Leg::Jumping { gate, request_id: Some(r), .. } if r == request_id => match code {
                ErrorCode::OutOfRange => {
                    Leg::Going { gate, approach: true, sent: false, request_id: None, since: now, moved: false }
                }
                _ => retry,
            },
            // A refused warp (too close to warp, say): fly there under sub-warp instead.
            Leg::Going { gate, approach: false, request_id: Some(r), .. } if r == request_id => {
                Leg::Going { gate, approach: true, sent: false, request_id: None, since: now, moved: false }
            }
            Leg::Going { approach: true, request_id: Some(r), .. } if r == request_id => retry,
            other => other,
        };
        unexpected
    }

    /// The next command to send, if any is due. Call until `None`, sending each and reporting it with
    /// [`Pilot::sent`].
    pub fn poll(&mut self, now: Instant) -> Option<Intent> {
        if self.next_ping.is_some_and(|at| at <= now) {
            self.next_ping = Some(now + PING_EVERY);
            self.pinged += 1;
            return Some(Intent::Ping { nonce: self.pinged });
        }
        if self.next_chat.is_some_and(|at| at <= now) {
            match self.role {
                Role::Hub => self.next_chat = Some(now + HUB_CHAT_EVERY),
                _ => self.schedule_travel_chat(now),
            }
            self.said += 1;
            return Some(Intent::Chat { text: format!("o7 from {} #{}", self.name, self.said) });
        }
        let view = self.view.as_ref()?;
        match self.leg.clone() {
            Leg::Stay => None,
            Leg::Choose { not_before } => {
                if now < not_before {
                    return None;
                }
                if !view.is_idle() {
                    // Still moving (e.g. in warp when the session resumed): choose when it stops.
                    self.leg = Leg::Choose { not_before: now + RETRY_DELAY };
                    return None;
                }
                if self.role == Role::Hub && self.hub.as_ref().is_some_and(|hub| hub.hub() == view.system_id) {
                    self.leg = Leg::Stay;
                    self.next_chat = Some(now + self.rng.random_range(Duration::ZERO..HUB_CHAT_EVERY));
                    return None;
                }
                let back = self.shuttling.then_some(self.came_from).flatten();
                let back = back.and_then(|system| view.gates.iter().find(|gate| gate.destination == system));
                let Some(gate) =
                    back.or_else(|| pick_gate(self.role, self.hub.as_ref(), view, self.came_from, &mut self.rng))
                else {
                    // A dead end: sit and ping, so that the server's idle timeout does not close the session.
                    self.leg = Leg::Stay;
                    self.next_ping.get_or_insert(now + PING_EVERY);
                    return None;
                };
                let gate = gate.clone();
                if view.distance_to(&gate).is_some_and(|d| d <= JUMP_RANGE_M) {
                    self.leg = Leg::Jumping { gate: gate.id, request_id: None, since: now };
                    return Some(Intent::Jump { gate: gate.id });
                }
                let approach = view.distance_to(&gate).is_some_and(|d| d < MIN_WARP_TO_GATE_M);
                self.leg =
                    Leg::Going { gate: gate.id, approach, sent: true, request_id: None, since: now, moved: false };
                Some(if approach { Intent::Approach { gate: gate.id } } else { Intent::WarpTo { gate: gate.id } })
            }
            Leg::Going { gate, approach, sent, request_id, since, moved } => {
                if !sent {
                    self.leg = Leg::Going { gate, approach, sent: true, request_id: None, since: now, moved: false };
                    return Some(if approach { Intent::Approach { gate } } else { Intent::WarpTo { gate } });
                }
                let elapsed = now.saturating_duration_since(since);
                if moved && view.is_idle() {
                    let in_range = view.gate(gate).and_then(|g| view.distance_to(g)).is_some_and(|d| d <= JUMP_RANGE_M);
                    if in_range {
                        self.leg = Leg::Jumping { gate, request_id: None, since: now };
                        return Some(Intent::Jump { gate });
                    }
                    if !approach {
                        self.leg =
                            Leg::Going { gate, approach: true, sent: true, request_id: None, since: now, moved: false };
                        return Some(Intent::Approach { gate });
                    }
                    self.leg = Leg::Choose { not_before: now + RETRY_DELAY };
                    return None;
                }
                let limit = if moved { view.dilated(LEG_TIMEOUT) } else { view.dilated(STALL) };
                if elapsed > limit {
                    tracing::debug!(gate, moved, ?elapsed, request_id, "leg stalled; choosing again");
                    self.leg = Leg::Choose { not_before: now };
                }
                None
            }
            Leg::Jumping { since, .. } => {
                if now.saturating_duration_since(since) > view.dilated(JUMP_TIMEOUT) {
                    self.leg = Leg::Choose { not_before: now };
                }
                None
            }
        }
    }

    /// Reports that `intent` went out with `request_id`.
    pub fn sent(&mut self, intent: &Intent, request_id: u32, now: Instant) {
        match intent {
            Intent::WarpTo { .. } | Intent::Approach { .. } => {
                self.pending_move = Some((request_id, now));
                if let Leg::Going { request_id: id, .. } = &mut self.leg {
                    *id = Some(request_id);
                }
            }
            Intent::Jump { .. } => {
                if let Leg::Jumping { request_id: id, .. } = &mut self.leg {
                    *id = Some(request_id);
                }
            }
            Intent::Chat { text } => {
                self.tally.chat_sent += 1;
                while self
                    .pending_chats
                    .front()
                    .is_some_and(|(_, at)| now.saturating_duration_since(*at) > CHAT_ECHO_TIMEOUT)
                    || self.pending_chats.len() >= MAX_PENDING_CHATS
                {
                    self.pending_chats.pop_front();
                }
                self.pending_chats.push_back((text.clone(), now));
            }
            Intent::Ping { .. } => {}
        }
    }

    /// When the pilot next needs a look even if nothing arrives.
    pub fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = now + MAX_SLEEP;
        for at in [self.next_ping, self.next_chat].into_iter().flatten() {
            wake = wake.min(at);
        }
        if let Leg::Choose { not_before } = self.leg {
            wake = wake.min(not_before);
        }
        wake.max(now)
    }

    fn schedule_travel_chat(&mut self, now: Instant) {
        self.next_chat = Some(now + Duration::from_secs(self.rng.random_range(TRAVEL_CHAT_SECS)));
    }
}

/// The gate to take next. Hub bots follow the route (or a gate straight to the hub, if the route does not know
/// this system); everyone else, and hub bots without a way, random-walk, avoiding the gate back to the system
/// they came from when there is another.
pub(crate) fn pick_gate<'v>(
    role: Role,
    hub: Option<&HubRoute>,
    view: &'v SystemView,
    came_from: Option<u32>,
    rng: &mut ChaCha8Rng,
) -> Option<&'v Gate> {
    if role == Role::Hub
        && let Some(hub) = hub
    {
        let toward = |system: u32| view.gates.iter().find(|gate| gate.destination == system);
        if let Some(gate) = hub.next_hop(view.system_id).and_then(toward).or_else(|| toward(hub.hub())) {
            return Some(gate);
        }
    }
    let onward: Vec<&Gate> = view.gates.iter().filter(|gate| Some(gate.destination) != came_from).collect();
    if onward.is_empty() { view.gates.choose(rng) } else { onward.choose(rng).copied() }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const SHIP: u64 = 7;
    const CHARACTER: u64 = 70;

    fn vec3(x: i64) -> Option<v1::Vec3> {
        Some(v1::Vec3 { x, y: 0, z: 0 })
    }

    fn gate(id: u64, destination: u32, x: i64) -> v1::Celestial {
        v1::Celestial {
            id,
            kind: CelestialKind::Stargate as i32,
            name: format!("Stargate ({destination})"),
            position: vec3(x),
            destination_system_id: destination,
        }
    }

    fn ship(x: i64, motion: ShipMotion) -> v1::ShipState {
        v1::ShipState {
            ship_id: SHIP,
            character_id: CHARACTER,
            pilot: "bot0".into(),
            position: vec3(x),
            velocity: vec3(0),
            motion: motion as i32,
        }
    }

    fn snapshot(system_id: u32, node_id: u32, tick: u64, gates: Vec<v1::Celestial>, x: i64) -> v1::SystemSnapshot {
        let mut celestials = vec![v1::Celestial {
            id: (1 << 63) | u64::from(system_id),
            kind: CelestialKind::Star as i32,
            name: "Star".into(),
            position: vec3(0),
            destination_system_id: 0,
        }];
        celestials.extend(gates);
        v1::SystemSnapshot {
            system_id,
            system_name: format!("S{system_id}"),
            sim_time_ms: tick * 1000,
            your_ship_id: SHIP,
            celestials,
            ships: vec![ship(x, ShipMotion::Idle)],
            tidi_permille: 1000,
            tick_ms: 1000,
            tick,
            node_id,
            chat: Vec::new(),
        }
    }

    fn delta(system_id: u32, tick: u64, moved: Vec<v1::ShipState>) -> v1::SystemDelta {
        v1::SystemDelta { system_id, tick, sim_time_ms: tick * 1000, tidi_permille: 1000, moved, ..Default::default() }
    }

    fn pilot(role: Role, hub: Option<HubRoute>) -> Pilot {
        Pilot::new(role, ChaCha8Rng::seed_from_u64(1), hub, "bot0".into())
    }

    /// Polls until the pilot wants something (its think pause is under 1.5 s).
    fn poll_soon(pilot: &mut Pilot, now: &mut Instant) -> Option<Intent> {
        for _ in 0..20 {
            if let Some(intent) = pilot.poll(*now) {
                return Some(intent);
            }
            *now += Duration::from_millis(100);
        }
        None
    }

    #[test]
    fn deltas_at_or_below_the_snapshot_tick_or_of_another_system_are_skipped() {
        let d = delta(5, 10, Vec::new());
        assert!(!delta_is_new(&d, 5, 10), "tick 10 is in the snapshot of tick 10");
        assert!(!delta_is_new(&d, 5, 11));
        assert!(delta_is_new(&d, 5, 9));
        assert!(!delta_is_new(&d, 6, 9), "a late delta of the system left behind");
    }

    #[test]
    fn stale_deltas_do_not_move_the_ship_or_count_latency() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 100, vec![gate(11, 2, 1_000_000)], 0), CHARACTER, now);
        let intent = poll_soon(&mut p, &mut now).expect("a travel bot sets off");
        assert_eq!(intent, Intent::WarpTo { gate: 11 });
        p.sent(&intent, 5, now);
        p.on_delta(&delta(1, 100, vec![ship(500, ShipMotion::Aligning)]), now);
        assert!(p.tally.latencies.is_empty(), "tick 100 is already in the snapshot");
        p.on_delta(&delta(1, 101, vec![ship(500, ShipMotion::Aligning)]), now + Duration::from_millis(40));
        assert_eq!(p.tally.latencies, vec![Duration::from_millis(40)]);
        assert_eq!(p.tally.deltas, 2, "both were received");
    }

    #[test]
    fn travel_warps_to_a_gate_jumps_when_idle_in_range_and_counts_cross_node_jumps() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 1_000_000)], 0), CHARACTER, now);
        let warp = poll_soon(&mut p, &mut now).expect("sets off");
        assert_eq!(warp, Intent::WarpTo { gate: 11 });
        assert_eq!(warp.body(), Cmd::WarpTo(v1::WarpTo { object_id: 11, range_m: 0 }));
        p.sent(&warp, 3, now);
        assert_eq!(p.poll(now), None, "waits for the ship to move");
        p.on_delta(&delta(1, 11, vec![ship(0, ShipMotion::Aligning)]), now);
        p.on_delta(&delta(1, 12, vec![ship(500_000, ShipMotion::Warping)]), now);
        assert_eq!(p.poll(now), None, "still in warp");
        p.on_delta(&delta(1, 13, vec![ship(999_000, ShipMotion::Idle)]), now);
        let jump = p.poll(now).expect("idle 1,000 m from the gate");
        assert_eq!(jump, Intent::Jump { gate: 11 });
        p.sent(&jump, 4, now);
        p.on_snapshot(&snapshot(2, 2, 50, vec![gate(21, 1, 0), gate(22, 3, 5_000_000)], 0), now);
        assert_eq!((p.tally.jumps, p.tally.cross_node_jumps), (1, 1));
        assert_eq!(p.system_id(), Some(2));
        let next = poll_soon(&mut p, &mut now).expect("travels on");
        assert_eq!(next, Intent::WarpTo { gate: 22 }, "does not go straight back while another gate exists");
        p.sent(&next, 5, now);
        p.on_delta(&delta(2, 51, vec![ship(0, ShipMotion::Aligning)]), now);
        p.on_delta(&delta(2, 52, vec![ship(4_999_000, ShipMotion::Idle)]), now);
        let jump = p.poll(now).expect("jumps again");
        p.sent(&jump, 6, now);
        p.on_snapshot(&snapshot(3, 2, 80, vec![gate(31, 2, 0)], 0), now);
        assert_eq!((p.tally.jumps, p.tally.cross_node_jumps), (2, 1), "same node: not a cross-node jump");
    }

    #[test]
    fn a_gate_already_in_range_is_jumped_at_once() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 2_000)], 0), CHARACTER, now);
        assert_eq!(poll_soon(&mut p, &mut now), Some(Intent::Jump { gate: 11 }));
    }

    #[test]
    fn a_gate_too_near_to_warp_to_is_approached() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 100_000)], 0), CHARACTER, now);
        let approach = poll_soon(&mut p, &mut now).expect("sets off");
        assert_eq!(approach, Intent::Approach { gate: 11 });
        p.sent(&approach, 2, now);
        p.on_delta(&delta(1, 11, vec![ship(300, ShipMotion::Approaching)]), now + Duration::from_millis(10));
        p.on_delta(&delta(1, 12, vec![ship(99_600, ShipMotion::Idle)]), now);
        assert_eq!(p.poll(now), Some(Intent::Jump { gate: 11 }));
        assert_eq!(p.tally.latencies, vec![Duration::from_millis(10)]);
    }

    #[test]
    fn a_refused_warp_falls_back_to_approach() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 1_000_000)], 0), CHARACTER, now);
        let warp = poll_soon(&mut p, &mut now).expect("warp");
        p.sent(&warp, 2, now);
        assert!(p.on_error(2, ErrorCode::InvalidArgument, now));
        assert_eq!(p.poll(now), Some(Intent::Approach { gate: 11 }));
        assert_eq!(p.tally.latencies.len(), 1, "the error answer ends the latency sample");
    }

    #[test]
    fn out_of_range_on_jump_approaches_the_gate() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 2_000)], 0), CHARACTER, now);
        let jump = poll_soon(&mut p, &mut now).expect("jump");
        p.sent(&jump, 9, now);
        assert!(p.on_error(9, ErrorCode::OutOfRange, now), "counted as unexpected");
        let approach = p.poll(now).expect("approach");
        assert_eq!(approach, Intent::Approach { gate: 11 });
        assert_eq!(p.tally.errors, 1);
    }

    #[test]
    fn unavailable_is_retried_without_counting_an_error() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 2_000)], 0), CHARACTER, now);
        let jump = poll_soon(&mut p, &mut now).expect("jump");
        p.sent(&jump, 9, now);
        assert!(!p.on_error(9, ErrorCode::Unavailable, now));
        assert_eq!(p.poll(now), None, "waits a moment");
        assert_eq!(p.poll(now + RETRY_DELAY), Some(Intent::Jump { gate: 11 }));
        assert_eq!(p.tally.errors, 0);
        assert_eq!(p.tally.error_codes, vec![ErrorCode::Unavailable]);
    }

    #[test]
    fn a_stalled_warp_is_tried_again() {
        let mut now = Instant::now();
        let mut p = pilot(Role::Travel, None);
        p.enter(&snapshot(1, 1, 10, vec![gate(11, 2, 1_000_000)], 0), CHARACTER, now);
        let warp = poll_soon(&mut p, &mut now).expect("warp");
        p.sent(&warp, 1, now);
        assert_eq!(p.poll(now + STALL), None);
        assert_eq!(p.poll(now + STALL + Duration::from_millis(1)), None, "gives up the leg");
        assert_eq!(p.poll(now + STALL + Duration::from_millis(2)), Some(Intent::WarpTo { gate: 11 }));
    }

    #[test]
    fn hub_bots_follow_the_route_then_stay_and_chat() {
        let mut now = Instant::now();
        // A map where 1 → 3 → 4 (hub); the snapshot of system 1 has gates to 2 and 3.
        let universe = {
            use orrery_universe::{ConstellationId, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3};
            let systems = (1..=4)
                .map(|id| SolarSystem {
                    id: SystemId(id),
                    name: format!("S{id}"),
                    position: Vec3 { x: f64::from(id), y: 0.0, z: 0.0 },
                    security: 0.9,
                    constellation: ConstellationId(1),
                    region: RegionId(1),
                    kind: SystemKind::KSpace,
                })
                .collect();
            let gates = [(1, 2), (1, 3), (3, 4), (2, 3)].map(|(a, b)| (SystemId(a), SystemId(b)));
            Universe::new(systems, &gates, Vec::new(), Vec::new()).expect("valid")
        };
        let route = HubRoute::plan(&universe, orrery_universe::SystemId(4)).expect("hub");
        let mut p = pilot(Role::Hub, Some(route));
        p.enter(&snapshot(1, 1, 10, vec![gate(12, 2, 1_000_000), gate(13, 3, -1_000_000)], 0), CHARACTER, now);
        assert_eq!(poll_soon(&mut p, &mut now), Some(Intent::WarpTo { gate: 13 }));
        p.on_snapshot(&snapshot(4, 1, 10, vec![gate(43, 3, 1_000_000)], 0), now);
        now += Duration::from_millis(1500);
        assert_eq!(p.poll(now), None, "at the hub: no more travel");
        now += HUB_CHAT_EVERY;
        let chat = p.poll(now).expect("chats at the hub");
        let Intent::Chat { text } = &chat else { panic!("expected a chat, got {chat:?}") };
        p.sent(&chat, 20, now);
        let echo = v1::SystemDelta {
            chat: vec![
                v1::ChatLine { character_id: 99, pilot: "other".into(), text: text.clone() },
                v1::ChatLine { character_id: CHARACTER, pilot: "bot0".into(), text: text.clone() },
            ],
            ..delta(4, 11, Vec::new())
        };
        p.on_delta(&echo, now + Duration::from_millis(25));
        assert_eq!(p.tally.chat_sent, 1);
        assert_eq!(p.tally.chat_received, 2);
        assert_eq!(p.tally.latencies, vec![Duration::from_millis(25)], "only the own line is the echo");
    }

    #[test]
    fn hub_bots_without_a_map_take_a_gate_to_the_hub_when_they_see_one() {
        let view = SystemView::new(&snapshot(1, 1, 0, vec![gate(12, 2, 10), gate(15, 5, 20), gate(13, 3, 30)], 0));
        let hub = HubRoute::without_map(5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..10 {
            assert_eq!(pick_gate(Role::Hub, Some(&hub), &view, None, &mut rng).map(|g| g.id), Some(15));
        }
        let chosen: std::collections::BTreeSet<u64> =
            (0..50).filter_map(|_| pick_gate(Role::Travel, None, &view, Some(2), &mut rng).map(|g| g.id)).collect();
        assert_eq!(chosen, [13, 15].into(), "random walk, never back to where it came from");
        let dead_end = SystemView::new(&snapshot(1, 1, 0, vec![gate(12, 2, 10)], 0));
        assert_eq!(pick_gate(Role::Travel, None, &dead_end, Some(2), &mut rng).map(|g| g.id), Some(12));
    }

    #[test]
    fn idle_bots_ping_every_ten_seconds() {
        let now = Instant::now();
        let mut p = pilot(Role::Idle, None);
        p.enter(&snapshot(1, 1, 0, vec![gate(12, 2, 10)], 0), CHARACTER, now);
        let first = p.poll(now + PING_EVERY).expect("a ping within the first interval");
        assert!(matches!(first, Intent::Ping { nonce: 1 }));
        assert_eq!(p.poll(now + PING_EVERY), None);
        assert!(matches!(p.poll(now + PING_EVERY * 2), Some(Intent::Ping { nonce: 2 })));
        assert!(p.next_wake(now) <= now + MAX_SLEEP);
    }

    #[test]
    fn the_same_seed_and_stream_make_the_same_choices() {
        let view = SystemView::new(&snapshot(1, 1, 0, (0..8).map(|i| gate(100 + i, 10 + i as u32, 0)).collect(), 0));
        let picks = |stream: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            rng.set_stream(stream);
            (0..20)
                .filter_map(|_| pick_gate(Role::Travel, None, &view, None, &mut rng).map(|g| g.id))
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(1), picks(1));
        assert_ne!(picks(1), picks(2));
    }
}
