//! Fights: a ship's combat state (hit points, locks, modules), the formulas of locking, turrets and missiles, and
//! the events a step reports. The system ([`crate::SystemSim`]) drives them; everything here is plain data and
//! pure functions, so a fight replays the same on every node.
//!
//! The rules and formulas are described in `docs/combat.md`.

use crate::ids::ShipId;
use crate::shiptype::{LauncherSpec, ShipClass, ShipType, TurretSpec};
use crate::space::Vec3;

/// Signature radius (m) that locks in exactly the type's `lock_time_s`.
const REFERENCE_SIGNATURE_M: f64 = 100.0;
/// Signature radius (m) a turret's tracking is quoted against.
const TRACKING_SIGNATURE_M: f64 = 40.0;
/// How long a wreck stays in space, milliseconds (two hours, as in EVE).
pub const WRECK_LIFETIME_MS: u64 = 2 * 60 * 60 * 1000;

/// A lock a ship holds (or is acquiring) on another.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lock {
    /// The locked ship.
    pub target: ShipId,
    /// Which life of the target (see [`Combat::life`]): a lock on a ship does not carry over to its pilot's pod.
    pub target_life: u32,
    /// Simulation time at which the lock is complete; modules can be activated on it from then on.
    pub ready_ms: u64,
    /// Whether the completion has been reported (in [`FightEvent::Locked`]).
    pub announced: bool,
}

/// The state of one module of the rack.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ModuleState {
    /// The ship it is active on, if it is active.
    pub target: Option<ShipId>,
    /// Earliest simulation time of its next cycle: set one cycle after every activation, and kept when the
    /// module is switched off, so switching off and on again never fires faster than the cycle.
    pub next_cycle_ms: u64,
}

/// Someone who hurt (or disrupted) a ship during its current life: one line of the kill report.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attacker {
    /// The attacking ship.
    pub ship: ShipId,
    /// Its pilot.
    pub character_id: u64,
    /// Its type (`data/ship-types.csv`).
    pub ship_type_id: u32,
    /// Hit points of damage it dealt to this life of the victim (0 for a disruptor only).
    pub damage: f64,
}

/// A ship's fighting state: its type, what is left of it, its locks and modules. Plain data, carried by the ship
/// across jumps (locks and modules are dropped when it enters a system).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Combat {
    /// The hull flown.
    pub ship_type: ShipType,
    /// Shield hit points left.
    pub shield_hp: f64,
    /// Armour hit points left.
    pub armour_hp: f64,
    /// Hull hit points left; at zero the ship is destroyed.
    pub hull_hp: f64,
    /// Increases when the pilot ejects into a pod under the same ship id, so locks and missiles aimed at the lost
    /// ship do not carry over to the pod.
    pub life: u32,
    /// Locks held or being acquired, at most `ship_type.max_locks`.
    pub locks: Vec<Lock>,
    /// One state per module of `ship_type.modules`.
    pub modules: Vec<ModuleState>,
    /// The ship cannot warp before this simulation time (a warp disruptor's cycle).
    pub disrupted_until_ms: u64,
    /// Everyone who damaged or disrupted this life, in the order they first did.
    pub attackers: Vec<Attacker>,
}

impl Combat {
    /// A fresh ship of this type: full hit points, no locks, modules off.
    pub fn new(ship_type: ShipType) -> Combat {
        Combat {
            shield_hp: ship_type.shield_hp,
            armour_hp: ship_type.armour_hp,
            hull_hp: ship_type.hull_hp,
            life: 0,
            locks: Vec::new(),
            modules: vec![ModuleState::default(); ship_type.modules.len()],
            disrupted_until_ms: 0,
            attackers: Vec::new(),
            ship_type,
        }
    }

    /// Forgets everything bound to a system and its clock (locks, active modules, disruption, timers): what a
    /// ship keeps when it jumps is its type and hit points.
    pub(crate) fn leave_system(&mut self) {
        self.locks.clear();
        self.modules.fill(ModuleState::default());
        self.disrupted_until_ms = 0;
    }

    /// The completed lock on `target` (of its current `life`), if any.
    pub(crate) fn locked(&self, target: ShipId, life: u32, now_ms: u64) -> bool {
        self.locks.iter().any(|l| l.target == target && l.target_life == life && l.ready_ms <= now_ms)
    }

    /// Takes `amount` of damage through shield, armour and hull in turn; returns what was actually taken.
    pub(crate) fn take_damage(&mut self, amount: f64) -> f64 {
        let mut left = amount.max(0.0);
        let mut taken = 0.0;
        for layer in [&mut self.shield_hp, &mut self.armour_hp, &mut self.hull_hp] {
            let bite = left.min(*layer);
            *layer -= bite;
            left -= bite;
            taken += bite;
        }
        taken
    }

    /// Records damage (or a disruption, with 0) by `attacker`.
    pub(crate) fn record_attacker(&mut self, attacker: Attacker) {
        match self.attackers.iter_mut().find(|a| a.ship == attacker.ship) {
            Some(known) => known.damage += attacker.damage,
            None => self.attackers.push(attacker),
        }
    }

    /// Regenerates the shield for `dt_ms`.
    pub(crate) fn regenerate(&mut self, dt_ms: u64) {
        let gain = self.ship_type.shield_regen_hp_s * dt_ms as f64 / 1000.0;
        self.shield_hp = (self.shield_hp + gain).min(self.ship_type.shield_hp);
    }

    /// The pilot ejects: the ship becomes a fresh `capsule` and starts a new life.
    pub(crate) fn eject(&mut self, capsule: ShipType) {
        let life = self.life.wrapping_add(1);
        *self = Combat::new(capsule);
        self.life = life;
    }
}

/// Milliseconds to lock a target of `signature_m` for a type whose reference lock time is `lock_time_s`: EVE's
/// shape, `t = base · (asinh(100) / asinh(signature))²`, so a battleship locks faster than a frigate.
pub fn lock_time_ms(lock_time_s: f64, signature_m: f64) -> u64 {
    let ratio = REFERENCE_SIGNATURE_M.asinh() / signature_m.max(1.0).asinh();
    (lock_time_s * 1000.0 * ratio * ratio).ceil() as u64
}

/// The chance (0..=1) that a turret hits: `0.5 ^ ((ω·40 / (tracking·signature))² + (max(0, d − optimal) /
/// falloff)²)`, with `ω` the target's angular velocity seen from the shooter.
pub fn turret_chance(turret: &TurretSpec, distance_m: f64, angular_rad_s: f64, signature_m: f64) -> f64 {
    let tracking = angular_rad_s * TRACKING_SIGNATURE_M / (turret.tracking_rad_s * signature_m);
    let range = (distance_m - turret.optimal_m).max(0.0) / turret.falloff_m;
    let exponent = tracking * tracking + range * range;
    if exponent.is_finite() { 0.5f64.powf(exponent) } else { 0.0 }
}

/// The damage of a turret shot rolled `roll` ∈ [0, 1) against a chance: a miss (0) unless `roll < chance`, else
/// `damage · (0.5 + roll)`: well-placed shots (low rolls) hit for less, as in EVE.
pub fn turret_damage(turret: &TurretSpec, chance: f64, roll: f64) -> f64 {
    if roll < chance { turret.damage * (0.5 + roll) } else { 0.0 }
}

/// Angular velocity (rad/s) of `target` seen from `shooter`: the relative velocity across the line of sight,
/// over the distance.
pub fn angular_velocity(shooter: (Vec3, Vec3), target: (Vec3, Vec3)) -> f64 {
    let offset = target.0 - shooter.0;
    let relative = target.1 - shooter.1;
    let distance_sq = offset.dot(offset);
    if distance_sq <= 0.0 {
        return 0.0;
    }
    let along = relative.dot(offset) / distance_sq;
    let across = relative - offset * along;
    across.length() / distance_sq.sqrt()
}

/// A missile's damage on a target of `signature_m` moving at `speed_ms`: `damage · min(1, S/Er, (S/Er)·(Ev/v))`.
/// A small target takes less, and a fast one outruns part of the explosion.
pub fn missile_damage(launcher: &LauncherSpec, signature_m: f64, speed_ms: f64) -> f64 {
    let size = signature_m / launcher.explosion_radius_m;
    let outrun = if speed_ms > 0.0 { size * launcher.explosion_velocity_ms / speed_ms } else { f64::INFINITY };
    launcher.damage * 1f64.min(size).min(outrun)
}

/// A missile in flight: an entity of its own that homes on its target at constant speed and explodes when it
/// reaches it, or is gone when its flight time runs out or its target is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Missile {
    /// Unique in its system (missiles and wrecks share one counter).
    pub id: u64,
    /// Who launched it: credited for its damage.
    pub attacker: Attacker,
    /// The launcher's index in its ship's rack.
    pub module: u8,
    /// The ship it flies to.
    pub target: ShipId,
    /// The target's life at launch (a missile does not follow a pilot into their pod).
    pub target_life: u32,
    /// Metres from the star.
    pub position: Vec3,
    /// m/s, towards the target.
    pub velocity: Vec3,
    /// Flight time left, milliseconds.
    pub remaining_ms: u64,
    /// Simulation time it was launched at.
    pub launched_ms: u64,
    /// The launcher it came from: speed, damage and explosion.
    pub launcher: LauncherSpec,
}

/// What is left in space where a ship was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Wreck {
    /// Unique in its system (missiles and wrecks share one counter).
    pub id: u64,
    /// Where the ship died.
    pub position: Vec3,
    /// The type of the lost ship.
    pub ship_type_id: u32,
    /// The pilot who lost it.
    pub character_id: u64,
    /// Simulation time at which it disappears ([`WRECK_LIFETIME_MS`] after the loss).
    pub expires_ms: u64,
}

/// A loss, with everything a kill report needs. Reported in [`crate::TickOutput::kills`], before any other event
/// of the step, so the runtime can store it first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Kill {
    /// The system it happened in.
    pub system_id: u32,
    /// The tick it happened in.
    pub tick: u64,
    /// Simulation time of the sub-step it happened in.
    pub sim_time_ms: u64,
    /// The lost ship's id. For a ship (not a pod) the same id now carries the pilot's capsule.
    pub victim: ShipId,
    /// The pilot who lost it.
    pub victim_character_id: u64,
    /// The lost type.
    pub ship_type_id: u32,
    /// Its class: a lost capsule means the pilot is out of space and must be sent home.
    pub class: ShipClass,
    /// Where it happened.
    pub position: Vec3,
    /// Who dealt the last damage.
    pub final_blow: Attacker,
    /// Everyone who damaged or disrupted the victim in this life, in the order they first did.
    pub attackers: Vec<Attacker>,
    /// The wreck left behind.
    pub wreck: u64,
}

/// Why a missile is gone.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MissileEnd {
    /// It reached its target and exploded for this much damage (already in a [`FightEvent::Damage`]).
    Exploded,
    /// Its flight time ran out.
    OutOfFuel,
    /// Its target left the system, was destroyed or is a pod now.
    TargetGone,
}

/// One event of a fight, in the order it happened within the step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FightEvent {
    /// A lock completed.
    Locked {
        /// The ship that locked.
        ship: ShipId,
        /// The ship it locked.
        target: ShipId,
    },
    /// A lock was lost: the target left, was destroyed, or went beyond lock range.
    LockLost {
        /// The ship that held the lock.
        ship: ShipId,
        /// The ship it was on.
        target: ShipId,
    },
    /// A turret shot or a missile explosion; `damage` 0 is a miss.
    Damage {
        /// Who shot.
        attacker: ShipId,
        /// Who was hit.
        target: ShipId,
        /// The module that shot (for a missile, the launcher it came from).
        module: u8,
        /// Hit points taken (shield, armour and hull together).
        damage: f64,
        /// The missile that exploded, `None` for a turret shot.
        missile: Option<u64>,
        /// Simulation time of the sub-step it landed in.
        at_ms: u64,
    },
    /// A missile left its launcher.
    MissileLaunched {
        /// The missile as launched (with its launcher's index).
        missile: Missile,
    },
    /// A missile is gone.
    MissileGone {
        /// Its id.
        missile: u64,
        /// Why.
        end: MissileEnd,
    },
    /// A warp disruptor cycle landed: the target cannot warp until `until_ms`.
    Disrupted {
        /// The disruptor's ship.
        ship: ShipId,
        /// The disrupted ship.
        target: ShipId,
        /// Simulation time the disruption lasts until.
        until_ms: u64,
    },
    /// A ship was destroyed (the full report is in [`crate::TickOutput::kills`]).
    Destroyed {
        /// The lost ship.
        victim: ShipId,
        /// Its type.
        ship_type_id: u32,
    },
    /// A wreck appeared.
    WreckAppeared(Wreck),
    /// A wreck disappeared (it expired).
    WreckGone {
        /// Its id.
        wreck: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turret() -> TurretSpec {
        TurretSpec { damage: 100.0, cycle_ms: 3_000, optimal_m: 1_000.0, falloff_m: 5_000.0, tracking_rad_s: 0.2 }
    }

    #[test]
    fn turret_chance_falls_with_range_and_angular_velocity() {
        let t = turret();
        assert_eq!(turret_chance(&t, 500.0, 0.0, 40.0), 1.0);
        assert!((turret_chance(&t, 6_000.0, 0.0, 40.0) - 0.5).abs() < 1e-12, "half at optimal + falloff");
        assert!((turret_chance(&t, 500.0, 0.2, 40.0) - 0.5).abs() < 1e-12, "half at tracking on a 40 m target");
        assert!(turret_chance(&t, 500.0, 0.2, 400.0) > 0.99, "a big target is easy to track");
        assert_eq!(turret_chance(&t, f64::INFINITY, 0.0, 40.0), 0.0);
        assert_eq!(turret_damage(&t, 0.5, 0.6), 0.0);
        assert_eq!(turret_damage(&t, 0.5, 0.25), 75.0);
    }

    #[test]
    fn missiles_hurt_small_and_fast_targets_less() {
        let l = LauncherSpec {
            damage: 100.0,
            cycle_ms: 6_000,
            missile_speed_ms: 3_000.0,
            flight_time_ms: 5_000,
            explosion_radius_m: 50.0,
            explosion_velocity_ms: 100.0,
        };
        assert_eq!(missile_damage(&l, 400.0, 0.0), 100.0);
        assert_eq!(missile_damage(&l, 25.0, 0.0), 50.0);
        assert_eq!(missile_damage(&l, 100.0, 400.0), 50.0);
    }

    #[test]
    fn lock_time_and_angular_velocity() {
        assert_eq!(lock_time_ms(2.0, 100.0), 2_000);
        assert!(lock_time_ms(2.0, 35.0) > lock_time_ms(2.0, 400.0));
        let w = angular_velocity((Vec3::ZERO, Vec3::ZERO), (Vec3::new(1_000.0, 0.0, 0.0), Vec3::new(0.0, 0.0, 100.0)));
        assert!((w - 0.1).abs() < 1e-12);
        let radial =
            angular_velocity((Vec3::ZERO, Vec3::ZERO), (Vec3::new(1_000.0, 0.0, 0.0), Vec3::new(50.0, 0.0, 0.0)));
        assert_eq!(radial, 0.0);
    }

    #[test]
    fn damage_goes_through_the_layers() {
        let ship_type = ShipType {
            type_id: 1,
            name: "T".into(),
            class: ShipClass::Frigate,
            shield_hp: 100.0,
            armour_hp: 50.0,
            hull_hp: 10.0,
            shield_regen_hp_s: 10.0,
            max_speed_ms: 100.0,
            agility_s: 1.0,
            signature_m: 40.0,
            lock_range_m: 10_000.0,
            lock_time_s: 1.0,
            max_locks: 1,
            modules: Vec::new(),
        };
        let mut c = Combat::new(ship_type);
        assert_eq!(c.take_damage(120.0), 120.0);
        assert_eq!((c.shield_hp, c.armour_hp, c.hull_hp), (0.0, 30.0, 10.0));
        c.regenerate(500);
        assert_eq!(c.shield_hp, 5.0);
        assert_eq!(c.take_damage(1_000.0), 45.0);
        assert_eq!(c.hull_hp, 0.0);
    }
}
