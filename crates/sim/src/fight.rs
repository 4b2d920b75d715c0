//! The fight part of a system's step and of its commands: locking, modules cycling on their targets, missiles
//! flying, damage, destruction. Each sub-step first decides every effect from one snapshot of the ships as they
//! are after the sub-step's flight (so the order ships are visited in cannot favour anyone), then applies the
//! effects in ship-id order.

use crate::combat::{
    Attacker, Combat, FightEvent, Kill, Lock, Missile, MissileEnd, WRECK_LIFETIME_MS, Wreck, angular_velocity,
    lock_time_ms, missile_damage, turret_chance, turret_damage,
};
use crate::command::{CommandError, Outcome};
use crate::hash::{Draws, Purpose};
use crate::ids::ShipId;
use crate::shiptype::{ModuleSpec, ShipClass};
use crate::space::{Vec3, direction};
use crate::system::{Slot, SystemSim};

/// Something a sub-step decided, applied once every decision is made.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Effect {
    /// A module cycled: its next cycle is one cycle from now.
    Cycled { ship: ShipId, module: u8, next_cycle_ms: u64 },
    /// A module lost its target (no lock any more) and switches off.
    Off { ship: ShipId, module: u8 },
    /// Damage (0 for a miss) on a target's life.
    Hit { attacker: Attacker, module: u8, target: ShipId, target_life: u32, damage: f64, missile: Option<u64> },
    /// A missile leaves a launcher (its id is given when applied).
    Launch { missile: Missile },
    /// A warp disruptor cycle lands.
    Disrupt { attacker: Attacker, target: ShipId, target_life: u32, until_ms: u64 },
}

fn combat_of(slot: Option<&Slot>) -> Option<(&crate::Ship, &Combat)> {
    slot.and_then(|s| s.ship.combat.as_ref().map(|c| (&s.ship, c)))
}

fn combat(ships: &mut std::collections::BTreeMap<ShipId, Slot>, id: ShipId) -> Option<&mut Combat> {
    ships.get_mut(&id).and_then(|slot| slot.ship.combat.as_mut())
}

fn attacker(ship: &crate::Ship, combat: &Combat) -> Attacker {
    Attacker { ship: ship.id, character_id: ship.character_id, ship_type_id: combat.ship_type.type_id, damage: 0.0 }
}

impl SystemSim {
    /// The commanding ship's combat state, or why it has none.
    fn own_combat(&mut self, ship_id: ShipId) -> Result<&mut Combat, CommandError> {
        let slot = self.ships.get_mut(&ship_id).ok_or(CommandError::UnknownShip(ship_id))?;
        slot.ship.combat.as_mut().ok_or(CommandError::NotCombatant(ship_id))
    }

    pub(crate) fn lock(&mut self, ship_id: ShipId, target: ShipId) -> Result<Outcome, CommandError> {
        let now = self.sim_time_ms;
        let (ship, own) = combat_of(self.ships.get(&ship_id)).ok_or(CommandError::NotCombatant(ship_id))?;
        let target_position = self.locate_other(ship_id, target, "lock.target")?;
        let (_, theirs) = combat_of(self.ships.get(&target)).ok_or(CommandError::NotCombatant(target))?;
        if own.locks.iter().any(|l| l.target == target) {
            return Err(CommandError::AlreadyLocked(target));
        }
        let max = own.ship_type.max_locks;
        if own.locks.len() >= usize::from(max) {
            return Err(CommandError::TooManyLocks { max });
        }
        let distance_m = ship.position.distance(target_position);
        let max_m = own.ship_type.lock_range_m;
        if distance_m.is_nan() || distance_m > max_m {
            return Err(CommandError::TargetOutOfRange { target, distance_m, max_m });
        }
        let lock = Lock {
            target,
            target_life: theirs.life,
            ready_ms: now.saturating_add(lock_time_ms(own.ship_type.lock_time_s, theirs.ship_type.signature_m)),
            announced: false,
        };
        self.own_combat(ship_id)?.locks.push(lock);
        Ok(Outcome::Accepted)
    }

    pub(crate) fn unlock(&mut self, ship_id: ShipId, target: ShipId) -> Result<Outcome, CommandError> {
        let own = self.own_combat(ship_id)?;
        let before = own.locks.len();
        own.locks.retain(|l| l.target != target);
        if own.locks.len() == before {
            return Err(CommandError::NotLocked(target));
        }
        for module in own.modules.iter_mut().filter(|m| m.target == Some(target)) {
            module.target = None;
        }
        Ok(Outcome::Accepted)
    }

    pub(crate) fn activate(&mut self, ship_id: ShipId, module: u8, target: ShipId) -> Result<Outcome, CommandError> {
        let now = self.sim_time_ms;
        let (ship, own) = combat_of(self.ships.get(&ship_id)).ok_or(CommandError::NotCombatant(ship_id))?;
        let index = usize::from(module);
        let (Some(spec), Some(state)) = (own.ship_type.modules.get(index), own.modules.get(index)) else {
            return Err(CommandError::NoSuchModule { module, modules: own.modules.len() });
        };
        if state.target.is_some() {
            return Err(CommandError::ModuleAlreadyActive(module));
        }
        let Some((theirs_ship, theirs)) = combat_of(self.ships.get(&target)) else {
            return Err(CommandError::NotLocked(target));
        };
        if !own.locked(target, theirs.life, now) {
            return Err(CommandError::NotLocked(target));
        }
        if let ModuleSpec::Disruptor { range_m } = *spec {
            let distance_m = ship.position.distance(theirs_ship.position);
            if distance_m > range_m {
                return Err(CommandError::TargetOutOfRange { target, distance_m, max_m: range_m });
            }
        }
        self.own_combat(ship_id)?.modules[index].target = Some(target);
        Ok(Outcome::Accepted)
    }

    pub(crate) fn deactivate(&mut self, ship_id: ShipId, module: u8) -> Result<Outcome, CommandError> {
        let own = self.own_combat(ship_id)?;
        let modules = own.modules.len();
        let state = own.modules.get_mut(usize::from(module)).ok_or(CommandError::NoSuchModule { module, modules })?;
        if state.target.take().is_none() {
            return Err(CommandError::ModuleNotActive(module));
        }
        Ok(Outcome::Accepted)
    }

    /// The fight part of a sub-step that ended at `self.sim_time_ms`: shields regenerate, due modules cycle,
    /// missiles fly, damage lands, the destroyed are destroyed.
    pub(crate) fn fight_sub_step(&mut self, dt_ms: u64) {
        let now = self.sim_time_ms;
        let system_id = u64::from(self.layout.system_id);
        let mut effects = std::mem::take(&mut self.effects);
        effects.clear();

        for slot in self.ships.values_mut() {
            if let Some(combat) = &mut slot.ship.combat {
                combat.regenerate(dt_ms);
            }
        }

        // Modules: decide from the state after this sub-step's flight, as one snapshot.
        self.snapshot.take(&self.ships);
        let snapshot = &self.snapshot;
        for slot in self.ships.values() {
            let Some(own) = &slot.ship.combat else { continue };
            for (index, (spec, state)) in own.ship_type.modules.iter().zip(&own.modules).enumerate() {
                let (Some(target), true) = (state.target, state.next_cycle_ms <= now) else { continue };
                let module = index as u8;
                let ship = &slot.ship;
                let theirs = snapshot
                    .get(target)
                    .and_then(|k| k.life.filter(|&life| own.locked(target, life, now)).map(|life| (k, life)));
                let Some((theirs, target_life)) = theirs else {
                    effects.push(Effect::Off { ship: ship.id, module });
                    continue;
                };
                effects.push(Effect::Cycled { ship: ship.id, module, next_cycle_ms: now + spec.cycle_ms() });
                let by = attacker(ship, own);
                match spec {
                    ModuleSpec::Turret(turret) => {
                        let distance = ship.position.distance(theirs.position);
                        let angular =
                            angular_velocity((ship.position, ship.velocity), (theirs.position, theirs.velocity));
                        let chance = turret_chance(turret, distance, angular, theirs.signature_m);
                        let roll = Draws::new(Purpose::Turret, &[system_id, now, ship.id, index as u64]).unit();
                        let damage = turret_damage(turret, chance, roll);
                        effects.push(Effect::Hit { attacker: by, module, target, target_life, damage, missile: None });
                    }
                    ModuleSpec::Launcher(launcher) => {
                        let heading = direction(theirs.position - ship.position).unwrap_or(Vec3::ZERO);
                        let missile = Missile {
                            id: 0,
                            attacker: by,
                            module,
                            target,
                            target_life,
                            position: ship.position,
                            velocity: heading * launcher.missile_speed_ms,
                            remaining_ms: launcher.flight_time_ms,
                            launched_ms: now,
                            launcher: *launcher,
                        };
                        effects.push(Effect::Launch { missile });
                    }
                    ModuleSpec::Disruptor { range_m } => {
                        if ship.position.distance(theirs.position) <= *range_m {
                            let until_ms = now + spec.cycle_ms();
                            effects.push(Effect::Disrupt { attacker: by, target, target_life, until_ms });
                        }
                    }
                }
            }
        }

        // Missiles launched before this sub-step fly it; hits are decided from the targets' current positions.
        let fight = &mut self.fight;
        self.missiles.retain_mut(|missile| {
            let Some(target) = snapshot.get(missile.target).filter(|k| k.life == Some(missile.target_life)) else {
                fight.push(FightEvent::MissileGone { missile: missile.id, end: MissileEnd::TargetGone });
                return false;
            };
            let offset = target.position - missile.position;
            let reach = missile.launcher.missile_speed_ms * dt_ms as f64 / 1000.0;
            if offset.length() <= reach {
                let damage = missile_damage(&missile.launcher, target.signature_m, target.velocity.length());
                effects.push(Effect::Hit {
                    attacker: missile.attacker,
                    module: missile.module,
                    target: missile.target,
                    target_life: missile.target_life,
                    damage,
                    missile: Some(missile.id),
                });
                fight.push(FightEvent::MissileGone { missile: missile.id, end: MissileEnd::Exploded });
                return false;
            }
            missile.remaining_ms = missile.remaining_ms.saturating_sub(dt_ms);
            if missile.remaining_ms == 0 {
                fight.push(FightEvent::MissileGone { missile: missile.id, end: MissileEnd::OutOfFuel });
                return false;
            }
            let heading = direction(offset).unwrap_or(Vec3::ZERO);
            missile.velocity = heading * missile.launcher.missile_speed_ms;
            missile.position = missile.position + heading * reach;
            true
        });

        let mut dying: Vec<(ShipId, Attacker)> = Vec::new();
        for effect in effects.drain(..) {
            self.apply_effect(effect, &mut dying);
        }
        self.effects = effects;
        for (victim, final_blow) in dying {
            self.destroy(victim, final_blow);
        }
    }

    fn apply_effect(&mut self, effect: Effect, dying: &mut Vec<(ShipId, Attacker)>) {
        match effect {
            Effect::Cycled { ship, module, next_cycle_ms } => {
                if let Some(state) = combat(&mut self.ships, ship).and_then(|c| c.modules.get_mut(usize::from(module)))
                {
                    state.next_cycle_ms = next_cycle_ms;
                }
            }
            Effect::Off { ship, module } => {
                if let Some(state) = combat(&mut self.ships, ship).and_then(|c| c.modules.get_mut(usize::from(module)))
                {
                    state.target = None;
                }
            }
            Effect::Hit { attacker, module, target, target_life, damage, missile } => {
                let Some(victim) = combat(&mut self.ships, target).filter(|c| c.life == target_life) else { return };
                // A ship already destroyed in this sub-step takes nothing more (its pilot's pod is a new life).
                if victim.hull_hp <= 0.0 {
                    return;
                }
                let taken = victim.take_damage(damage);
                if taken > 0.0 {
                    victim.record_attacker(Attacker { damage: taken, ..attacker });
                }
                let destroyed = victim.hull_hp <= 0.0;
                self.fight.push(FightEvent::Damage {
                    attacker: attacker.ship,
                    target,
                    module,
                    damage: taken,
                    missile,
                    at_ms: self.sim_time_ms,
                });
                if destroyed {
                    dying.push((target, Attacker { damage: taken, ..attacker }));
                }
            }
            Effect::Launch { mut missile } => {
                missile.id = self.next_entity_id;
                self.next_entity_id += 1;
                self.fight.push(FightEvent::MissileLaunched { missile });
                self.missiles.push(missile);
            }
            Effect::Disrupt { attacker, target, target_life, until_ms } => {
                let Some(victim) = combat(&mut self.ships, target).filter(|c| c.life == target_life) else { return };
                victim.disrupted_until_ms = victim.disrupted_until_ms.max(until_ms);
                victim.record_attacker(attacker);
                self.fight.push(FightEvent::Disrupted { ship: attacker.ship, target, until_ms });
            }
        }
    }

    /// A ship's hull reached zero: kill report, wreck, and the pilot ejects (or, for a pod or without a capsule
    /// type, leaves the system to be sent home by the runtime).
    fn destroy(&mut self, victim: ShipId, final_blow: Attacker) {
        let tick = self.tick();
        let Some(slot) = self.ships.get_mut(&victim) else { return };
        let Some(combat) = &mut slot.ship.combat else { return };
        let wreck = Wreck {
            id: self.next_entity_id,
            position: slot.ship.position,
            ship_type_id: combat.ship_type.type_id,
            character_id: slot.ship.character_id,
            expires_ms: self.sim_time_ms.saturating_add(WRECK_LIFETIME_MS),
        };
        self.next_entity_id += 1;
        let class = combat.ship_type.class;
        self.kills.push(Kill {
            system_id: self.layout.system_id,
            tick,
            sim_time_ms: self.sim_time_ms,
            victim,
            victim_character_id: slot.ship.character_id,
            ship_type_id: combat.ship_type.type_id,
            class,
            position: slot.ship.position,
            final_blow,
            attackers: std::mem::take(&mut combat.attackers),
            wreck: wreck.id,
        });
        self.fight.push(FightEvent::Destroyed { victim, ship_type_id: combat.ship_type.type_id });
        self.fight.push(FightEvent::WreckAppeared(wreck));
        self.wrecks.push(wreck);
        match (&self.capsule, class) {
            (Some(capsule), class) if class != ShipClass::Capsule => {
                combat.eject(capsule.clone());
                slot.ship.order = crate::ship::Order::Idle;
            }
            _ => {
                self.remove_ship(victim);
            }
        }
    }

    /// Once per step: completed locks are announced, locks on ships gone or beyond lock range are lost (and the
    /// modules on them switch off), expired wrecks disappear, and the spatial grid is rebuilt.
    pub(crate) fn end_of_step(&mut self) {
        let now = self.sim_time_ms;
        self.snapshot.take(&self.ships);
        let snapshot = &self.snapshot;
        // Decide from a consistent state: which locks of which ships are lost.
        let mut lost: Vec<(ShipId, ShipId)> = Vec::new();
        for slot in self.ships.values() {
            let Some(own) = &slot.ship.combat else { continue };
            for lock in &own.locks {
                let valid = snapshot.get(lock.target).is_some_and(|target| {
                    target.life == Some(lock.target_life)
                        && slot.ship.position.distance(target.position) <= own.ship_type.lock_range_m
                });
                if !valid {
                    lost.push((slot.ship.id, lock.target));
                }
            }
        }
        for (ship, target) in lost {
            if let Some(own) = self.ships.get_mut(&ship).and_then(|s| s.ship.combat.as_mut()) {
                own.locks.retain(|l| l.target != target);
                for module in own.modules.iter_mut().filter(|m| m.target == Some(target)) {
                    module.target = None;
                }
                self.fight.push(FightEvent::LockLost { ship, target });
            }
        }
        for slot in self.ships.values_mut() {
            let Some(own) = &mut slot.ship.combat else { continue };
            for lock in own.locks.iter_mut().filter(|l| !l.announced && l.ready_ms <= now) {
                lock.announced = true;
                self.fight.push(FightEvent::Locked { ship: slot.ship.id, target: lock.target });
            }
        }
        let fight = &mut self.fight;
        self.wrecks.retain(|wreck| {
            let keep = wreck.expires_ms > now;
            if !keep {
                fight.push(FightEvent::WreckGone { wreck: wreck.id });
            }
            keep
        });
        self.grid.rebuild(self.ships.values().map(|slot| (slot.ship.id, slot.ship.position)));
        self.snapshot.clear();
    }
}
