//! `orrery`: one binary for every role of the cluster and the operators' tools. Each subcommand is a thin shell
//! over the library crates: it reads files, times work, prints and writes; the decisions live in the libraries.

mod cmd;
mod universe_args;

use clap::{Parser, Subcommand};

/// orrery: a server cluster for one persistent universe of thousands of solar systems.
#[derive(Parser)]
#[command(name = "orrery", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole cluster in one process: coordinator, sol nodes, proxy, in-process bus, SQLite store.
    Run(cmd::run::RunArgs),
    /// The coordinator of a multi-process cluster (NATS + PostgreSQL): premap, mapping, leases and failover,
    /// live migration, the admin API and dashboard.
    Coordinator(cmd::roles::CoordinatorArgs),
    /// One sol node of a multi-process cluster: ticks the systems the mapping gives it.
    Node(cmd::roles::RoleArgs),
    /// One proxy of a multi-process cluster: client sessions over TCP and WebSocket.
    Proxy(cmd::roles::RoleArgs),
    /// The market role of a multi-process cluster: order books, escrow, NPC traders (one per cluster).
    Market(cmd::roles::MarketArgs),
    /// Connect simulated players to a running cluster over real sockets and report what they saw.
    Bots(cmd::bots::BotsArgs),
    /// Place solar systems on sol nodes, compare strategies, write the mapping and a picture of it.
    Premap(cmd::premap::PremapArgs),
    /// Turn an activity snapshot (jumps and kills per system) into a load fingerprint CSV.
    Fingerprint(cmd::fingerprint::FingerprintArgs),
    /// Load generators that race orrery against other servers (`bench chat`: chat fan-out against IRC).
    Bench(cmd::bench::BenchArgs),
}

/// Structured logs on stderr; `RUST_LOG` picks the level (default: info for orrery, warn for the rest), and
/// the admin API can change it while running (through a reload handle).
fn init_logging() {
    use tracing_subscriber::{EnvFilter, layer::SubscriberExt, reload, util::SubscriberInitExt};
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,orrery=info".to_owned());
    let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("warn,orrery=info"));
    let (filter, handle) = reload::Layer::new(filter);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a terminal: logs sent to a file (a service, a test) stay plain text.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
    if installed.is_ok() {
        let _ = cmd::run::LOG_CONTROL.set(std::sync::Arc::new(cmd::run::ReloadableLog::new(handle, initial)));
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Coordinator(args) => cmd::roles::coordinator(args),
        Command::Node(args) => cmd::roles::node(args),
        Command::Proxy(args) => cmd::roles::proxy(args),
        Command::Market(args) => cmd::roles::market(args),
        Command::Bots(args) => cmd::bots::run(&args),
        Command::Premap(args) => cmd::premap::run(&args),
        Command::Fingerprint(args) => cmd::fingerprint::run(&args),
        Command::Bench(args) => cmd::bench::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
