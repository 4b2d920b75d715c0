//! Helpers shared by the integration tests that run strategies on whole maps.

#[allow(dead_code)] // only the EVE-map tests read the map
pub mod eve;

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

/// METIS's mapping of `universe` onto `nodes` nodes, measured. The comparisons with METIS are part of what the
/// tests check, so a build without the `metis` feature fails them loudly instead of skipping them.
#[allow(dead_code)] // not every test file compares with METIS
pub fn metis(universe: &Universe, load: &[f64], nodes: usize) -> Metrics {
    assert!(
        Strategy::Metis.is_available(),
        "this test compares with METIS, which this build leaves out (enable the `metis` feature of orrery-premap)"
    );
    run(universe, load, nodes, Strategy::Metis)
}

/// Asserts that `best`'s figure is below `other`'s, naming the measure and both figures. The figures are
/// counts and ratios, so they are taken by copy.
#[allow(dead_code)] // not every test file uses it
#[track_caller]
pub fn assert_below<T: PartialOrd + std::fmt::Display + Copy>(measure: &str, best: T, other_name: &str, other: T) {
    assert!(best < other, "{measure}: best {best}, {other_name} {other}");
}
