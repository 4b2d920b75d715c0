//! `orrery bench …`: load generators that measure orrery against other servers. `bench chat` is the chat race
//! (crate `orrery-chatbench`, also built as the stand-alone `orrery-chatbench`); this module only dispatches.

/// `orrery bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(clap::Subcommand)]
pub enum Bench {
    /// The chat race: N clients all talking in one orrery system or IRC channel (ngIRCd, InspIRCd); reports
    /// deliveries/s, latency percentiles, losses, server CPU and RSS; `--sweep` finds the best sustained rate.
    Chat(orrery_chatbench::ChatArgs),
    /// The live-migration acceptance run: N clients talking in one system while it moves between two nodes M
    /// times; reports lines lost and doubled, disconnects, errors, the longest gap between deltas, the pauses.
    Migrate(crate::cmd::migrate_bench::MigrateArgs),
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.bench {
        // The path to this subcommand, so that `--target blast-*` can start this binary as its fake server.
        Bench::Chat(chat) => orrery_chatbench::run_cli_as(chat, &["bench", "chat"]),
        Bench::Migrate(migrate) => crate::cmd::migrate_bench::run(&migrate),
    }
}
