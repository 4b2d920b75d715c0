//! The premapper: decides, before a cluster starts, which sol node hosts which solar system — and judges any
//! such decision.
//!
//! A good mapping does two things at once. It **balances** the estimated load so that no node is the one at
//! 100% while the others idle, and it keeps **neighbours together** so that one node's systems form one region
//! of space: a fight that slows a node then slows pilots in one place, not all over the map, and most stargate
//! jumps stay on one node. Naive placement gets one of the two wrong; the strategies here show the trade-off
//! and [`Strategy::Best`] aims at both
//! (docs/premap.md says how, and where it still falls short).
//!
//! Every strategy maps every system to one of `nodes` nodes, for any node count from 1 to the number of
//! systems, deterministically (same input, same output). Each first gives a **dedicated node** to any system
//! heavier than the per-node share of what remains — a trade hub like Jita gets a node of its own — and then
//! places the rest on the remaining nodes. [`evaluate`] computes the metrics an operator judges a mapping by.
//!
//! This crate is pure: no I/O, no clocks, no threads. Callers time it themselves, and may follow a long run
//! through a callback ([`premap_with_progress`]). Pictures of a mapping (the SVG map, the trade-off chart) are
//! operator tooling and live in `orrery-premap-view`.
//!
//! ```
//! use orrery_premap::{Strategy, evaluate, premap};
//! use orrery_universe::{GeneratorConfig, LoadProfile, generate};
//!
//! let universe = generate(&GeneratorConfig { systems: 400, ..GeneratorConfig::default() });
//! let load = LoadProfile::synthesise(&universe, 7).cpu(&universe);
//! let mapping = premap(&universe, &load, 5, Strategy::Best)?;
//! let metrics = evaluate(&universe, &load, &mapping);
//! assert_eq!(metrics.node_loads.len(), 5);
//! assert!(metrics.node_loads.iter().all(|&l| l > 0.0));
//! # Ok::<(), orrery_premap::PremapError>(())
//! ```

mod dedicated;
mod export;
mod mapping;
mod metrics;
mod progress;
mod strategy;
mod subset;
#[cfg(test)]
mod test_support;

pub use dedicated::dedicated_systems;
pub use export::metis_graph;
pub use mapping::Mapping;
pub use metrics::{Metrics, evaluate};
pub use progress::Progress;
pub use strategy::{METIS_DEFAULT_IMBALANCE, Options, Strategy, premap, premap_with, premap_with_progress};

/// Why a mapping could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PremapError {
    /// Asked for zero nodes: there is nowhere to put the systems.
    #[error("the node count must be at least 1")]
    NoNodes,
    /// Every node must host at least one system, so there cannot be more nodes than systems.
    #[error(
        "{nodes} nodes for {systems} systems: a node count larger than the number of systems would leave nodes empty"
    )]
    MoreNodesThanSystems {
        /// The node count asked for.
        nodes: usize,
        /// The systems in the universe.
        systems: usize,
    },
    /// The load vector is indexed like the universe's systems, so it must have one entry per system.
    #[error("the load vector has {loads} entries but the universe has {systems} systems")]
    LoadLength {
        /// Entries in the load vector given.
        loads: usize,
        /// Systems in the universe.
        systems: usize,
    },
    /// A load that is negative, infinite or NaN would make balance meaningless (sums and shares break).
    #[error("the load of system {system} is {value}: loads must be finite and ≥ 0")]
    BadLoad {
        /// The id of the system (its `SystemId`, not its index) whose load is wrong.
        system: u32,
        /// The load found for it.
        value: f64,
    },
    /// The allowed imbalance ([`Options::imbalance`]) is how far above a shared node's ideal load a node may
    /// go, as a fraction: a negative, infinite or NaN one allows nothing meaningful.
    #[error("imbalance {0}: it must be a finite fraction ≥ 0 (0.02 for 2%)")]
    BadImbalance(f64),
    /// [`Options::region_nodes`] of 1: a region of one node has nothing to redistribute (0 turns regions off).
    #[error("regions of {0} node: a region mapped again must hold at least 2 nodes (0 turns regions off)")]
    BadRegionNodes(usize),
    /// The strategy (its name here) sits behind a crate feature this build does not have, e.g. `metis`.
    #[error("strategy `{0}` is not built into this binary (enable the crate feature of the same name)")]
    Unavailable(&'static str),
}
