//! A sub-step's snapshot of every ship's kinematics, in id order: what followers steer by, what weapons and
//! missiles aim at. Reading one contiguous list by binary search is several times cheaper than walking the
//! ship map for every follower, module and missile, and the buffer is reused, so a step allocates nothing here.

use std::collections::BTreeMap;

use crate::ids::ShipId;
use crate::space::Vec3;
use crate::system::Slot;

/// One ship as the snapshot saw it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Kin {
    pub(crate) id: ShipId,
    pub(crate) position: Vec3,
    pub(crate) velocity: Vec3,
    /// The ship's [`crate::Combat::life`], `None` for a ship that takes no part in fights.
    pub(crate) life: Option<u32>,
    /// Its type's signature radius (0 without a type).
    pub(crate) signature_m: f64,
}

/// Every ship's [`Kin`], sorted by id (the ship map's order). Empty between steps.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Snapshot {
    kin: Vec<Kin>,
}

impl Snapshot {
    /// Takes the snapshot afresh, reusing the buffer.
    pub(crate) fn take(&mut self, ships: &BTreeMap<ShipId, Slot>) {
        self.kin.clear();
        self.kin.extend(ships.values().map(|slot| {
            let ship = &slot.ship;
            let combat = ship.combat.as_ref();
            Kin {
                id: ship.id,
                position: ship.position,
                velocity: ship.velocity,
                life: combat.map(|c| c.life),
                signature_m: combat.map_or(0.0, |c| c.ship_type.signature_m),
            }
        }));
    }

    /// The ship with this id, as of the snapshot.
    pub(crate) fn get(&self, id: ShipId) -> Option<&Kin> {
        self.kin.binary_search_by_key(&id, |k| k.id).ok().map(|i| &self.kin[i])
    }

    /// Empties it (keeping the buffer) once the step is done, so two systems in the same state compare equal.
    pub(crate) fn clear(&mut self) {
        self.kin.clear();
    }
}
