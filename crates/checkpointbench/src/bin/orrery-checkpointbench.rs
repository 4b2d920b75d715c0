//! Stand-alone shell over `orrery_checkpointbench::run`: the same bench as `orrery bench checkpoint`, without
//! building the whole server binary (a release build of this crate alone is what the measurement needs).
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "orrery-checkpointbench",
    about = "Does a checkpoint stall a tick? Tick times with checkpoints off and on"
)]
struct Cli {
    #[command(flatten)]
    args: orrery_checkpointbench::CheckpointArgs,
}

fn main() -> anyhow::Result<()> {
    orrery_checkpointbench::run(&Cli::parse().args)
}
