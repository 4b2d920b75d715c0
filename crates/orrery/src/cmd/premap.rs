//! `orrery premap`: place systems on nodes, compare strategies, write the mapping and its picture.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use orrery_premap::{Mapping, Metrics, Options, Progress, Strategy, evaluate, metis_graph, premap_with_progress};
use orrery_premap_view::chart::{self, Point, Series};
use orrery_universe::{Input, Universe};

use crate::universe_args::UniverseArgs;

#[derive(Args, Debug)]
pub struct PremapArgs {
    #[command(flatten)]
    universe: UniverseArgs,
    /// Load fingerprint CSV (system_id,cpu[,mem]); systems it does not name get 1.0. Without it a load is
    /// synthesised: trade hubs heavy, high-sec busier, a long tail.
    #[arg(long, value_name = "FILE")]
    load: Option<PathBuf>,
    /// Number of sol nodes: any count from 1 to the number of systems.
    #[arg(long, value_name = "N")]
    nodes: usize,
    /// Which strategy to run: constellation, lpt, rcb, metis, best; several comma-separated (`lpt,metis,best`)
    /// or `all` for a side-by-side table.
    #[arg(long, default_value = "best", value_delimiter = ',', value_parser = parse_choice)]
    strategy: Vec<Choice>,
    /// Write the mapping as CSV (system_id,node). With `all`, the mapping of `best`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Draw the mapping as SVG: the universe from above, one colour per node. With `all`, the mapping of `best`.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print the table as Markdown (for docs/benchmarks.md) instead of a terminal table.
    #[arg(long)]
    markdown: bool,
    /// How far above the ideal load of a shared node a node may go, in percent: fewer gates cut and fewer
    /// nodes in pieces for a heavier heaviest node. `best` aims at the larger of this and LPT's balance (its
    /// default); `metis` takes it as its tolerance (default 3). Other strategies ignore it.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, allow_negative_numbers = true)]
    imbalance: Option<f64>,
    /// Kicks per node `best` spends on cutting fewer gates once balance is settled (each redraws a node's
    /// borders and is kept only if the whole cuts fewer gates): more never cut more, they take longer. Default
    /// 8 up to 64 nodes of at most 256 systems, 0 beyond (8 at 250 EVE nodes: about 10% fewer cut gates, ~1.5 s).
    #[arg(long, value_name = "PER_NODE", value_parser = clap::value_parser!(u64).range(0..=1000), allow_negative_numbers = true)]
    kicks: Option<u64>,
    /// Regions `best` maps again once the kicks are done (step 11 of docs/premap.md): each node with the nodes
    /// it shares the most gates with, NODES in all (2–16, or 0 for none), the new borders kept where they cut
    /// fewer gates (then where nodes grow more compact) without passing the cap or putting more nodes in
    /// pieces. Default 5 where the kicks run by default, 0 beyond; they take most of the time there (64 EVE
    /// nodes: ~28 s instead of ~3 s, 9% fewer cut gates, 13% smaller spread). At 250 nodes 5 takes ~17 s.
    #[arg(long, value_name = "NODES", value_parser = parse_region_nodes, allow_negative_numbers = true)]
    regions: Option<usize>,
    /// Compare `best` and `metis` at each of these imbalances in percent (e.g. `0,1,2,5,10,30`), beside LPT
    /// and RCB: the trade-off between balance and locality, as a table (and a chart with --chart).
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',', value_parser = parse_percent, conflicts_with_all = ["strategy", "imbalance", "out", "svg"])]
    sweep: Option<Vec<f64>>,
    /// With --sweep: draw cut gates, nodes in pieces and spread against balance as SVG.
    #[arg(long, value_name = "FILE", requires = "sweep")]
    chart: Option<PathBuf>,
    /// Judge a mapping file (system_id,node — what --out writes, or another tool's) beside the strategies: one
    /// more column of the table, named after the file. Every mapped system must appear once, on a node below
    /// --nodes. May be given more than once.
    #[arg(long, value_name = "MAPPING", conflicts_with = "sweep")]
    evaluate: Vec<PathBuf>,
    /// Write the problem for other graph partitioners: the stargate graph of the systems that share nodes, in
    /// the METIS graph format, with comment lines naming the parts to cut it into and each vertex's system
    /// (docs/premap.md). scripts/reference-partitioners.sh feeds it to KaHIP and Mt-KaHyPar.
    #[arg(long, value_name = "FILE")]
    export_graph: Option<PathBuf>,
}

/// A percentage given on the command line: finite and ≥ 0.
pub(crate) fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().trim_end_matches('%').parse().map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("`{text}`: a percentage must be finite and ≥ 0"))
    }
}

/// The nodes of a region of `best`'s step 11 given on the command line: 0 (no regions) or 2–16. A region of one
/// node would be the node mapped again alone; more than 16 make each region's own mapping slow.
pub(crate) fn parse_region_nodes(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(nodes) if nodes == 0 || (2..=16).contains(&nodes) => Ok(nodes),
        _ => Err(format!("`{text}`: a region holds 2 to 16 nodes (0 for no regions)")),
    }
}

#[derive(Debug, Clone, Copy)]
enum Choice {
    One(Strategy),
    All,
}

fn parse_choice(text: &str) -> Result<Choice, String> {
    if text == "all" { Ok(Choice::All) } else { text.parse().map(Choice::One) }
}

/// The strategies `--strategy` names, each once, in the order tables list them; `all` is every one built in.
fn chosen_strategies(choices: &[Choice]) -> Vec<Strategy> {
    let all = choices.iter().any(|c| matches!(c, Choice::All));
    let named = |s: &Strategy| all || choices.iter().any(|c| matches!(c, Choice::One(one) if one == s));
    Strategy::ALL.into_iter().filter(|s| named(s) && (!all || s.is_available())).collect()
}

/// One strategy's outcome, or a mapping file's.
struct Outcome {
    /// The strategy that made the mapping; `None` for a mapping read from a file.
    strategy: Option<Strategy>,
    /// The strategy's name, or the file's.
    name: String,
    /// The imbalance a sweep ran it at (e.g. "2%"); empty outside a sweep.
    setting: String,
    mapping: Mapping,
    metrics: Metrics,
    /// How long the strategy took; `None` for a file.
    elapsed: Option<Duration>,
}

pub fn run(args: &PremapArgs) -> Result<()> {
    let (universe, full) = args.universe.load()?;
    let profile = args.universe.load_profile(args.load.as_ref(), &full)?;
    let load = profile.cpu(&universe);
    if args.nodes == 0 || args.nodes > universe.len() {
        bail!("--nodes {}: choose between 1 and the number of mapped systems ({})", args.nodes, universe.len());
    }
    // (strategy, imbalance in percent, whether the run is one setting of a sweep)
    let runs: Vec<(Strategy, Option<f64>, bool)> = match &args.sweep {
        Some(percents) => {
            let mut runs = vec![(Strategy::Lpt, None, false), (Strategy::Rcb, None, false)];
            for &percent in percents {
                for strategy in [Strategy::Metis, Strategy::Best].into_iter().filter(|s| s.is_available()) {
                    runs.push((strategy, Some(percent), true));
                }
            }
            runs
        }
        None => chosen_strategies(&args.strategy).into_iter().map(|s| (s, args.imbalance, false)).collect(),
    };
    let bar = ProgressBar::new(runs.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} premapping {pos}/{len} {msg}").expect("a valid progress template"),
    );
    // `best`'s searches take seconds at up to 64 nodes (kicks and regions): keep the spinner turning meanwhile.
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut outcomes = Vec::new();
    for (strategy, percent, swept) in runs {
        let setting = match percent {
            Some(p) if swept => format!("{p}%"),
            _ => String::new(),
        };
        let label = format!("{strategy} {setting}");
        bar.set_message(label.clone());
        let options = Options {
            imbalance: percent.map(|p| p / 100.0),
            kicks_per_node: args.kicks.map(|k| k as usize),
            region_nodes: args.regions,
        };
        let started = Instant::now();
        let mut show = |p: Progress| bar.set_message(format!("{label}: {}", progress_message(p)));
        let mapping = premap_with_progress(&universe, &load, args.nodes, strategy, &options, &mut show)?;
        let elapsed = started.elapsed();
        let metrics = evaluate(&universe, &load, &mapping);
        outcomes.push(Outcome {
            strategy: Some(strategy),
            name: strategy.name().to_string(),
            setting,
            mapping,
            metrics,
            elapsed: Some(elapsed),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    for path in &args.evaluate {
        let mapping = read_mapping(path, &universe, args.nodes)?;
        let metrics = evaluate(&universe, &load, &mapping);
        let name = path.file_stem().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        outcomes.push(Outcome { strategy: None, name, setting: String::new(), mapping, metrics, elapsed: None });
    }

    println!(
        "{} systems, {} stargates, total load {:.1}, {} nodes",
        universe.len(),
        universe.gate_count(),
        load.iter().sum::<f64>(),
        args.nodes
    );
    match (args.markdown, args.sweep.is_some()) {
        (true, false) => print!("{}", markdown(&outcomes)),
        (false, false) => println!("{}", table(&outcomes)),
        (true, true) => print!("{}", sweep_markdown(&outcomes)),
        (false, true) => println!("{}", sweep_table(&outcomes)),
    }
    let chosen = outcomes.iter().find(|o| o.strategy == Some(Strategy::Best)).unwrap_or(&outcomes[0]);
    if let Some(path) = &args.out {
        write_mapping(path, &universe, &chosen.mapping)?;
        println!("wrote the {} mapping to {}", chosen.name, path.display());
    }
    if let Some(path) = &args.export_graph {
        std::fs::write(path, metis_graph(&universe, &load, args.nodes)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote the graph of the shared systems for other partitioners to {}", path.display());
    }
    if let Some(path) = &args.chart {
        let title = format!("{} — {} nodes: balance against locality", universe_title(args), args.nodes);
        std::fs::write(path, chart::tradeoff(&title, &series(&outcomes)))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote the trade-off chart to {}", path.display());
    }
    if let Some(path) = &args.svg {
        let title = format!("{} — {} nodes, strategy {}", universe_title(args), args.nodes, chosen.name);
        let svg = orrery_premap_view::map::render(&universe, &load, &chosen.mapping, &chosen.metrics, &title);
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote the picture of the {} mapping to {}", chosen.name, path.display());
    }
    Ok(())
}

/// What a progress bar says while `best` is at `progress`.
pub(crate) fn progress_message(progress: Progress) -> String {
    match progress {
        Progress::Placing => "cutting and balancing".into(),
        Progress::Recombining => "redrawing borders for fewer cut gates".into(),
        Progress::Kicking { kicks } => format!("{kicks} kicks for fewer cut gates"),
        Progress::Regions { round, rounds, region, regions } => {
            format!("regions: round {round} of at most {rounds}, region {region}/{regions}")
        }
    }
}

/// The outcomes as chart series: one per strategy, its points in the order run.
fn series(outcomes: &[Outcome]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for o in outcomes {
        let point = Point {
            label: o.setting.clone(),
            balance: o.metrics.shared_max_over_mean,
            cut_gates: o.metrics.cut_gates,
            fragmented_nodes: o.metrics.fragmented_nodes,
            spread_ly: o.metrics.mean_spread_ly,
        };
        match series.iter_mut().find(|s| s.name == o.name) {
            Some(s) => s.points.push(point),
            None => series.push(Series { name: o.name.clone(), points: vec![point] }),
        }
    }
    series
}

impl Outcome {
    /// The column or row heading: the strategy's name, with its setting in a sweep.
    fn label(&self) -> String {
        if self.setting.is_empty() { self.name.clone() } else { format!("{} {}", self.name, self.setting) }
    }
}

fn universe_title(args: &PremapArgs) -> String {
    match &args.universe.systems {
        Some(path) => path.display().to_string(),
        None => format!("generated universe (seed {})", args.universe.seed),
    }
}

/// A table row: the metric's name and how to print it for one outcome.
type MetricRow = (&'static str, fn(&Outcome) -> String);

/// Metrics as rows, strategies as columns.
fn table(outcomes: &[Outcome]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec![Cell::new("metric")];
    header.extend(outcomes.iter().map(|o| Cell::new(o.label())));
    table.set_header(header);
    for (name, value) in METRIC_ROWS {
        let mut row = vec![Cell::new(name)];
        row.extend(outcomes.iter().map(|o| Cell::new(value(o)).set_alignment(CellAlignment::Right)));
        table.add_row(row);
    }
    table
}

/// The same table in GitHub Markdown.
fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = format!("| metric | {} |\n", outcomes.iter().map(Outcome::label).collect::<Vec<_>>().join(" | "));
    out += &format!("|---|{}\n", "---:|".repeat(outcomes.len()));
    for (name, value) in METRIC_ROWS {
        out += &format!("| {name} | {} |\n", outcomes.iter().map(value).collect::<Vec<_>>().join(" | "));
    }
    out
}

/// A sweep has many runs and few metrics worth comparing along it: one row per run.
fn sweep_table(outcomes: &[Outcome]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec![Cell::new("run")];
    header.extend(SWEEP_COLUMNS.iter().map(|(name, _)| Cell::new(name)));
    table.set_header(header);
    for o in outcomes {
        let mut row = vec![Cell::new(o.label())];
        row.extend(SWEEP_COLUMNS.iter().map(|(_, value)| Cell::new(value(o)).set_alignment(CellAlignment::Right)));
        table.add_row(row);
    }
    table
}

/// The same sweep table in GitHub Markdown.
fn sweep_markdown(outcomes: &[Outcome]) -> String {
    let names: Vec<&str> = SWEEP_COLUMNS.iter().map(|(name, _)| *name).collect();
    let mut out = format!("| run | {} |\n|---|{}\n", names.join(" | "), "---:|".repeat(names.len()));
    for o in outcomes {
        let values: Vec<String> = SWEEP_COLUMNS.iter().map(|(_, value)| value(o)).collect();
        out += &format!("| {} | {} |\n", o.label(), values.join(" | "));
    }
    out
}

/// The metrics a sweep compares (rows of [`METRIC_ROWS`]).
const SWEEP_COLUMNS: [MetricRow; 6] =
    [METRIC_ROWS[3], METRIC_ROWS[6], METRIC_ROWS[7], METRIC_ROWS[8], METRIC_ROWS[9], METRIC_ROWS[10]];

/// Every metric the comparison shows, in order.
const METRIC_ROWS: [MetricRow; 11] = [
    ("max node load", |o| format!("{:.1}", o.metrics.node_loads.iter().copied().fold(0.0, f64::max))),
    ("max / mean", |o| format!("{:.4}", o.metrics.max_over_mean)),
    ("max / lower bound", |o| format!("{:.4}", o.metrics.max_over_bound)),
    ("max / mean, shared nodes", |o| format!("{:.4}", o.metrics.shared_max_over_mean)),
    ("dedicated nodes", |o| o.metrics.dedicated.iter().filter(|&&d| d).count().to_string()),
    ("coefficient of variation", |o| format!("{:.4}", o.metrics.coefficient_of_variation)),
    ("stargates cut", |o| o.metrics.cut_gates.to_string()),
    ("fragmented nodes", |o| o.metrics.fragmented_nodes.to_string()),
    ("extra pieces", |o| o.metrics.extra_pieces.to_string()),
    ("mean spread (ly)", |o| format!("{:.2}", o.metrics.mean_spread_ly)),
    ("time (ms)", |o| o.elapsed.map_or_else(|| "—".to_string(), |e| format!("{:.1}", e.as_secs_f64() * 1e3))),
];

/// A mapping file for the mapped systems, every problem named with file, line and column.
fn read_mapping(path: &PathBuf, universe: &Universe, nodes: usize) -> Result<Mapping> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("--evaluate: opening {name}"))?;
    let mut reader = std::io::BufReader::new(file);
    Mapping::from_csv(Input::new(&name, &mut reader), universe, nodes).with_context(|| {
        format!("--evaluate expects a mapping of the {} mapped systems onto {nodes} nodes", universe.len())
    })
}

fn write_mapping(path: &PathBuf, universe: &Universe, mapping: &Mapping) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    writeln!(out, "system_id,node")?;
    for (index, system) in universe.systems().iter().enumerate() {
        writeln!(out, "{},{}", system.id, mapping.node_of(index))?;
    }
    out.flush().with_context(|| format!("writing {}", path.display()))
}
