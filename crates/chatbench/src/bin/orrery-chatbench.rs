//! Stand-alone shell over `orrery_chatbench::run_cli` until `orrery bench chat` is wired.
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
