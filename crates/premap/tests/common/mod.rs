//! Helpers shared by the integration tests that run strategies on whole maps.

use orrery_premap::{Metrics, Strategy, evaluate, premap};
use orrery_universe::Universe;

/// Maps `universe` onto `nodes` nodes with `strategy` and measures the mapping.
pub fn run(universe: &Universe, load: &[f64], nodes: usize, strategy: Strategy) -> Metrics {
    let mapping = premap(universe, load, nodes, strategy).expect("premaps");
    evaluate(universe, load, &mapping)
}
