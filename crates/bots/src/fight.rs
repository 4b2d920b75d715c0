//! The fight scenario: every bot undocks in one system (the hub), takes a side by its character id's parity,
//! orbits an enemy, locks it and switches every module on it; a bot whose ship is lost fights on in its pod
//! until that is lost too, and comes back (the server respawns it at home, the fight system, in a new frigate).
//! One bot (the first, when there are several) sits in another system as the quiet observer and reports the
//! Time Dilation factors it sees there.
//!
//! Measured: kill reports seen and whether both sides saw each, Time Dilation factors in the fight's system and
//! in the quiet one, command-to-first-effect latency in (dilated) ticks, and bytes received per second per bot
//! (each envelope's encoded length plus its 4-byte frame header: the server's encoding is canonical, so that is
//! what crossed the socket).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use orrery_client::{ClientError, Connection, delta_is_new};
use orrery_proto::v1::{
    self, ErrorCode, client_envelope::Body as Cmd, fight_event::Event, server_envelope::Body as Msg,
};
use parking_lot::Mutex;
use prost::Message as _;
use serde::Serialize;
use tokio::time::Instant;

/// Enemies a bot keeps track of (positions of the first ones seen): bounded, so that thousands of bots in one
/// system do not each mirror every ship.
const TRACKED_ENEMIES: usize = 64;
/// Orbit radius around the target, metres: inside every shipped turret's optimal-plus-falloff.
const ORBIT_M: u32 = 2_000;
/// Modules switched on after a lock: every rack of the shipped types has at most four (weapons, disruptor).
const MODULES: u32 = 4;
/// A lock not completed within this (wall) time is given up and another target chosen.
const LOCK_TIMEOUT: Duration = Duration::from_secs(20);
/// The loop wakes at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Latency samples above this many ticks are counted in the last bucket.
const LATENCY_BUCKETS: usize = 64;

/// Refusals a fight produces by itself (a target that moved out of range, died or left between the bot's view
/// and the server's): counted by code, not as errors.
fn expected(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::OutOfRange
            | ErrorCode::NotLocked
            | ErrorCode::AlreadyLocked
            | ErrorCode::ModuleActive
            | ErrorCode::ModuleNotActive
            | ErrorCode::NotInSystem
            | ErrorCode::TooManyLocks
            | ErrorCode::NotCombatant
            | ErrorCode::InvalidArgument
            | ErrorCode::WarpDisrupted
    )
}

/// What all fight bots measure together.
#[derive(Debug)]
pub(crate) struct FightShared {
    /// Per kill (system, tick, victim): which sides (bit 0, bit 1) saw its report.
    kills: Mutex<HashMap<(u32, u64, u64), u8>>,
    /// Deltas seen in the fight's system, by Time Dilation permille.
    tidi_fight: Mutex<Vec<u64>>,
    /// Deltas seen in the quiet system, by permille.
    tidi_quiet: Mutex<Vec<u64>>,
    /// Orbit commands of a ship at rest, by ticks from sending (the last tick seen) to the first delta showing
    /// the ship follow its target.
    latency_ticks: Mutex<[u64; LATENCY_BUCKETS]>,
    /// Bytes received by the fighting bots, and the microseconds they spent in space.
    bytes: AtomicU64,
    in_space_us: AtomicU64,
    /// Capsules lost and flown back in a new frigate.
    respawns: AtomicU64,
    /// Hits dealt (damage events with damage > 0 by the bot's own ship).
    hits: AtomicU64,
}

impl Default for FightShared {
    fn default() -> Self {
        FightShared {
            kills: Mutex::new(HashMap::new()),
            tidi_fight: Mutex::new(vec![0; 1001]),
            tidi_quiet: Mutex::new(vec![0; 1001]),
            latency_ticks: Mutex::new([0; LATENCY_BUCKETS]),
            bytes: AtomicU64::new(0),
            in_space_us: AtomicU64::new(0),
            respawns: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }
}

/// The fight's figures in the run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FightSummary {
    /// Distinct kill reports seen by any bot.
    pub kills_seen: u64,
    /// Of those, the ones bots of both sides saw.
    pub kills_seen_by_both_sides: u64,
    /// Capsules lost whose pilot undocked again in the new frigate.
    pub respawns: u64,
    /// Hits dealt.
    pub hits: u64,
    /// Time Dilation factor in the fight's system: median and lowest of every delta the bots saw there.
    pub tidi_fight_median: Option<f64>,
    /// Lowest factor seen in the fight's system.
    pub tidi_fight_min: Option<f64>,
    /// The same in the quiet system (the observer bot's), `null` without an observer.
    pub tidi_quiet_median: Option<f64>,
    /// Lowest factor seen in the quiet system.
    pub tidi_quiet_min: Option<f64>,
    /// Command (Orbit) to first effect, in ticks of the system (dilated ticks): median.
    pub latency_ticks_p50: Option<u64>,
    /// 99th percentile of the same.
    pub latency_ticks_p99: Option<u64>,
    /// Samples of it.
    pub latency_samples: u64,
    /// Mean bytes received per second per fighting bot while in space.
    pub bytes_per_s_per_bot: f64,
}

/// The value at quantile `q` of a histogram of counts by value, if it has any.
fn quantile(counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    counts.iter().enumerate().find_map(|(value, &n)| {
        seen += n;
        (seen >= rank).then_some(value as u64)
    })
}

impl FightShared {
    pub fn summary(&self) -> FightSummary {
        let kills = self.kills.lock();
        let factor = |counts: &[u64], q: f64| quantile(counts, q).map(|permille| permille as f64 / 1000.0);
        let fight = self.tidi_fight.lock();
        let quiet = self.tidi_quiet.lock();
        let latency = self.latency_ticks.lock();
        let seconds = self.in_space_us.load(Relaxed) as f64 / 1e6;
        FightSummary {
            kills_seen: kills.len() as u64,
            kills_seen_by_both_sides: kills.values().filter(|&&sides| sides == 0b11).count() as u64,
            respawns: self.respawns.load(Relaxed),
            hits: self.hits.load(Relaxed),
            tidi_fight_median: factor(&fight, 0.5),
            tidi_fight_min: factor(&fight, 0.0),
            tidi_quiet_median: factor(&quiet, 0.5),
            tidi_quiet_min: factor(&quiet, 0.0),
            latency_ticks_p50: quantile(&*latency, 0.5),
            latency_ticks_p99: quantile(&*latency, 0.99),
            latency_samples: latency.iter().sum(),
            bytes_per_s_per_bot: if seconds > 0.0 { (self.bytes.load(Relaxed) as f64 / seconds).round() } else { 0.0 },
        }
    }
}

/// Where a fighting bot is with its target.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Engagement {
    /// No target: pick one (not before `not_before`).
    Seeking { not_before: Instant },
    /// Orbit and Lock sent at `since`.
    Locking { target: u64, since: Instant },
    /// Locked, modules switched on.
    Firing { target: u64 },
}

/// One bot's fight in one session in space; `observer` bots only watch.
pub(crate) struct Fighter<'a> {
    shared: &'a FightShared,
    observer: bool,
    character_id: u64,
    ship_id: u64,
    side: u8,
    system_id: u32,
    last_tick: u64,
    position: Option<v1::Vec3>,
    /// The own ship already follows something (then an Orbit's effect cannot be told apart: no sample).
    following: bool,
    in_pod: bool,
    enemies: HashMap<u64, Option<v1::Vec3>>,
    engagement: Engagement,
    /// The tick last seen when an Orbit was sent, until the first delta shows the ship following.
    orbit_sent_at: Option<u64>,
    /// Errors the run did not expect, and every refusal by code (for the summary's counters).
    pub unexpected: Vec<ErrorCode>,
    pub refusals: Vec<ErrorCode>,
}

/// How a session ended.
pub(crate) enum Ended {
    Deadline,
    Lost(ClientError),
}

impl<'a> Fighter<'a> {
    pub fn new(shared: &'a FightShared, observer: bool, character_id: u64) -> Fighter<'a> {
        Fighter {
            shared,
            observer,
            character_id,
            ship_id: 0,
            side: (character_id % 2) as u8,
            system_id: 0,
            last_tick: 0,
            position: None,
            following: false,
            in_pod: false,
            enemies: HashMap::new(),
            engagement: Engagement::Seeking { not_before: Instant::now() },
            orbit_sent_at: None,
            unexpected: Vec::new(),
            refusals: Vec::new(),
        }
    }

    fn enter(&mut self, snapshot: &v1::SystemSnapshot, now: Instant) {
        self.ship_id = snapshot.your_ship_id;
        self.system_id = snapshot.system_id;
        self.last_tick = snapshot.tick;
        self.in_pod = false;
        self.enemies.clear();
        self.engagement = Engagement::Seeking { not_before: now };
        self.orbit_sent_at = None;
        for ship in &snapshot.ships {
            self.saw(ship);
        }
    }

    fn saw(&mut self, ship: &v1::ShipState) {
        if ship.ship_id == self.ship_id {
            self.position = ship.position;
            self.following = ship.motion == v1::ShipMotion::Approaching as i32;
            if let Some(sent) = self.orbit_sent_at
                && ship.motion == v1::ShipMotion::Approaching as i32
            {
                let ticks = usize::try_from(self.last_tick.saturating_sub(sent)).unwrap_or(usize::MAX);
                self.shared.latency_ticks.lock()[ticks.min(LATENCY_BUCKETS - 1)] += 1;
                self.orbit_sent_at = None;
            }
        } else if ship.character_id % 2 != u64::from(self.side) {
            if let Some(known) = self.enemies.get_mut(&ship.ship_id) {
                *known = ship.position;
            } else if self.enemies.len() < TRACKED_ENEMIES {
                self.enemies.insert(ship.ship_id, ship.position);
            }
        }
    }

    /// The nearest tracked enemy.
    fn pick(&self) -> Option<u64> {
        let distance = |p: &Option<v1::Vec3>| orrery_client::distance(self.position, *p).unwrap_or(f64::MAX);
        self.enemies.iter().min_by(|a, b| distance(a.1).total_cmp(&distance(b.1)).then(a.0.cmp(b.0))).map(|(&id, _)| id)
    }

    fn on_delta(&mut self, delta: &v1::SystemDelta, bytes: usize) {
        self.shared.bytes.fetch_add(bytes as u64, Relaxed);
        if !delta_is_new(delta, self.system_id, self.last_tick) {
            return;
        }
        self.last_tick = delta.tick;
        let permille = (delta.tidi_permille as usize).min(1000);
        if self.observer {
            self.shared.tidi_quiet.lock()[permille] += 1;
            return;
        }
        self.shared.tidi_fight.lock()[permille] += 1;
        for ship in delta.arrived.iter().chain(&delta.moved) {
            self.saw(ship);
        }
        for gone in &delta.departed {
            self.enemies.remove(gone);
            self.lost_target(*gone);
        }
        if !delta.kills.is_empty() {
            let mut kills = self.shared.kills.lock();
            for kill in &delta.kills {
                *kills.entry((delta.system_id, delta.tick, kill.victim_ship_id)).or_default() |= 1 << self.side;
            }
        }
        for kill in &delta.kills {
            if kill.victim_ship_id == self.ship_id && !kill.capsule {
                self.in_pod = true;
                self.engagement = Engagement::Seeking { not_before: Instant::now() + Duration::from_secs(3600) };
            }
            self.lost_target(kill.victim_ship_id);
        }
        for event in delta.fight.iter().filter_map(|e| e.event.as_ref()) {
            match event {
                Event::LockLost(lost) if lost.ship_id == self.ship_id => self.lost_target(lost.target_id),
                Event::Damage(hit) if hit.attacker_id == self.ship_id && hit.damage > 0.0 => {
                    self.shared.hits.fetch_add(1, Relaxed);
                }
                _ => {}
            }
        }
    }

    fn lost_target(&mut self, ship_id: u64) {
        if let Engagement::Locking { target, .. } | Engagement::Firing { target } = self.engagement
            && target == ship_id
        {
            self.engagement = Engagement::Seeking { not_before: Instant::now() };
        }
    }

    /// Locks completed this delta, so the modules go on: what to send.
    fn locked(&mut self, delta: &v1::SystemDelta) -> Vec<Cmd> {
        let Engagement::Locking { target, .. } = self.engagement else { return Vec::new() };
        let done = delta.fight.iter().filter_map(|e| e.event.as_ref()).any(
            |event| matches!(event, Event::Locked(lock) if lock.ship_id == self.ship_id && lock.target_id == target),
        );
        if !done {
            return Vec::new();
        }
        self.engagement = Engagement::Firing { target };
        (0..MODULES).map(|module| Cmd::ActivateModule(v1::ActivateModule { module, target_id: target })).collect()
    }

    /// What to send now, if anything.
    fn decide(&mut self, now: Instant) -> Vec<Cmd> {
        if self.observer || self.in_pod {
            return Vec::new();
        }
        match self.engagement {
            Engagement::Seeking { not_before } if now >= not_before => {
                let Some(target) = self.pick() else { return Vec::new() };
                self.engagement = Engagement::Locking { target, since: now };
                self.orbit_sent_at = (!self.following).then_some(self.last_tick);
                vec![
                    Cmd::Orbit(v1::Orbit { object_id: target, radius_m: ORBIT_M }),
                    Cmd::Lock(v1::Lock { target_id: target }),
                ]
            }
            Engagement::Locking { target, since } if now.duration_since(since) > LOCK_TIMEOUT => {
                // Still out of range, or the lock was refused: try again (a fresh Lock), or another target.
                self.enemies.remove(&target);
                self.engagement = Engagement::Seeking { not_before: now };
                vec![Cmd::Unlock(v1::Unlock { target_id: target })]
            }
            _ => Vec::new(),
        }
    }

    fn on_error(&mut self, code: ErrorCode, now: Instant) {
        self.refusals.push(code);
        if !expected(code) {
            self.unexpected.push(code);
        }
        // A lock refused (out of range while the orbit closes in): try again in a second.
        if code == ErrorCode::OutOfRange
            && let Engagement::Locking { target, .. } = self.engagement
        {
            self.engagement = Engagement::Locking { target, since: now - LOCK_TIMEOUT + Duration::from_secs(2) };
        }
    }

    /// Flies one session until the deadline or a lost connection; a lost capsule undocks again in the new ship.
    pub async fn fly(&mut self, client: &mut Connection, snapshot: v1::SystemSnapshot, deadline: Instant) -> Ended {
        let mut entered = Instant::now();
        self.enter(&snapshot, entered);
        let ended = loop {
            let now = Instant::now();
            if now >= deadline {
                break Ended::Deadline;
            }
            for command in self.decide(now) {
                if let Err(error) = client.send(command).await {
                    return self.close(entered, Ended::Lost(error));
                }
            }
            let wake = (now + MAX_SLEEP).min(deadline);
            let envelope = match client.next_event_until(wake).await {
                Ok(Some(envelope)) => envelope,
                Ok(None) => continue,
                Err(error) => break Ended::Lost(error),
            };
            let bytes = envelope.encoded_len() + orrery_proto::frame::HEADER_LEN;
            match &envelope.body {
                Some(Msg::Delta(delta)) => {
                    self.on_delta(delta, bytes);
                    for command in self.locked(delta) {
                        if let Err(error) = client.send(command).await {
                            return self.close(entered, Ended::Lost(error));
                        }
                    }
                }
                Some(Msg::Error(error)) => {
                    self.shared.bytes.fetch_add(bytes as u64, Relaxed);
                    let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified);
                    self.on_error(code, Instant::now());
                }
                Some(Msg::Respawned(_)) => {
                    self.shared.bytes.fetch_add(bytes as u64, Relaxed);
                    self.shared.in_space_us.fetch_add(entered.elapsed().as_micros() as u64, Relaxed);
                    match client.undock(self.character_id).await {
                        Ok(snapshot) => {
                            self.shared.respawns.fetch_add(1, Relaxed);
                            entered = Instant::now();
                            self.enter(&snapshot, entered);
                        }
                        Err(error) => return Ended::Lost(error),
                    }
                }
                _ => {
                    self.shared.bytes.fetch_add(bytes as u64, Relaxed);
                }
            }
        };
        self.close(entered, ended)
    }

    fn close(&self, entered: Instant, ended: Ended) -> Ended {
        if !self.observer {
            self.shared.in_space_us.fetch_add(entered.elapsed().as_micros() as u64, Relaxed);
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_histogram() {
        let mut counts = vec![0u64; 10];
        assert_eq!(quantile(&counts, 0.5), None);
        counts[2] = 3;
        counts[7] = 1;
        assert_eq!(quantile(&counts, 0.0), Some(2));
        assert_eq!(quantile(&counts, 0.5), Some(2));
        assert_eq!(quantile(&counts, 0.99), Some(7));
    }

    fn ship(ship_id: u64, character_id: u64, x: i64) -> v1::ShipState {
        v1::ShipState { ship_id, character_id, position: Some(v1::Vec3 { x, y: 0, z: 0 }), ..Default::default() }
    }

    #[test]
    fn a_fighter_orbits_and_locks_the_nearest_enemy_then_switches_its_modules_on() {
        let shared = FightShared::default();
        let mut fighter = Fighter::new(&shared, false, 10);
        let snapshot = v1::SystemSnapshot {
            system_id: 1,
            your_ship_id: 100,
            tick: 5,
            ships: vec![ship(100, 10, 0), ship(101, 12, 500), ship(102, 13, 9_000), ship(103, 15, 4_000)],
            ..Default::default()
        };
        let now = Instant::now();
        fighter.enter(&snapshot, now);
        // 101 is on its own side (even character id); 103 is the nearest enemy.
        let sent = fighter.decide(now);
        assert_eq!(
            sent,
            vec![Cmd::Orbit(v1::Orbit { object_id: 103, radius_m: ORBIT_M }), Cmd::Lock(v1::Lock { target_id: 103 })]
        );
        assert!(fighter.decide(now).is_empty(), "nothing more while the lock is under way");
        let locked = v1::SystemDelta {
            system_id: 1,
            tick: 6,
            tidi_permille: 500,
            moved: vec![v1::ShipState { motion: v1::ShipMotion::Approaching as i32, ..ship(100, 10, 10) }],
            fight: vec![v1::FightEvent { event: Some(Event::Locked(v1::LockChange { ship_id: 100, target_id: 103 })) }],
            ..Default::default()
        };
        fighter.on_delta(&locked, 100);
        assert_eq!(fighter.locked(&locked).len(), MODULES as usize);
        let summary = shared.summary();
        assert_eq!((summary.latency_ticks_p50, summary.tidi_fight_median), (Some(1), Some(0.5)));

        // The target dies: both sides' reports are counted once, and the fighter looks for another.
        let kill = v1::SystemDelta {
            system_id: 1,
            tick: 7,
            kills: vec![v1::KillReport { victim_ship_id: 103, ..Default::default() }],
            ..Default::default()
        };
        fighter.on_delta(&kill, 100);
        let mut enemy = Fighter::new(&shared, false, 13);
        enemy.enter(&v1::SystemSnapshot { system_id: 1, your_ship_id: 103, tick: 6, ..Default::default() }, now);
        enemy.on_delta(&kill, 100);
        let summary = shared.summary();
        assert_eq!((summary.kills_seen, summary.kills_seen_by_both_sides), (1, 1));
        assert!(matches!(fighter.engagement, Engagement::Seeking { .. }));
        assert!(enemy.in_pod, "its ship was lost: it sits in its pod");
    }

    #[test]
    fn expected_refusals_are_not_errors() {
        let shared = FightShared::default();
        let mut fighter = Fighter::new(&shared, false, 1);
        fighter.on_error(ErrorCode::OutOfRange, Instant::now());
        fighter.on_error(ErrorCode::Internal, Instant::now());
        assert_eq!(fighter.refusals.len(), 2);
        assert_eq!(fighter.unexpected, vec![ErrorCode::Internal]);
    }
}
