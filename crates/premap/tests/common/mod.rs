//! Helpers shared by the integration tests that run strategies on whole maps.

use orrery_premap::{Metrics, Options, Strategy, evaluate, premap_with};
use orrery_universe::Universe;

/// Maps `universe` onto `nodes` nodes with `strategy` and measures the mapping.
pub fn run(universe: &Universe, load: &[f64], nodes: usize, strategy: Strategy) -> Metrics {
    run_with(universe, load, nodes, strategy, Options::default())
}

/// [`run`] with `options` (an allowed imbalance, kicks).
pub fn run_with(universe: &Universe, load: &[f64], nodes: usize, strategy: Strategy, options: Options) -> Metrics {
    let mapping = premap_with(universe, load, nodes, strategy, &options).expect("premaps");
    evaluate(universe, load, &mapping)
}
