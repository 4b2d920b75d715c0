//! Stand-alone shell over `orrery_chatbench::run_cli`: the same bench as `orrery bench chat`, without building
//! the whole server binary.
use clap::Parser;

#[derive(Parser)]
#[command(name = "orrery-chatbench", about = "Chat fan-out race: orrery against IRC servers")]
struct Cli {
    #[command(flatten)]
    args: orrery_chatbench::ChatArgs,
}

fn main() -> anyhow::Result<()> {
    orrery_chatbench::run_cli(Cli::parse().args)
}
