//! Stand-alone shell over `orrery_fightbench::run`: the same bench as `orrery bench fight`, without building the
//! whole server binary (quicker to rebuild while profiling).
use clap::Parser;

#[derive(Parser)]
#[command(name = "orrery-fightbench", about = "Fleet fight in one system: tick work and Time Dilation")]
struct Cli {
    #[command(flatten)]
    args: orrery_fightbench::FightArgs,
}

fn main() -> anyhow::Result<()> {
    orrery_fightbench::run(&Cli::parse().args)
}
