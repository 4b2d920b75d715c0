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
    /// Place solar systems on sol nodes, compare strategies, write the mapping and a picture of it.
    Premap(cmd::premap::PremapArgs),
    /// Turn an activity snapshot (jumps and kills per system) into a load fingerprint CSV.
    Fingerprint(cmd::fingerprint::FingerprintArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Premap(args) => cmd::premap::run(args),
        Command::Fingerprint(args) => cmd::fingerprint::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
