//! `orrery fingerprint`: activity snapshot → load fingerprint.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use orrery_universe::{ActivityWeights, LoadProfile};

use crate::universe_args::UniverseArgs;

#[derive(Args, Debug)]
pub struct FingerprintArgs {
    #[command(flatten)]
    universe: UniverseArgs,
    /// Activity CSV: system_id,ship_jumps,ship_kills,npc_kills,pod_kills (as shared/data/eve/activity.csv).
    #[arg(long, value_name = "FILE")]
    activity: PathBuf,
    /// Where to write the fingerprint (system_id,cpu,mem); `-` for standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: PathBuf,
}

pub fn run(args: &FingerprintArgs) -> Result<()> {
    let (chosen, full) = args.universe.load()?;
    let profile = LoadProfile::from_activity_path(&args.activity, &full, &ActivityWeights::default())
        .context("reading the activity snapshot")?;
    let mut out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(BufWriter::new(File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?))
    };
    profile.write_csv(&chosen, &mut out).and_then(|()| out.flush()).context("writing the fingerprint")?;
    Ok(())
}
