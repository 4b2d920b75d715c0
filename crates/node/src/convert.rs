//! Between the sim's types and the protocol's: commands in, ship states and snapshots out. Positions leave the
//! node quantised (whole metres and metres per second); handoffs and checkpoints keep full precision.

use orrery_proto::v1::{self, client_envelope::Body as C};
use orrery_sim::{
    Attacker, Celestial, CelestialKind, Command, FightEvent, Kill, MissileEnd, Motion, Ship, ShipClass, ShipView,
    SystemLayout, Target, Vec3, quantise,
};

/// The sim command a client envelope asks for, or the reason it cannot be one.
pub fn command(envelope: &v1::ClientEnvelope) -> Result<Command, String> {
    match &envelope.body {
        Some(C::Approach(approach)) => match &approach.target {
            Some(v1::approach::Target::Point(point)) => {
                Ok(Command::Approach(Target::Point(Vec3::new(point.x as f64, point.y as f64, point.z as f64))))
            }
            Some(v1::approach::Target::ObjectId(id)) => Ok(Command::Approach(Target::Object(*id))),
            None => Err("approach.target: missing (point or object_id)".into()),
        },
        Some(C::Stop(_)) => Ok(Command::Stop),
        Some(C::WarpTo(warp)) => Ok(Command::WarpTo { object: warp.object_id, range_m: f64::from(warp.range_m) }),
        Some(C::Jump(jump)) => Ok(Command::Jump { gate: jump.gate_id }),
        Some(C::Chat(chat)) => Ok(Command::Chat { text: chat.text.clone() }),
        Some(C::Orbit(orbit)) => Ok(Command::Orbit { object: orbit.object_id, radius_m: f64::from(orbit.radius_m) }),
        Some(C::Lock(lock)) => Ok(Command::Lock { target: lock.target_id }),
        Some(C::Unlock(unlock)) => Ok(Command::Unlock { target: unlock.target_id }),
        Some(C::ActivateModule(activate)) => {
            Ok(Command::Activate { module: module(activate.module, "activate_module")?, target: activate.target_id })
        }
        Some(C::DeactivateModule(deactivate)) => {
            Ok(Command::Deactivate { module: module(deactivate.module, "deactivate_module")? })
        }
        _ => Err(format!("{}: not a command for a ship in space", orrery_proto::command_name(envelope))),
    }
}

/// A module index as the sim takes it (one byte; racks hold at most 16 modules).
fn module(index: u32, message: &str) -> Result<u8, String> {
    u8::try_from(index).map_err(|_| format!("{message}.module: {index} is not a module index (at most 255)"))
}

/// A kill report for the delta.
pub fn kill_report(kill: &Kill) -> v1::KillReport {
    v1::KillReport {
        victim_ship_id: kill.victim,
        victim_character_id: kill.victim_character_id,
        ship_type_id: kill.ship_type_id,
        capsule: kill.class == ShipClass::Capsule,
        sim_time_ms: kill.sim_time_ms,
        position: vec3q(kill.position),
        final_blow: Some(attacker(&kill.final_blow)),
        attackers: kill.attackers.iter().map(attacker).collect(),
        wreck_id: kill.wreck,
    }
}

fn attacker(a: &Attacker) -> v1::Attacker {
    v1::Attacker { ship_id: a.ship, character_id: a.character_id, ship_type_id: a.ship_type_id, damage: a.damage }
}

/// A fight event for the delta.
pub fn fight_event(event: &FightEvent) -> v1::FightEvent {
    use v1::fight_event::Event as E;
    let lock = |ship_id, target_id| v1::LockChange { ship_id, target_id };
    let event = match *event {
        FightEvent::Locked { ship, target } => E::Locked(lock(ship, target)),
        FightEvent::LockLost { ship, target } => E::LockLost(lock(ship, target)),
        FightEvent::Damage { attacker, target, module, damage, missile, at_ms } => E::Damage(v1::FightDamage {
            attacker_id: attacker,
            target_id: target,
            module: u32::from(module),
            damage,
            missile_id: missile.unwrap_or(0),
            sim_time_ms: at_ms,
        }),
        FightEvent::MissileLaunched { missile } => E::MissileLaunched(v1::MissileLaunched {
            missile_id: missile.id,
            attacker_id: missile.attacker.ship,
            target_id: missile.target,
            module: u32::from(missile.module),
            position: vec3q(missile.position),
            velocity: vec3q(missile.velocity),
            sim_time_ms: missile.launched_ms,
        }),
        FightEvent::MissileGone { missile, end } => E::MissileGone(v1::MissileGone {
            missile_id: missile,
            end: (match end {
                MissileEnd::Exploded => v1::MissileEnd::Exploded,
                MissileEnd::OutOfFuel => v1::MissileEnd::OutOfFuel,
                MissileEnd::TargetGone => v1::MissileEnd::TargetGone,
            }) as i32,
        }),
        FightEvent::Disrupted { ship, target, until_ms } => {
            E::Disrupted(v1::Disrupted { ship_id: ship, target_id: target, until_ms })
        }
        FightEvent::Destroyed { victim, .. } => E::DestroyedShipId(victim),
        FightEvent::WreckAppeared(wreck) => E::WreckAppeared(v1::Wreck {
            wreck_id: wreck.id,
            position: vec3q(wreck.position),
            ship_type_id: wreck.ship_type_id,
            character_id: wreck.character_id,
        }),
        FightEvent::WreckGone { wreck } => E::WreckGoneId(wreck),
    };
    v1::FightEvent { event: Some(event) }
}

fn vec3q(v: Vec3) -> Option<v1::Vec3> {
    let [x, y, z] = quantise(v);
    Some(v1::Vec3 { x, y, z })
}

pub fn vec3d(v: Vec3) -> Option<v1::Vec3d> {
    Some(v1::Vec3d { x: v.x, y: v.y, z: v.z })
}

/// A full-precision vector from the bus; absent or non-finite components become zero.
pub fn from_vec3d(v: Option<&v1::Vec3d>) -> Vec3 {
    let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
    v.map_or(Vec3 { x: 0.0, y: 0.0, z: 0.0 }, |v| Vec3::new(finite(v.x), finite(v.y), finite(v.z)))
}

fn motion(motion: Motion) -> i32 {
    (match motion {
        Motion::Idle => v1::ShipMotion::Idle,
        Motion::Approaching => v1::ShipMotion::Approaching,
        Motion::Aligning => v1::ShipMotion::Aligning,
        Motion::Warping => v1::ShipMotion::Warping,
    }) as i32
}

pub fn ship_state(view: &ShipView) -> v1::ShipState {
    v1::ShipState {
        ship_id: view.id,
        character_id: view.character_id,
        pilot: view.pilot.clone(),
        position: vec3q(view.position),
        velocity: vec3q(view.velocity),
        motion: motion(view.motion),
    }
}

pub fn celestial(celestial: &Celestial) -> v1::Celestial {
    v1::Celestial {
        id: celestial.id,
        kind: (match celestial.kind {
            CelestialKind::Star => v1::CelestialKind::Star,
            CelestialKind::Planet => v1::CelestialKind::Planet,
            CelestialKind::Stargate => v1::CelestialKind::Stargate,
        }) as i32,
        name: celestial.name.clone(),
        position: vec3q(celestial.position),
        destination_system_id: celestial.destination.unwrap_or(0),
    }
}

/// A ship as the bus carries it.
pub fn ship_record(ship: &Ship, system_id: u32) -> v1::ShipRecord {
    let (ship_type_id, hit_points) = hull_record(ship);
    v1::ShipRecord {
        ship_id: ship.id,
        character_id: ship.character_id,
        pilot: ship.pilot.clone(),
        system_id,
        position: vec3d(ship.position),
        velocity: vec3d(ship.velocity),
        handoff_seq: ship.handoff_seq,
        ship_type_id,
        hit_points,
    }
}

/// A ship from the bus, ready for the sim: in its hull with what is left of it. A ship without a type (stored
/// before ships had types) or with a type this build does not know gets the starter frigate.
pub fn ship(record: &v1::ShipRecord) -> Ship {
    let ship = Ship::new(
        record.ship_id,
        record.character_id,
        record.pilot.clone(),
        from_vec3d(record.position.as_ref()),
        from_vec3d(record.velocity.as_ref()),
        record.handoff_seq,
    );
    let types = hulls::types();
    let ship_type = match types.get(record.ship_type_id) {
        Some(known) => Some(known),
        None => {
            if record.ship_type_id != 0 {
                tracing::warn!(
                    ship = record.ship_id,
                    type_id = record.ship_type_id,
                    "unknown ship type: starter frigate"
                );
            }
            types.starter()
        }
    };
    let Some(ship_type) = ship_type else { return ship };
    let mut ship = ship.with_type(ship_type.clone());
    if let (Some(hp), Some(combat)) = (record.hit_points.as_ref(), ship.combat.as_mut())
        && record.ship_type_id == combat.ship_type.type_id
    {
        // What the bus or the store says is left, within the type's limits (a hull at 0 would be a dead ship).
        let within = |value: f64, max: f64| if value.is_finite() { value.clamp(0.0, max) } else { max };
        combat.shield_hp = within(hp.shield, combat.ship_type.shield_hp);
        combat.armour_hp = within(hp.armour, combat.ship_type.armour_hp);
        combat.hull_hp = within(hp.hull, combat.ship_type.hull_hp).max(combat.ship_type.hull_hp.min(1.0));
    }
    ship
}

/// The hull part of a ship as the bus carries it: its type and hit points (0 and none for an untyped ship).
fn hull_record(ship: &Ship) -> (u32, Option<v1::HitPoints>) {
    ship.combat.as_ref().map_or((0, None), |c| {
        (c.ship_type.type_id, Some(v1::HitPoints { shield: c.shield_hp, armour: c.armour_hp, hull: c.hull_hp }))
    })
}

/// A kill report as the store keeps it.
pub fn kill_record(kill: &Kill) -> orrery_store::KillRecord {
    let attacker = |a: &Attacker| orrery_store::KillAttacker {
        ship_id: a.ship,
        character_id: a.character_id,
        ship_type_id: a.ship_type_id,
        damage: a.damage,
    };
    orrery_store::KillRecord {
        kill_id: 0,
        system_id: kill.system_id,
        tick: kill.tick,
        sim_time_ms: kill.sim_time_ms,
        killed_at_ms: 0,
        victim_ship_id: kill.victim,
        victim_character_id: kill.victim_character_id,
        ship_type_id: kill.ship_type_id,
        capsule: kill.class == ShipClass::Capsule,
        position: [kill.position.x, kill.position.y, kill.position.z],
        final_blow: attacker(&kill.final_blow),
        attackers: kill.attackers.iter().map(attacker).collect(),
    }
}

/// The ship types this node flies ships in, read once from `data/ship-types.csv` (compiled in).
pub mod hulls {
    use std::sync::OnceLock;

    use orrery_sim::ShipTypes;

    /// The compiled-in types. The file is checked by the sim's tests; should it still fail to load, the error is
    /// logged once and ships fly untyped (their fight commands answered NOT_COMBATANT) rather than the node failing.
    pub fn types() -> &'static ShipTypes {
        static TYPES: OnceLock<ShipTypes> = OnceLock::new();
        TYPES.get_or_init(|| {
            ShipTypes::builtin().unwrap_or_else(|problem| {
                tracing::error!(%problem, "ship types not loaded: ships fly without types");
                ShipTypes::default()
            })
        })
    }

    /// What a loss leaves its pilot in: the capsule, and the starter frigate after a lost capsule.
    pub fn loss_hulls() -> Option<orrery_store::LossHulls> {
        let types = types();
        Some(orrery_store::LossHulls { capsule: types.capsule()?.type_id, respawn: types.starter()?.type_id })
    }
}

/// A ship as the store keeps it.
pub fn ship_row(ship: &Ship, system_id: u32, in_space: bool) -> orrery_store::ShipRow {
    orrery_store::ShipRow {
        ship_id: ship.id,
        character_id: ship.character_id,
        system_id,
        position: [ship.position.x, ship.position.y, ship.position.z],
        velocity: [ship.velocity.x, ship.velocity.y, ship.velocity.z],
        handoff_seq: ship.handoff_seq,
        in_space,
        hull: ship.combat.as_ref().map(|c| orrery_store::Hull {
            type_id: c.ship_type.type_id,
            hit_points: Some([c.shield_hp, c.armour_hp, c.hull_hp]),
        }),
    }
}

pub fn celestials(layout: &SystemLayout) -> Vec<v1::Celestial> {
    layout.celestials.iter().map(celestial).collect()
}

/// A celestial from the bus (a system or gate added at runtime); unknown kinds count as planets.
pub fn celestial_from(message: &v1::Celestial) -> orrery_sim::Celestial {
    let position = message.position.map_or(Vec3::ZERO, |p| Vec3::new(p.x as f64, p.y as f64, p.z as f64));
    let kind = match v1::CelestialKind::try_from(message.kind) {
        Ok(v1::CelestialKind::Star) => CelestialKind::Star,
        Ok(v1::CelestialKind::Stargate) => CelestialKind::Stargate,
        _ => CelestialKind::Planet,
    };
    orrery_sim::Celestial {
        id: message.id,
        kind,
        name: message.name.clone(),
        position,
        destination: (kind == CelestialKind::Stargate).then_some(message.destination_system_id),
    }
}

/// A layout from a `HostSystem` message.
pub fn layout_from(host: &v1::HostSystem) -> SystemLayout {
    SystemLayout {
        system_id: host.system_id,
        name: host.name.clone(),
        celestials: host.celestials.iter().map(celestial_from).collect(),
    }
}
