//! Helpers shared by the integration tests that run strategies on whole maps.

use orrery_premap::{Metrics, Options, Strategy, evaluate, premap_with};
use orrery_universe::Universe;

/// Maps `universe` onto `nodes` nodes with `strategy` and measures the mapping.
pub fn run(universe: &Universe, load: &[f64], nodes: usize, strategy: Strategy) -> Metrics {
    run_with(universe, load, nodes, strategy, None)
}

/// [`run`] allowing `imbalance` (a fraction of the ideal node load) above the ideal.
pub fn run_with(
    universe: &Universe,
    load: &[f64],
    nodes: usize,
    strategy: Strategy,
    imbalance: Option<f64>,
) -> Metrics {
    let mapping = premap_with(universe, load, nodes, strategy, &Options { imbalance }).expect("premaps");
    evaluate(universe, load, &mapping)
}
