//! `orrery bench …`: load generators that measure orrery against other servers and itself. `bench chat` is the
//! chat race (crate `orrery-chatbench`, also built as the stand-alone `orrery-chatbench`); `bench fight` is the
//! fleet fight in one system (crate `orrery-fightbench`); this module only dispatches.

/// `orrery bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(clap::Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing would only obscure the clap types")]
pub enum Bench {
    /// The chat race: N clients all talking in one orrery system or IRC channel (ngIRCd, InspIRCd); reports
    /// deliveries/s, latency percentiles, losses, server CPU and RSS; `--sweep` finds the best sustained rate.
    Chat(orrery_chatbench::ChatArgs),
    /// The live-migration acceptance run: N clients talking in one system while it moves between two nodes M
    /// times; reports lines lost and doubled, disconnects, errors, the longest gap between deltas, the pauses.
    Migrate(crate::cmd::migrate_bench::MigrateArgs),
    /// The fleet fight: N ships in two fleets in one system, all locked and shooting (`--missiles`: missiles in
    /// flight too); reports tick work p50/p99/max and the Time Dilation factor it would get.
    Fight(orrery_fightbench::FightArgs),
    /// Does a checkpoint stall a tick? A sol node with N moving ships (10,000) and its persistence worker on
    /// SQLite or `--store postgres://…`, with checkpoints off, every 10 s and every 1 s; reports tick work and
    /// delta intervals p50/p99/max, late ticks, checkpoint batches and ships/s.
    Checkpoint(orrery_checkpointbench::CheckpointArgs),
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.bench {
        // The path to this subcommand, so that `--target blast-*` can start this binary as its fake server.
        Bench::Chat(chat) => orrery_chatbench::run_cli_as(chat, &["bench", "chat"]),
        Bench::Migrate(migrate) => crate::cmd::migrate_bench::run(&migrate),
        Bench::Fight(fight) => orrery_fightbench::run(&fight),
        Bench::Checkpoint(checkpoint) => orrery_checkpointbench::run(&checkpoint),
    }
}
