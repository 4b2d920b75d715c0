//! Development probe: `best` (and METIS, LPT) on the EVE k-space map at the node counts given as arguments,
//! printing balance, cut, fragmentation and time. Needs the EVE map (`ORRERY_EVE_DATA`, by default
//! `../shared/data/eve` beside the repository; see `orrery_testdata`).
//!
//! Run with `cargo run -p orrery-premap --example eve_best --release -- 24 250`; `gen` as the first argument
//! uses the generated default universe instead.

use std::time::Instant;

use orrery_premap::{Strategy, evaluate, premap};
use orrery_universe::{GeneratorConfig, LoadProfile, Universe, generate};

#[path = "../tests/common/eve.rs"]
mod eve;

fn eve() -> (Universe, Vec<f64>) {
    let dir = orrery_testdata::require_eve_data();
    eve::eve_kspace(&dir).unwrap_or_else(|e| panic!("the EVE map in {} does not load: {e}", dir.display()))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let (universe, load) = if args.first().is_some_and(|a| a == "gen") {
        args.remove(0);
        let universe = generate(&GeneratorConfig::default());
        let load = LoadProfile::synthesise(&universe, 1).cpu(&universe);
        (universe, load)
    } else {
        eve()
    };
    let repeat: usize = std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let strategies: Vec<Strategy> = match std::env::var("STRATEGIES") {
        Ok(s) => s.split(',').map(|n| n.parse().expect("strategy")).collect(),
        Err(_) => vec![Strategy::Lpt, Strategy::Metis, Strategy::Best],
    };
    for nodes in args.iter().map(|a| a.parse::<usize>().expect("node count")) {
        for &strategy in &strategies {
            let started = Instant::now();
            let mut mapping = None;
            for _ in 0..repeat {
                mapping = Some(premap(&universe, &load, nodes, strategy).expect("premaps"));
            }
            let ms = started.elapsed().as_secs_f64() * 1e3 / repeat as f64;
            let mapping = mapping.expect("ran");
            let m = evaluate(&universe, &load, &mapping);
            if std::env::var("DETAIL").is_ok() {
                let mut nodes_by_load: Vec<usize> = (0..nodes).filter(|&n| !m.dedicated[n]).collect();
                nodes_by_load.sort_by(|&a, &b| m.node_loads[b].total_cmp(&m.node_loads[a]));
                for &n in nodes_by_load.iter().take(12) {
                    let mut systems: Vec<f64> =
                        (0..universe.len()).filter(|&s| mapping.node_of(s) == n).map(|s| load[s]).collect();
                    systems.sort_by(|a, b| b.total_cmp(a));
                    println!(
                        "  node {n:>3} load {:.1} systems {} top {:?}",
                        m.node_loads[n],
                        systems.len(),
                        &systems[..systems.len().min(4)]
                    );
                }
            }
            println!(
                "{nodes:>4} {:<6} shared {:.4} cut {:>4} frag {:>3} pieces {:>3} spread {:.2} {:>7.1} ms",
                strategy.name(),
                m.shared_max_over_mean,
                m.cut_gates,
                m.fragmented_nodes,
                m.extra_pieces,
                m.mean_spread_ly,
                ms
            );
        }
    }
}
