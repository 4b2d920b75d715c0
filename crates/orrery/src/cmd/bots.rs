//! `orrery bots`: the load generator. Thousands of bots log in, undock and idle, travel, crowd a hub or a mix of
//! these for a fixed time; then a summary (or, with `--json`, one JSON object on the last line of stdout).
//!
//! Hub bots need the map to find their way (clients are only ever shown the gates of their current system), so
//! this command builds the same universe as `orrery run` — the same `--systems/--jumps` files, or the same
//! generator size and seed — and plans a route to the hub once for all bots. The default hub is the busiest
//! trade hub of that universe.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::MultiProgress;
use orrery_bots::{BotsConfig, HubRoute, Scenario};
use orrery_universe::{GeneratorConfig, SystemId};

use crate::universe_args::UniverseArgs;

#[derive(Args, Debug)]
pub struct BotsArgs {
    /// Server address: `host:port` for TCP, or `ws://host:port/` for WebSocket.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7777")]
    pub connect: String,
    /// Number of bots (one connection each).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub count: usize,
    /// What the bots do: idle (undock and ping), travel (random stargate walk), hub (go to the hub and chat),
    /// mixed (50 % travel, 30 % hub, 20 % idle), fight (two sides lock and shoot in the hub, come back after
    /// losing their pod; the first bot watches a quiet system).
    #[arg(long, value_name = "SCENARIO", default_value = "idle", value_parser = parse_scenario)]
    pub scenario: Scenario,
    /// How long to run, in seconds (then every bot logs out).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub duration: u64,
    /// Print the summary as one JSON object on the last line of stdout, and no progress display.
    #[arg(long)]
    pub json: bool,
    /// Seed of the bots' random choices.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Accounts (and characters) are named PREFIX0, PREFIX1, …; the password is fixed, so a later run with the
    /// same prefix logs in to the same accounts.
    #[arg(long, value_name = "P", default_value = "bot")]
    pub name_prefix: String,
    /// Hub system id for the hub, mixed and fight scenarios. Default: the busiest trade hub of the universe.
    #[arg(long, value_name = "SYSTEM_ID")]
    pub hub: Option<u32>,
    /// At most this many bots connect and log in at the same time.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_connecting: usize,
    /// Systems CSV of the server's universe (for hub routes), with --jumps. Without it the universe is generated
    /// as `orrery run` does.
    #[arg(long, value_name = "FILE", requires = "jumps")]
    pub systems: Option<PathBuf>,
    /// Stargates CSV of the server's universe, with --systems.
    #[arg(long, value_name = "FILE", requires = "systems")]
    pub jumps: Option<PathBuf>,
    /// Size of the generated universe (as the server's --generate-systems).
    #[arg(long, value_name = "N", default_value_t = GeneratorConfig::default().systems)]
    pub generate_systems: usize,
    /// Seed of the generated universe (as the server's --seed).
    #[arg(long, value_name = "SEED", default_value_t = GeneratorConfig::default().seed)]
    pub universe_seed: u64,
    /// Kinds of system the server maps (as the server's --kinds).
    #[arg(long, value_name = "KINDS", default_value = "kspace", value_delimiter = ',')]
    pub kinds: Vec<String>,
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    text.parse().map_err(|error: orrery_bots::ConfigError| error.to_string())
}

pub fn run(args: &BotsArgs) -> Result<()> {
    let hub = if args.scenario.needs_hub() { Some(plan_hub(args)?) } else { None };
    let config = BotsConfig {
        seed: args.seed,
        name_prefix: args.name_prefix.clone(),
        hub,
        max_connecting: args.max_connecting,
        ..BotsConfig::new(&args.connect, args.count, args.scenario, Duration::from_secs(args.duration))
    };
    config.validate().context("checking the options")?;
    let progress = (!args.json && std::io::stderr().is_terminal()).then(MultiProgress::new);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let summary = runtime.block_on(orrery_bots::run(config, progress)).context("running the bots")?;
    // Bots aborted at the hard stop may leave sockets behind; do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if args.json {
        println!("{}", summary.to_json_line());
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// The hub and the route to it, from the universe the server runs.
fn plan_hub(args: &BotsArgs) -> Result<HubRoute> {
    let universe = UniverseArgs {
        systems: args.systems.clone(),
        jumps: args.jumps.clone(),
        kinds: args.kinds.clone(),
        generate_systems: args.generate_systems,
        seed: args.universe_seed,
    };
    let (chosen, _full) = universe.load()?;
    let hub = match args.hub {
        Some(id) if chosen.index_of(SystemId(id)).is_none() => {
            // The server may run another universe than the one given here: go without a map.
            eprintln!(
                "warning: --hub {id} is not in the bots' universe ({} systems); hub bots walk at random until a gate \
                 leads to it (pass the server's --systems/--jumps or generator options to route them)",
                chosen.len()
            );
            return Ok(HubRoute::without_map(id));
        }
        Some(id) => SystemId(id),
        None => HubRoute::busiest_trade_hub(&chosen).context("choosing the hub")?,
    };
    let route = HubRoute::plan(&chosen, hub).context("planning routes to the hub")?;
    if !args.json {
        let name = chosen.by_id(hub).map_or("?", |s| s.name.as_str());
        eprintln!("hub: {name} ({hub}), reachable from {} of {} systems", route.len() + 1, chosen.len());
    }
    Ok(route)
}
