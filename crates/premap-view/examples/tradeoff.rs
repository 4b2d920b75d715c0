//! Trades balance for locality: maps a generated 2,000-system universe onto 12 sol nodes with `best` at a few
//! imbalance allowances, prints how the cut gates, nodes in pieces and spread fall as the heaviest node may
//! grow, and writes the chart of it (`tradeoff.svg` in the current directory, or the path given).
//!
//! Run with `cargo run -p orrery-premap-view --example tradeoff --release [-- chart.svg]`.

use orrery_premap::{Options, Strategy, evaluate, premap_with};
use orrery_premap_view::chart::{Point, Series, tradeoff};
use orrery_universe::{GeneratorConfig, LoadProfile, generate};

const SYSTEMS: usize = 2000;
const NODES: usize = 12;
const SEED: u64 = 7;
/// Allowances above the ideal node load, in percent (0: `best`'s default, LPT's balance).
const PERCENTS: [f64; 6] = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = generate(&GeneratorConfig { systems: SYSTEMS, seed: SEED });
    let load = LoadProfile::synthesise(&universe, SEED).cpu(&universe);
    let mut series = Series { name: "best".into(), points: Vec::new() };
    println!("{:>9} {:>10} {:>6} {:>10} {:>10}", "allowed", "max/mean", "cut", "in pieces", "spread ly");
    for percent in PERCENTS {
        let options = Options { imbalance: Some(percent / 100.0), ..Options::default() };
        let mapping = premap_with(&universe, &load, NODES, Strategy::Best, &options)?;
        let m = evaluate(&universe, &load, &mapping);
        println!(
            "{:>8}% {:>10.4} {:>6} {:>10} {:>10.2}",
            percent, m.shared_max_over_mean, m.cut_gates, m.fragmented_nodes, m.mean_spread_ly
        );
        series.points.push(Point {
            label: format!("{percent}%"),
            balance: m.shared_max_over_mean,
            cut_gates: m.cut_gates,
            fragmented_nodes: m.fragmented_nodes,
            spread_ly: m.mean_spread_ly,
        });
    }
    let path = std::env::args().nth(1).unwrap_or_else(|| "tradeoff.svg".into());
    let title = format!("{SYSTEMS} generated systems on {NODES} nodes: balance against locality");
    std::fs::write(&path, tradeoff(&title, &[series]))?;
    println!("wrote {path}");
    Ok(())
}
