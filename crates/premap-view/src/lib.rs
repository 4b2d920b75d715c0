//! Pictures of the premapper's work, for operators: presentation, not algorithm.
//!
//! `orrery-premap` decides where systems go and measures the outcome ([`orrery_premap::evaluate`]); this crate
//! draws it. [`map::render`] shows one mapping as a map of the universe (where each node's systems lie, where
//! the cut stargates run, which node carries the most); [`chart::tradeoff`] shows how strategies trade balance
//! for locality across several mappings. Both write plain, deterministic SVG 1.1 and never panic on odd input.
//! `orrery premap --svg` and `--chart` write them.
//!
//! ```
//! use orrery_premap::{Strategy, evaluate, premap};
//! use orrery_universe::{GeneratorConfig, LoadProfile, generate};
//!
//! let universe = generate(&GeneratorConfig { systems: 300, ..GeneratorConfig::default() });
//! let load = LoadProfile::synthesise(&universe, 7).cpu(&universe);
//! let mapping = premap(&universe, &load, 4, Strategy::Rcb)?;
//! let svg = orrery_premap_view::map::render(&universe, &load, &mapping, &evaluate(&universe, &load, &mapping), "4 nodes");
//! assert!(svg.starts_with("<?xml") && svg.contains("<g id=\"node-3\""));
//! # Ok::<(), orrery_premap::PremapError>(())
//! ```

pub mod chart;
pub mod map;
mod svg;
