//! The simulation core of orrery: what one solar system looks like, the ships in it and how they move, and how a
//! sol node slows overloaded systems down (Time Dilation).
//!
//! Like the other cores, this crate is pure: no I/O, no async, no threads, no clocks, no randomness beyond
//! hashes of ids. The runtime owns one [`SystemSim`] per hosted system, feeds it [`Command`]s at the start of a
//! tick, calls [`SystemSim::step`] with the *nominal* tick length and turns the [`TickOutput`] into deltas for
//! the clients. The sim knows nothing of dilation: a dilated system is simply stepped less often in wall time,
//! and the [`tidi::TidiController`] decides how much less.
//!
//! ```
//! use orrery_sim::{Command, Ship, SystemLayout, SystemSim, Target, Vec3};
//! use orrery_universe::{generate, GeneratorConfig};
//!
//! let universe = generate(&GeneratorConfig { systems: 60, ..GeneratorConfig::default() });
//! let mut sim = SystemSim::new(SystemLayout::generate(&universe, 0)?);
//! sim.add_ship(Ship::new(7, 70, "Aura", Vec3::new(1.0e9, 0.0, 0.0), Vec3::ZERO, 0))?;
//! sim.apply(7, Command::Approach(Target::Point(Vec3::new(1.0e9 + 5_000.0, 0.0, 0.0))))?;
//! let out = sim.step(1_000);
//! assert_eq!(out.tick, 1);
//! assert_eq!(out.arrived.len(), 1); // first step after add_ship: the ship is announced
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod combat;
mod command;
mod fight;
mod flight;
mod grid;
mod hash;
mod ids;
mod layout;
mod ship;
mod shiptype;
mod snapshot;
mod space;
mod system;
pub mod tidi;

pub use combat::{Attacker, Combat, FightEvent, Kill, Missile, MissileEnd, Wreck};
pub use command::{Command, CommandError, MAX_CHAT_BYTES, MAX_ORBIT_M, MAX_WARP_RANGE_M, Outcome, Target};
pub use flight::{
    ACCELERATION_MS2, ALIGN_MS, DEFAULT_WARP_RANGE_M, MAX_SPEED_MS, MIN_WARP_M, OBJECT_ARRIVAL_M, POINT_ARRIVAL_M,
    SUB_STEP_MS, WARP_SPEED_MS,
};
pub use grid::SpatialGrid;
pub use ids::{CELESTIAL_BIT, ObjectId, ShipId, celestial_id, is_celestial};
pub use layout::{Celestial, CelestialKind, LayoutError, SystemLayout};
pub use ship::{Motion, Ship, ShipView};
pub use shiptype::{
    DISRUPTOR_CYCLE_MS, LauncherSpec, MAX_MODULES, ModuleSpec, ShipClass, ShipType, ShipTypes, TurretSpec,
};
pub use space::{AU_M, SYSTEM_RADIUS_M, Vec3, quantise};
pub use system::{ChatLine, JUMP_RANGE_M, MAX_STEP_MS, SystemSim, TickOutput};
