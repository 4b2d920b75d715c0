//! The client's copy of the pilot's system: a snapshot with every later delta applied on top, by the rules of
//! docs/protocol.md (skip deltas of another system or at or below the last applied tick; `arrived` and `moved`
//! insert or update a ship, `departed` removes it; `new_celestials` add to the celestials).
//!
//! Pure data, no I/O: a game renders from it, a test asserts on it, and [`crate::Pilot`] feeds it.

use std::collections::{BTreeMap, VecDeque};

use orrery_proto::v1::{self, CelestialKind, ShipMotion, server_envelope::Body as Msg};

/// A ship may jump through a gate within this distance of it (metres).
pub const JUMP_RANGE_M: f64 = 2_500.0;

/// The shortest warp the server accepts (metres from the drop-out point); nearer targets are approached.
pub const MIN_WARP_M: f64 = 150_000.0;

/// How many local chat lines a mirror keeps by default.
pub const DEFAULT_CHAT_HISTORY: usize = 200;

/// Whether a delta adds to what a client knows of `system_id` after applying everything up to `last_tick`:
/// deltas of another system (late ones from before a jump) and deltas at or below the last applied tick (the
/// snapshot already includes them) are skipped.
pub fn delta_is_new(delta: &v1::SystemDelta, system_id: u32, last_tick: u64) -> bool {
    delta.system_id == system_id && delta.tick > last_tick
}

/// Distance in metres between two positions (`None` when either is unknown).
pub fn distance(a: Option<v1::Vec3>, b: Option<v1::Vec3>) -> Option<f64> {
    let (a, b) = (a?, b?);
    let d = |p: i64, q: i64| (p as f64) - (q as f64);
    Some((d(a.x, b.x).powi(2) + d(a.y, b.y).powi(2) + d(a.z, b.z).powi(2)).sqrt())
}

/// What a pilot knows of its current system.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    system_id: u32,
    system_name: String,
    node_id: u32,
    your_ship_id: u64,
    tick: u64,
    sim_time_ms: u64,
    tick_ms: u32,
    tidi_permille: u32,
    celestials: BTreeMap<u64, v1::Celestial>,
    ships: BTreeMap<u64, v1::ShipState>,
    chat: VecDeque<v1::ChatLine>,
    chat_history: usize,
}

impl Mirror {
    /// A mirror of the system a snapshot describes, keeping the last [`DEFAULT_CHAT_HISTORY`] chat lines.
    pub fn new(snapshot: &v1::SystemSnapshot) -> Mirror {
        Mirror::with_chat_history(snapshot, DEFAULT_CHAT_HISTORY)
    }

    /// [`Mirror::new`] keeping at most `lines` chat lines (the oldest go first).
    pub fn with_chat_history(snapshot: &v1::SystemSnapshot, lines: usize) -> Mirror {
        let mut mirror = Mirror {
            system_id: snapshot.system_id,
            system_name: String::new(),
            node_id: 0,
            your_ship_id: 0,
            tick: 0,
            sim_time_ms: 0,
            tick_ms: 0,
            tidi_permille: 1000,
            celestials: BTreeMap::new(),
            ships: BTreeMap::new(),
            chat: VecDeque::new(),
            chat_history: lines,
        };
        mirror.apply_snapshot(snapshot);
        mirror
    }

    /// Replaces the mirror with a snapshot (after `Undock`, a `Jump`, a refused jump or a reconnect). The chat
    /// history is kept while the system stays the same and starts afresh in another system (local chat is
    /// per system); the snapshot's own lines are added either way.
    pub fn apply_snapshot(&mut self, snapshot: &v1::SystemSnapshot) {
        if snapshot.system_id != self.system_id {
            self.chat.clear();
        }
        self.system_id = snapshot.system_id;
        self.system_name.clone_from(&snapshot.system_name);
        self.node_id = snapshot.node_id;
        self.your_ship_id = snapshot.your_ship_id;
        self.tick = snapshot.tick;
        self.sim_time_ms = snapshot.sim_time_ms;
        self.tick_ms = snapshot.tick_ms;
        self.tidi_permille = snapshot.tidi_permille;
        self.celestials = snapshot.celestials.iter().map(|c| (c.id, c.clone())).collect();
        self.ships = snapshot.ships.iter().map(|s| (s.ship_id, s.clone())).collect();
        self.hear(&snapshot.chat);
    }

    /// Applies one tick's delta; `false` (and nothing changed) when it is not new for this system (see
    /// [`delta_is_new`]).
    pub fn apply_delta(&mut self, delta: &v1::SystemDelta) -> bool {
        if !delta_is_new(delta, self.system_id, self.tick) {
            return false;
        }
        self.tick = delta.tick;
        self.sim_time_ms = delta.sim_time_ms;
        self.tidi_permille = delta.tidi_permille;
        for ship in delta.arrived.iter().chain(&delta.moved) {
            self.ships.insert(ship.ship_id, ship.clone());
        }
        for gone in &delta.departed {
            self.ships.remove(gone);
        }
        for celestial in &delta.new_celestials {
            self.celestials.insert(celestial.id, celestial.clone());
        }
        self.hear(&delta.chat);
        true
    }

    /// Applies whatever in an envelope concerns the system (a snapshot or a delta); `true` if it changed the
    /// mirror.
    pub fn apply(&mut self, envelope: &v1::ServerEnvelope) -> bool {
        match &envelope.body {
            Some(Msg::Snapshot(snapshot)) => {
                self.apply_snapshot(snapshot);
                true
            }
            Some(Msg::Delta(delta)) => self.apply_delta(delta),
            _ => false,
        }
    }

    fn hear(&mut self, lines: &[v1::ChatLine]) {
        for line in lines {
            if self.chat.len() >= self.chat_history {
                self.chat.pop_front();
            }
            if self.chat_history > 0 {
                self.chat.push_back(line.clone());
            }
        }
    }

    /// The system's id.
    pub fn system_id(&self) -> u32 {
        self.system_id
    }

    /// The system's display name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }

    /// The sol node hosting the system (informational).
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// The last tick applied.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The system's simulation time in milliseconds.
    pub fn sim_time_ms(&self) -> u64 {
        self.sim_time_ms
    }

    /// Wall milliseconds between ticks at full speed.
    pub fn tick_ms(&self) -> u32 {
        self.tick_ms
    }

    /// The time-dilation factor in thousandths (1000 = full speed, 100 = the floor).
    pub fn tidi_permille(&self) -> u32 {
        self.tidi_permille
    }

    /// The time-dilation factor as a fraction (1.0 = full speed); what a game shows while it is below 1.
    pub fn tidi(&self) -> f64 {
        f64::from(self.tidi_permille) / 1000.0
    }

    /// The id of the ship this session flies.
    pub fn own_ship_id(&self) -> u64 {
        self.your_ship_id
    }

    /// The ship this session flies, if the mirror has it.
    pub fn own_ship(&self) -> Option<&v1::ShipState> {
        self.ships.get(&self.your_ship_id)
    }

    /// The own ship's motion (`Unspecified` when unknown).
    pub fn own_motion(&self) -> ShipMotion {
        self.own_ship().map_or(ShipMotion::Unspecified, |ship| {
            ShipMotion::try_from(ship.motion).unwrap_or(ShipMotion::Unspecified)
        })
    }

    /// Whether the own ship is at rest (idle, or not yet reported as moving).
    pub fn is_idle(&self) -> bool {
        matches!(self.own_motion(), ShipMotion::Idle | ShipMotion::Unspecified)
    }

    /// A ship in the system.
    pub fn ship(&self, ship_id: u64) -> Option<&v1::ShipState> {
        self.ships.get(&ship_id)
    }

    /// Every ship in the system (the own one included), by id.
    pub fn ships(&self) -> impl Iterator<Item = &v1::ShipState> {
        self.ships.values()
    }

    /// A celestial (star, planet, stargate) of the system.
    pub fn celestial(&self, id: u64) -> Option<&v1::Celestial> {
        self.celestials.get(&id)
    }

    /// Every celestial of the system, by id.
    pub fn celestials(&self) -> impl Iterator<Item = &v1::Celestial> {
        self.celestials.values()
    }

    /// The system's stargates.
    pub fn gates(&self) -> impl Iterator<Item = &v1::Celestial> {
        self.celestials.values().filter(|c| c.kind == CelestialKind::Stargate as i32)
    }

    /// The stargate leading to `system_id`, if this system has one.
    pub fn gate_to(&self, system_id: u32) -> Option<&v1::Celestial> {
        self.gates().find(|gate| gate.destination_system_id == system_id)
    }

    /// Distance in metres from the own ship to a celestial or ship of the system (`None` if either is unknown).
    pub fn distance_to(&self, object_id: u64) -> Option<f64> {
        let target = self.celestial(object_id).map(|c| c.position).or_else(|| self.ship(object_id).map(|s| s.position));
        distance(self.own_ship().and_then(|ship| ship.position), target.flatten())
    }

    /// The local chat heard in this system, oldest first (at most the history length).
    pub fn chat(&self) -> impl Iterator<Item = &v1::ChatLine> {
        self.chat.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ship(id: u64, x: i64, motion: ShipMotion) -> v1::ShipState {
        v1::ShipState {
            ship_id: id,
            character_id: id * 10,
            pilot: format!("p{id}"),
            position: Some(v1::Vec3 { x, y: 0, z: 0 }),
            velocity: None,
            motion: motion as i32,
        }
    }

    fn gate(id: u64, x: i64, destination: u32) -> v1::Celestial {
        v1::Celestial {
            id,
            kind: CelestialKind::Stargate as i32,
            name: format!("Stargate ({destination})"),
            position: Some(v1::Vec3 { x, y: 0, z: 0 }),
            destination_system_id: destination,
        }
    }

    fn line(text: &str) -> v1::ChatLine {
        v1::ChatLine { character_id: 10, pilot: "p1".into(), text: text.into() }
    }

    fn snapshot(system_id: u32, tick: u64) -> v1::SystemSnapshot {
        v1::SystemSnapshot {
            system_id,
            system_name: format!("S{system_id}"),
            sim_time_ms: tick * 1000,
            your_ship_id: 1,
            celestials: vec![gate(1 << 63 | 5, 10_000, 2)],
            ships: vec![ship(1, 0, ShipMotion::Idle), ship(2, 500, ShipMotion::Idle)],
            tidi_permille: 1000,
            tick_ms: 1000,
            tick,
            node_id: 1,
            chat: vec![line("in snapshot")],
        }
    }

    fn delta(system_id: u32, tick: u64) -> v1::SystemDelta {
        v1::SystemDelta { system_id, tick, sim_time_ms: tick * 1000, tidi_permille: 1000, ..Default::default() }
    }

    #[test]
    fn deltas_apply_on_top_of_the_snapshot() {
        let mut mirror = Mirror::new(&snapshot(7, 10));
        assert_eq!(mirror.distance_to(1 << 63 | 5), Some(10_000.0));
        let mut d = delta(7, 11);
        d.moved = vec![ship(1, 9_000, ShipMotion::Approaching)];
        d.arrived = vec![ship(3, 1, ShipMotion::Idle)];
        d.departed = vec![2];
        d.chat = vec![line("o7")];
        d.tidi_permille = 400;
        d.new_celestials = vec![gate(1 << 63 | 6, -5, 3)];
        assert!(mirror.apply_delta(&d));
        assert_eq!(mirror.tick(), 11);
        assert_eq!(mirror.own_motion(), ShipMotion::Approaching);
        assert_eq!(mirror.distance_to(1 << 63 | 5), Some(1_000.0));
        assert_eq!(mirror.ships().map(|s| s.ship_id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(mirror.gate_to(3).map(|g| g.id), Some(1 << 63 | 6));
        assert!((mirror.tidi() - 0.4).abs() < 1e-9);
        assert_eq!(mirror.chat().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["in snapshot", "o7"]);
    }

    #[test]
    fn old_and_foreign_deltas_are_skipped() {
        let mut mirror = Mirror::new(&snapshot(7, 10));
        let before = mirror.clone();
        let mut stale = delta(7, 10);
        stale.departed = vec![1];
        assert!(!mirror.apply_delta(&stale));
        let mut foreign = delta(8, 99);
        foreign.departed = vec![1];
        assert!(!mirror.apply_delta(&foreign));
        assert_eq!(mirror, before);
    }

    #[test]
    fn a_snapshot_of_another_system_starts_local_chat_afresh_and_of_the_same_keeps_it() {
        let mut mirror = Mirror::new(&snapshot(7, 10));
        let mut same = snapshot(7, 20);
        same.chat = vec![line("again")];
        mirror.apply_snapshot(&same);
        assert_eq!(mirror.chat().count(), 2);
        mirror.apply_snapshot(&snapshot(9, 3));
        assert_eq!(mirror.system_id(), 9);
        assert_eq!(mirror.tick(), 3);
        assert_eq!(mirror.chat().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["in snapshot"]);
    }

    #[test]
    fn chat_history_is_bounded() {
        let mut mirror = Mirror::with_chat_history(&snapshot(7, 10), 2);
        let mut d = delta(7, 11);
        d.chat = vec![line("a"), line("b"), line("c")];
        mirror.apply_delta(&d);
        assert_eq!(mirror.chat().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        let mut silent = Mirror::with_chat_history(&snapshot(7, 10), 0);
        silent.apply_delta(&d);
        assert_eq!(silent.chat().count(), 0);
    }
}
