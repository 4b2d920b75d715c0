//! A seeded generator of a New-Eden-like universe (placeholder: replaced by the full generator).

use crate::Universe;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// About how many systems (the generator completes the last constellation, so a few more may appear).
    pub systems: usize,
    /// Same seed, same universe.
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig { systems: 5000, seed: 1 }
    }
}

/// Generates a universe.
pub fn generate(config: &GeneratorConfig) -> Universe {
    let _ = config;
    Universe::new(Vec::new(), &[], Vec::new(), Vec::new()).expect("empty")
}
