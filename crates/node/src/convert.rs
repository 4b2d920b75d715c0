//! Between the sim's types and the protocol's: commands in, ship states and snapshots out. Positions leave the
//! node quantised (whole metres and metres per second); handoffs and checkpoints keep full precision.

use orrery_proto::v1::{self, client_envelope::Body as C};
use orrery_sim::{Celestial, CelestialKind, Command, Motion, Ship, ShipView, SystemLayout, Target, Vec3, quantise};

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
        _ => Err(format!("{}: not a command for a ship in space", orrery_proto::command_name(envelope))),
    }
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
    v1::ShipRecord {
        ship_id: ship.id,
        character_id: ship.character_id,
        pilot: ship.pilot.clone(),
        system_id,
        position: vec3d(ship.position),
        velocity: vec3d(ship.velocity),
        handoff_seq: ship.handoff_seq,
    }
}

/// A ship from the bus, ready for the sim.
pub fn ship(record: &v1::ShipRecord) -> Ship {
    Ship::new(
        record.ship_id,
        record.character_id,
        record.pilot.clone(),
        from_vec3d(record.position.as_ref()),
        from_vec3d(record.velocity.as_ref()),
        record.handoff_seq,
    )
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
