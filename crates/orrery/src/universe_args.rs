//! The options every command that needs a universe shares: files or the generator, which kinds of system to
//! map, and the load fingerprint.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use orrery_universe::{GeneratorConfig, LoadProfile, SystemKind, Universe, generate, load_universe_paths};

#[derive(Args, Debug, Clone)]
pub struct UniverseArgs {
    /// Systems CSV (system_id,name,constellation_id,region_id,x,y,z,security[,kind]); needs --jumps. Every CSV
    /// starts with a header line naming its columns (any order, extra columns ignored, spaces trimmed). Without
    /// it a universe is generated. constellations.csv and regions.csv beside it are read when present.
    #[arg(long, value_name = "FILE", requires = "jumps")]
    pub systems: Option<PathBuf>,
    /// Stargates CSV (from_system_id,to_system_id), with --systems.
    #[arg(long, value_name = "FILE", requires = "systems")]
    pub jumps: Option<PathBuf>,
    /// Which kinds of system to map, comma-separated: kspace, wspace, other. Wormhole and other systems have no
    /// stargates and sit far from k-space, so only k-space is mapped by default.
    #[arg(long, value_name = "KINDS", default_value = "kspace", value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Size of the generated universe (without --systems).
    #[arg(long, value_name = "N", default_value_t = GeneratorConfig::default().systems)]
    pub generate_systems: usize,
    /// Seed of the generated universe and of the synthesised load.
    #[arg(long, value_name = "SEED", default_value_t = GeneratorConfig::default().seed)]
    pub seed: u64,
}

impl UniverseArgs {
    /// The universe to work on, already filtered to the chosen kinds, and the full one (for validating ids).
    pub fn load(&self) -> Result<(Universe, Universe)> {
        let mut kinds = Vec::new();
        for kind in &self.kinds {
            match SystemKind::parse(kind) {
                Some(k) => kinds.push(k),
                None => bail!("--kinds: `{kind}` is not a system kind (expected kspace, wspace or other)"),
            }
        }
        let full = match (&self.systems, &self.jumps) {
            (Some(systems), jumps) => load_universe_paths(systems, jumps.as_deref())
                .with_context(|| format!("loading the universe from {}", systems.display()))?,
            (None, _) => generate(&GeneratorConfig { systems: self.generate_systems, seed: self.seed }),
        };
        let chosen = full.select(|s| kinds.contains(&s.kind));
        if chosen.is_empty() {
            bail!("no systems of kind {} in the universe ({} systems in all)", self.kinds.join(","), full.len());
        }
        Ok((chosen, full))
    }

    /// The load fingerprint from `--load`, or synthesised when there is none.
    pub fn load_profile(&self, load: Option<&PathBuf>, full: &Universe) -> Result<LoadProfile> {
        match load {
            Some(path) => LoadProfile::from_csv_path(path, full).context("reading the load fingerprint"),
            None => Ok(LoadProfile::synthesise(full, self.seed)),
        }
    }
}
