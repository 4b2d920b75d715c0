//! The fixed scenery of a system — star, planets, stargates — derived from the universe alone, so every node
//! that hosts the system (after a failover too) builds the same celestials with the same ids.

use orrery_universe::Universe;

use crate::hash::{Draws, Purpose};
use crate::ids::{LOCAL_INDEX_MASK, ObjectId, celestial_id};
use crate::space::{AU_M, Vec3, direction, on_circle};

/// Fewest and most planets a system has.
const PLANETS: std::ops::RangeInclusive<u64> = 1..=12;
/// Innermost and outermost planetary orbit, in AU.
const ORBIT_AU: (f64, f64) = (0.3, 40.0);
/// Most a planet's orbit is tilted out of the x/z plane, as a fraction of its radius.
const PLANET_LIFT: f64 = 0.05;
/// Nearest and farthest a stargate is from the star, in AU.
const GATE_AU: (f64, f64) = (5.0, 30.0);
/// The vertical part of a neighbour's direction is squashed by this much, so gates lie near the x/z plane.
const GATE_FLATTEN: f64 = 0.1;
const ROMAN: [&str; 12] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];

/// What a celestial is; decides what commands it accepts (only stargates can be jumped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CelestialKind {
    /// The sun at the origin (local index 0).
    Star,
    /// A planet: somewhere to warp to, nothing more.
    Planet,
    /// A gate to a neighbouring system: the only celestial a ship can jump through.
    Stargate,
}

/// A fixed object of a system: something to warp to, approach or jump through.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Celestial {
    /// See [`celestial_id`]: unique across the universe, bit 63 set.
    pub id: ObjectId,
    /// What it is, which decides whether it can be jumped through.
    pub kind: CelestialKind,
    /// The name clients show, EVE-style ("Jita IV", "Stargate (Perimeter)").
    pub name: String,
    /// Metres from the star.
    pub position: Vec3,
    /// Stargates only: the system the gate leads to.
    pub destination: Option<u32>,
}

/// The scenery of one system: the star at the origin, its planets, and one stargate per stargate-graph
/// neighbour, pointing the way the neighbour's sun lies.
///
/// Celestials are in local-index order: the star (index 0), planets I, II, … (1..=n), then the gates in the
/// order of the universe's neighbour list. The fields are public so that tests and tools can hand-make a
/// layout; [`SystemLayout::generate`] is the real source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SystemLayout {
    /// The EVE id of the system this is the scenery of.
    pub system_id: u32,
    /// The system's name, the stem of its celestials' names.
    pub name: String,
    /// Every celestial, in local-index order (star, planets, gates).
    pub celestials: Vec<Celestial>,
}

/// Why a layout cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The dense index asked for is past the end of the universe.
    #[error("system index {index} is out of range: the universe has {len} systems")]
    NoSuchSystem {
        /// The index asked for.
        index: usize,
        /// How many systems the universe has.
        len: usize,
    },
    /// The planets and gates together would not fit in the local-index bits of a celestial id.
    #[error("system {system_id} has {gates} stargates, more than its celestial ids can number")]
    TooManyGates {
        /// The system whose gates do not fit.
        system_id: u32,
        /// How many stargates it has.
        gates: usize,
    },
}

impl SystemLayout {
    /// Generates the scenery of the system at dense `index` of `universe`. Deterministic: planet count and orbits
    /// are hashed from the system id, gate distances from the ids of both ends, gate directions follow the
    /// neighbours' suns (flattened towards the x/z plane).
    pub fn generate(universe: &Universe, index: usize) -> Result<SystemLayout, LayoutError> {
        let Some(system) = universe.systems().get(index) else {
            return Err(LayoutError::NoSuchSystem { index, len: universe.len() });
        };
        let system_id = system.id.0;
        let neighbours = universe.neighbours(index);
        let mut draws = Draws::new(Purpose::Planets, &[u64::from(system_id)]);
        let planet_count = PLANETS.start() + draws.below(PLANETS.end() - PLANETS.start() + 1);
        let first_gate = 1 + planet_count as usize;
        if first_gate + neighbours.len() > LOCAL_INDEX_MASK as usize + 1 {
            return Err(LayoutError::TooManyGates { system_id, gates: neighbours.len() });
        }

        let mut celestials = Vec::with_capacity(first_gate + neighbours.len());
        celestials.push(Celestial {
            id: celestial_id(system_id, 0),
            kind: CelestialKind::Star,
            name: format!("{} - Star", system.name),
            position: Vec3::ZERO,
            destination: None,
        });
        let (low, high) = (ORBIT_AU.0.ln(), ORBIT_AU.1.ln());
        let mut orbits: Vec<f64> = (0..planet_count).map(|_| draws.between(low, high).exp() * AU_M).collect();
        orbits.sort_by(f64::total_cmp);
        for (i, (radius, numeral)) in orbits.into_iter().zip(ROMAN).enumerate() {
            let (angle, lift) = (draws.unit(), draws.between(-PLANET_LIFT, PLANET_LIFT));
            celestials.push(Celestial {
                id: celestial_id(system_id, 1 + i as u32),
                kind: CelestialKind::Planet,
                name: format!("{} {numeral}", system.name),
                position: on_circle(Vec3::ZERO, radius, angle, lift),
                destination: None,
            });
        }
        for (i, &neighbour_index) in neighbours.iter().enumerate() {
            let neighbour = universe.system(neighbour_index);
            let mut draws = Draws::new(Purpose::Gate, &[u64::from(system_id), u64::from(neighbour.id.0)]);
            let distance = draws.between(GATE_AU.0, GATE_AU.1) * AU_M;
            let fallback_angle = draws.unit();
            let towards = neighbour.position - system.position;
            let flat = Vec3::new(towards.x, towards.y * GATE_FLATTEN, towards.z);
            let position = match direction(flat) {
                Some(unit) => unit * distance,
                None => on_circle(Vec3::ZERO, distance, fallback_angle, 0.0),
            };
            celestials.push(Celestial {
                id: celestial_id(system_id, (first_gate + i) as u32),
                kind: CelestialKind::Stargate,
                name: format!("Stargate ({})", neighbour.name),
                position,
                destination: Some(neighbour.id.0),
            });
        }
        Ok(SystemLayout { system_id, name: system.name.clone(), celestials })
    }

    /// The celestial with this id, if it belongs to this system.
    pub fn celestial(&self, id: ObjectId) -> Option<&Celestial> {
        self.celestials.iter().find(|c| c.id == id)
    }

    /// The gate in this system that leads to `destination` — where ships arriving from there appear.
    pub fn gate_to(&self, destination: u32) -> Option<&Celestial> {
        self.gates().find(|c| c.destination == Some(destination))
    }

    /// All stargates of the system.
    pub fn gates(&self) -> impl Iterator<Item = &Celestial> {
        self.celestials.iter().filter(|c| c.kind == CelestialKind::Stargate)
    }

    /// Where the star is (the origin for generated layouts).
    pub fn star_position(&self) -> Vec3 {
        self.celestials.iter().find(|c| c.kind == CelestialKind::Star).map_or(Vec3::ZERO, |c| c.position)
    }
}
