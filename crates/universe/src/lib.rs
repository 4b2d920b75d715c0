//! The universe of orrery: solar systems with positions, the stargate graph that joins them, and the
//! constellations and regions they belong to.
//!
//! This crate is a pure library: no async, no threads, no clocks. Its only I/O is in the loaders, which read
//! from any [`std::io::Read`] (the `*_path` helpers open files for convenience). Everything downstream — the
//! premapper, the simulation, the runtime — works on a [`Universe`] value and the per-system load estimates of
//! a [`LoadProfile`].
//!
//! ```
//! use orrery_universe::{generate, GeneratorConfig};
//!
//! let universe = generate(&GeneratorConfig { systems: 300, ..GeneratorConfig::default() });
//! assert!(universe.len() >= 300);
//! // The generated stargate graph is connected: every system can reach every other.
//! assert_eq!(universe.components().len(), 1);
//! ```

mod csv_load;
mod csv_table;
mod error;
mod generate;
mod geometry;
mod id;
mod load;
mod model;

pub use csv_load::{UniverseFiles, load_universe, load_universe_paths};
pub use csv_table::{CsvTable, Input, Row};
pub use error::{LoadError, Location};
pub use generate::{GeneratorConfig, generate};
pub use geometry::{LIGHT_YEAR_M, Vec3};
pub use id::{ConstellationId, RegionId, SystemId};
pub use load::{ActivityWeights, DEFAULT_LOAD, Load, LoadProfile, trade_hubs};
pub use model::{Constellation, Region, SolarSystem, SystemKind, Universe, UniverseError, component_labels};
