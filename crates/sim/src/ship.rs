//! A ship in space: its durable state (what a handoff carries) and the order it is flying.

use crate::combat::Combat;
use crate::command::Target;
use crate::flight::{ACCELERATION_MS2, MAX_SPEED_MS, WarpPath};
use crate::ids::{ObjectId, ShipId};
use crate::space::Vec3;

/// What a ship is doing, as clients are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Motion {
    /// No order: standing still, or braking to a stop.
    Idle,
    /// Flying towards a point or an object, or orbiting an object (clients see both as following it).
    Approaching,
    /// Turning and accelerating towards a warp target; warp starts when alignment is done.
    Aligning,
    /// In warp: no command but chat is accepted until the ship drops out.
    Warping,
}

/// The order a ship is flying; private so that only validated commands create one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Order {
    Idle,
    Approach(Target),
    Orbit { target: ObjectId, radius_m: f64 },
    Align { target: ObjectId, range_m: f64, elapsed_ms: u64 },
    Warp(WarpPath),
}

/// A ship and its pilot. The public fields are what the store keeps and a handoff carries; the order being
/// flown is private and is reset whenever a ship enters a system.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ship {
    /// The ship's id: the key of commands, views and the store.
    pub id: ShipId,
    /// The character flying it, so chat and views say who it is and the store finds it at login.
    pub character_id: u64,
    /// The pilot's name as shown to other players.
    pub pilot: String,
    /// Metres from the star of the system the ship is in.
    pub position: Vec3,
    /// Metres per second.
    pub velocity: Vec3,
    /// Increases by one at every jump, so a receiver can discard a duplicate or stale handoff.
    pub handoff_seq: u64,
    /// The hull flown and its fighting state; `None` for a ship that takes no part in fights (it can be neither
    /// locked nor lock anything, and flies at the default [`MAX_SPEED_MS`]).
    pub combat: Option<Combat>,
    pub(crate) order: Order,
}

impl Ship {
    /// A ship with no order, e.g. as loaded from the store before [`crate::SystemSim::add_ship`].
    pub fn new(
        id: ShipId,
        character_id: u64,
        pilot: impl Into<String>,
        position: Vec3,
        velocity: Vec3,
        handoff_seq: u64,
    ) -> Ship {
        Ship {
            id,
            character_id,
            pilot: pilot.into(),
            position,
            velocity,
            handoff_seq,
            combat: None,
            order: Order::Idle,
        }
    }

    /// The same ship flying a fresh hull of `ship_type` (full hit points, nothing locked).
    pub fn with_type(mut self, ship_type: crate::ShipType) -> Ship {
        self.combat = Some(Combat::new(ship_type));
        self
    }

    /// Top sub-warp speed (m/s) and acceleration (m/s²): the type's, or the defaults for a ship without one.
    pub(crate) fn limits(&self) -> (f64, f64) {
        match &self.combat {
            Some(c) => (c.ship_type.max_speed_ms, c.ship_type.acceleration_ms2()),
            None => (MAX_SPEED_MS, ACCELERATION_MS2),
        }
    }

    /// What the ship is doing.
    pub fn motion(&self) -> Motion {
        match self.order {
            Order::Idle => Motion::Idle,
            Order::Approach(_) | Order::Orbit { .. } => Motion::Approaching,
            Order::Align { .. } => Motion::Aligning,
            Order::Warp(_) => Motion::Warping,
        }
    }
}

/// A ship as clients see it, for snapshots and deltas. Full precision: the runtime quantises (with
/// [`crate::quantise`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ShipView {
    /// The ship, as [`Ship::id`].
    pub id: ShipId,
    /// Its pilot's character, as [`Ship::character_id`].
    pub character_id: u64,
    /// Its pilot's name, as [`Ship::pilot`].
    pub pilot: String,
    /// Metres from the star.
    pub position: Vec3,
    /// Metres per second, so clients can extrapolate between deltas.
    pub velocity: Vec3,
    /// What the ship is doing, so clients can show it (and know a warping ship will not answer commands).
    pub motion: Motion,
}

impl From<&Ship> for ShipView {
    fn from(ship: &Ship) -> Self {
        ShipView {
            id: ship.id,
            character_id: ship.character_id,
            pilot: ship.pilot.clone(),
            position: ship.position,
            velocity: ship.velocity,
            motion: ship.motion(),
        }
    }
}
