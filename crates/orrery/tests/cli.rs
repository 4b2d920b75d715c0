//! The `orrery` binary end to end: `premap` and `fingerprint` on generated and hand-written universes, the files
//! they write, and the errors they give for bad input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orrery_premap::Strategy;
use orrery_universe::ActivityWeights;

/// Runs the binary with `args` and returns its output.
fn orrery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orrery")).args(args).output().expect("the orrery binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Asserts a non-zero exit whose stderr mentions every one of `words`.
#[track_caller]
fn assert_failure(output: &Output, words: &[&str]) {
    assert!(!output.status.success(), "expected failure, got success\nstdout:\n{}", stdout(output));
    assert!(output.status.code().is_some_and(|c| c != 0), "{:?}", output.status);
    let err = stderr(output);
    for word in words {
        assert!(err.contains(word), "stderr does not mention `{word}`:\n{err}");
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A tiny universe on disk: four k-space systems in a path 1–2–3–4 and a wormhole system without gates.
struct Tiny {
    dir: tempfile::TempDir,
    systems: PathBuf,
    jumps: PathBuf,
}

fn tiny() -> Tiny {
    let dir = tempfile::tempdir().expect("a temp dir");
    let systems = dir.path().join("systems.csv");
    let jumps = dir.path().join("jumps.csv");
    std::fs::write(
        &systems,
        "system_id,name,constellation_id,region_id,x,y,z,security,kind\n\
         30000001,Alpha,20000001,10000001,0,0,0,0.9,kspace\n\
         30000002,Beta,20000001,10000001,1e16,0,0,0.6,kspace\n\
         30000003,Gamma,20000002,10000001,2e16,0,0,0.3,kspace\n\
         30000004,Delta,20000002,10000001,3e16,0,0,-0.2,kspace\n\
         31000001,J100001,21000001,11000001,8e18,0,0,-1.0,wspace\n",
    )
    .unwrap();
    std::fs::write(&jumps, "from_system_id,to_system_id\n30000001,30000002\n30000002,30000003\n30000003,30000004\n")
        .unwrap();
    Tiny { dir, systems, jumps }
}

fn available() -> Vec<Strategy> {
    Strategy::ALL.into_iter().filter(|s| s.is_available()).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// premap
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn premap_all_prints_a_table_of_every_strategy() {
    let output = orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--strategy", "all"]);
    assert_success(&output);
    let out = stdout(&output);
    assert!(out.contains("300 systems"), "{out}");
    assert!(out.contains("5 nodes"), "{out}");
    let header = out.lines().find(|l| l.contains("metric")).unwrap_or_else(|| panic!("no header row:\n{out}"));
    for strategy in available() {
        assert!(header.contains(strategy.name()), "the table does not name {strategy}:\n{out}");
    }
    for row in [
        "max node load",
        "max / mean",
        "max / lower bound",
        "dedicated nodes",
        "coefficient of variation",
        "stargates cut",
        "fragmented nodes",
        "extra pieces",
        "mean spread (ly)",
        "time (ms)",
    ] {
        assert!(out.lines().any(|l| l.contains(row)), "no `{row}` row:\n{out}");
    }
}

#[test]
fn premap_out_writes_one_row_per_system() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mapping.csv");
    let output =
        orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--strategy", "all", "--out", path_str(&out)]);
    assert_success(&output);
    assert!(stdout(&output).contains(path_str(&out)), "says where it wrote");
    let text = std::fs::read_to_string(&out).expect("the mapping file exists");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("system_id,node"));
    let mut ids = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for line in lines {
        let (id, node) = line.split_once(',').unwrap_or_else(|| panic!("bad row `{line}`"));
        let id: u32 = id.parse().unwrap_or_else(|_| panic!("bad id in `{line}`"));
        let node: usize = node.parse().unwrap_or_else(|_| panic!("bad node in `{line}`"));
        assert!(node < 5, "node {node} out of range in `{line}`");
        assert!(ids.insert(id), "system {id} appears twice");
        nodes.insert(node);
    }
    assert_eq!(ids.len(), 300, "one row per system");
    assert_eq!(nodes.len(), 5, "every node is used");
}

/// The columns of a Markdown table printed by `premap --markdown`: header name → the cells of every row.
fn markdown_columns(out: &str) -> Vec<(String, Vec<String>)> {
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    let header = &rows[0];
    (1..header.len()).map(|c| (header[c].clone(), rows[1..].iter().map(|r| r[c].clone()).collect())).collect()
}

/// `premap` on a generated universe of 300 systems onto 5 nodes, the strategy and outputs still to add.
const FIVE_NODES_OF_300: [&str; 5] = ["premap", "--generate-systems", "300", "--nodes", "5"];

/// Saves `strategy`'s mapping of [`FIVE_NODES_OF_300`] as `dir/name`.
fn saved_mapping(dir: &Path, name: &str, strategy: &str) -> PathBuf {
    let saved = dir.join(name);
    assert_success(&orrery(&[&FIVE_NODES_OF_300[..], &["--strategy", strategy, "--out", path_str(&saved)]].concat()));
    saved
}

#[test]
fn premap_evaluate_judges_a_mapping_file_beside_the_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let saved = saved_mapping(dir.path(), "yesterday.csv", "best");
    let universe = FIVE_NODES_OF_300;

    // The saved mapping, judged beside the two strategies named: the same figures as `best` had, no time.
    let output =
        orrery(&[&universe[..], &["--strategy", "best,lpt", "--markdown", "--evaluate", path_str(&saved)]].concat());
    assert_success(&output);
    let columns = markdown_columns(&stdout(&output));
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["lpt", "best", "yesterday"], "strategies in table order, then the file");
    let (best, file) = (&columns[1].1, &columns[2].1);
    let rows = best.len();
    assert_eq!(file[..rows - 1], best[..rows - 1], "every metric but the time");
    assert_eq!(file[rows - 1], "—", "a file has no time");
    assert_ne!(columns[0].1[..rows - 1], best[..rows - 1], "LPT's figures differ, so the comparison means something");
}

#[test]
fn premap_evaluate_refuses_a_bad_mapping_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let saved = saved_mapping(dir.path(), "mapping.csv", "lpt");
    let universe = FIVE_NODES_OF_300;
    // Planned for 5 nodes, judged as a plan for 4: some system sits on node 4, which 4 nodes do not have.
    let output = orrery(&[
        "premap",
        "--generate-systems",
        "300",
        "--nodes",
        "4",
        "--strategy",
        "lpt",
        "--evaluate",
        path_str(&saved),
    ]);
    assert_failure(&output, &["--evaluate", path_str(&saved), "column `node`", "node 4 is out of range"]);
    let missing = dir.path().join("absent.csv");
    assert_failure(
        &orrery(&[&universe[..], &["--strategy", "lpt", "--evaluate", path_str(&missing)]].concat()),
        &["--evaluate", "absent.csv"],
    );
}

#[test]
fn premap_export_graph_writes_the_shared_systems_for_other_partitioners() {
    let dir = tempfile::tempdir().unwrap();
    let graph = dir.path().join("shared.graph");
    let lpt_on_12 = ["premap", "--generate-systems", "300", "--nodes", "12", "--strategy", "lpt", "--markdown"];
    let output = orrery(&[&lpt_on_12[..], &["--export-graph", path_str(&graph)]].concat());
    assert_success(&output);
    let dedicated = markdown_columns(&stdout(&output))[0].1[4].parse::<usize>().expect("a dedicated node count");
    assert!(dedicated > 0, "the test needs a dedicated node");
    let text = std::fs::read_to_string(&graph).expect("the graph file exists");
    let comment = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("% {key}"))).unwrap_or_else(|| panic!("no `% {key}`"))
    };
    assert_eq!(comment("parts ").trim(), (12 - dedicated).to_string());
    assert_eq!(comment("dedicated").split_whitespace().count(), dedicated);
    let header = text.lines().find(|l| !l.starts_with('%')).expect("a header line");
    assert_eq!(header.split_whitespace().next(), Some((300 - dedicated).to_string().as_str()));
    assert_eq!(comment("systems").split_whitespace().count(), 300 - dedicated);
}

#[test]
fn premap_svg_writes_a_picture() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("map.svg");
    let output =
        orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--strategy", "rcb", "--svg", path_str(&svg)]);
    assert_success(&output);
    let text = std::fs::read_to_string(&svg).expect("the SVG file exists");
    let start = text.trim_start();
    assert!(start.starts_with("<svg") || start.starts_with("<?xml"), "{}", &text[..text.len().min(200)]);
    assert!(text.trim_end().ends_with("</svg>"), "the SVG is complete");
}

#[test]
fn premap_sweep_compares_best_and_metis_at_each_imbalance_and_draws_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("tradeoff.svg");
    let output = orrery(&[
        "premap",
        "--generate-systems",
        "300",
        "--nodes",
        "5",
        "--sweep",
        "0,5,20",
        "--chart",
        path_str(&chart),
    ]);
    assert_success(&output);
    let out = stdout(&output);
    let header = out.lines().find(|l| l.contains("run")).unwrap_or_else(|| panic!("no header row:\n{out}"));
    for column in ["max / mean, shared nodes", "stargates cut", "fragmented nodes", "mean spread (ly)"] {
        assert!(header.contains(column), "no `{column}` column:\n{out}");
    }
    let mut runs = vec!["lpt", "rcb", "best 0%", "best 5%", "best 20%"];
    if Strategy::Metis.is_available() {
        runs.push("metis 5%");
    }
    for run in runs {
        assert!(out.lines().any(|l| l.split('┆').next().is_some_and(|c| c.contains(run))), "no `{run}` row:\n{out}");
    }
    let text = std::fs::read_to_string(&chart).expect("the chart exists");
    assert!(text.trim_end().ends_with("</svg>"), "the chart is complete");
    assert!(text.contains("best 20%: max/mean"), "the chart has a tooltip for every point");
    // The sweep takes one mapping per column: --svg and --out have nothing to draw or write.
    let refused = orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--sweep", "1", "--svg", "x.svg"]);
    assert!(!refused.status.success());
    let refused = orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--imbalance", "-3"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--imbalance"), "names the flag");
}

#[test]
fn premap_single_strategy_on_files_with_a_load_fingerprint() {
    let t = tiny();
    let load = t.dir.path().join("load.csv");
    std::fs::write(&load, "system_id,cpu\n30000001,1\n30000002,1\n30000003,1\n30000004,1\n").unwrap();
    let out = t.dir.path().join("mapping.csv");
    let output = orrery(&[
        "premap",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--load",
        path_str(&load),
        "--nodes",
        "2",
        "--strategy",
        "best",
        "--out",
        path_str(&out),
    ]);
    assert_success(&output);
    assert!(stdout(&output).contains("4 systems, 3 stargates"), "{}", stdout(&output));
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    // Only k-space by default: the wormhole is not mapped. A path of four equal systems on two nodes: 1–2 | 3–4.
    let mut rows_sorted = rows.clone();
    rows_sorted.sort_unstable();
    let node_of = |id: &str| rows_sorted.iter().find(|r| r.starts_with(id)).unwrap().split(',').nth(1).unwrap();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(node_of("30000001"), node_of("30000002"), "{text}");
    assert_eq!(node_of("30000003"), node_of("30000004"), "{text}");
    assert_ne!(node_of("30000001"), node_of("30000004"), "{text}");
}

#[test]
fn premap_kinds_selects_which_systems_are_mapped() {
    let t = tiny();
    let out = t.dir.path().join("mapping.csv");
    let output = orrery(&[
        "premap",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--kinds",
        "kspace,wspace",
        "--nodes",
        "2",
        "--strategy",
        "lpt",
        "--out",
        path_str(&out),
    ]);
    assert_success(&output);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    assert!(text.contains("31000001,"), "{text}");
}

/// `--kicks` sets how many kicks per node `best` spends on the cut; out of range it is refused, naming the flag
/// (and so is `orrery run --premap-kicks`).
#[test]
fn premap_kicks_are_taken_and_bounded() {
    let output = orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--kicks", "2"]);
    assert_success(&output);
    assert!(stdout(&output).contains("stargates cut"), "{}", stdout(&output));
    for bad in ["1001", "-1", "many"] {
        let refused = orrery(&["premap", "--generate-systems", "300", "--nodes", "5", "--kicks", bad]);
        assert_failure(&refused, &["--kicks"]);
    }
    // `orrery run` takes the same bound for the premap it makes at start-up (refused before anything starts).
    assert_failure(&orrery(&["run", "--premap-kicks", "1001"]), &["--premap-kicks"]);
}

#[test]
fn premap_regions_are_taken_and_bounded() {
    for good in ["0", "3"] {
        assert_success(&orrery(&[&FIVE_NODES_OF_300[..], &["--regions", good]].concat()));
    }
    for bad in ["1", "17", "-2", "many"] {
        assert_failure(&orrery(&[&FIVE_NODES_OF_300[..], &["--regions", bad]].concat()), &["--regions"]);
    }
    assert_failure(&orrery(&["run", "--premap-regions", "1"]), &["--premap-regions"]);
}

#[test]
fn premap_zero_nodes_is_refused() {
    let output = orrery(&["premap", "--generate-systems", "300", "--nodes", "0"]);
    assert_failure(&output, &["--nodes 0"]);
}

#[test]
fn premap_more_nodes_than_systems_is_refused() {
    let output = orrery(&["premap", "--generate-systems", "300", "--nodes", "100000"]);
    assert_failure(&output, &["--nodes 100000", "300"]);
}

/// `orrery premap` on the tiny universe with a load file, onto 2 nodes.
fn premap_tiny_with_load(t: &Tiny, load: &std::path::Path) -> std::process::Output {
    orrery(&[
        "premap",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--load",
        path_str(load),
        "--nodes",
        "2",
    ])
}

#[test]
fn premap_bad_load_file_names_the_file_and_line() {
    let t = tiny();
    let load = t.dir.path().join("bad-load.csv");
    std::fs::write(&load, "system_id,cpu\n30000001,1\n30000002,-7\n30000003,1\n").unwrap();
    let output = premap_tiny_with_load(&t, &load);
    assert_failure(&output, &["bad-load.csv", "line 3", "cpu"]);
}

#[test]
fn premap_load_naming_an_unknown_system_is_refused() {
    let t = tiny();
    let load = t.dir.path().join("load.csv");
    std::fs::write(&load, "system_id,cpu\n30000001,1\n39999999,1\n").unwrap();
    let output = premap_tiny_with_load(&t, &load);
    assert_failure(&output, &["load.csv", "line 3", "39999999"]);
}

#[test]
fn premap_missing_systems_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let systems = dir.path().join("no-such-systems.csv");
    let jumps = dir.path().join("no-such-jumps.csv");
    let output = orrery(&["premap", "--systems", path_str(&systems), "--jumps", path_str(&jumps), "--nodes", "2"]);
    assert_failure(&output, &["no-such-systems.csv"]);
}

#[test]
fn premap_bad_systems_file_names_the_file_and_line() {
    let t = tiny();
    std::fs::write(
        &t.systems,
        "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,0.5\n2,B,2,3,NaN,0,0,0.5\n",
    )
    .unwrap();
    std::fs::write(&t.jumps, "from_system_id,to_system_id\n").unwrap();
    let output = orrery(&["premap", "--systems", path_str(&t.systems), "--jumps", path_str(&t.jumps), "--nodes", "1"]);
    assert_failure(&output, &["systems.csv", "line 3", "`x`"]);
}

#[test]
fn premap_unknown_strategy_is_refused() {
    let output = orrery(&["premap", "--generate-systems", "50", "--nodes", "2", "--strategy", "foo"]);
    assert_failure(&output, &["foo", "best"]);
}

#[test]
fn premap_unknown_kind_is_refused() {
    let output = orrery(&["premap", "--generate-systems", "50", "--nodes", "2", "--kinds", "bogus"]);
    assert_failure(&output, &["bogus", "--kinds"]);
}

#[test]
fn premap_kind_with_no_systems_is_refused() {
    // A generated universe is all k-space.
    let output = orrery(&["premap", "--generate-systems", "50", "--nodes", "2", "--kinds", "wspace"]);
    assert_failure(&output, &["wspace"]);
}

// ---------------------------------------------------------------------------------------------------------------
// fingerprint
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn fingerprint_turns_activity_into_loads() {
    let t = tiny();
    let activity = t.dir.path().join("activity.csv");
    std::fs::write(
        &activity,
        "system_id,ship_jumps,ship_kills,npc_kills,pod_kills,snapshot_date\n\
         30000001,200,4,100,2,2024-06-17\n\
         30000003,10,0,0,0,2024-06-17\n",
    )
    .unwrap();
    let output = orrery(&[
        "fingerprint",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--activity",
        path_str(&activity),
    ]);
    assert_success(&output);
    let out = stdout(&output);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("system_id,cpu,mem"));
    let rows: Vec<(u32, f64, f64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "bad row `{l}`");
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    // Only k-space is written by default, in file order.
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [30000001, 30000002, 30000003, 30000004]);
    let w = ActivityWeights::default();
    let expected = [
        w.base + 200.0 * w.per_ship_jump + 4.0 * w.per_ship_kill + 100.0 * w.per_npc_kill + 2.0 * w.per_pod_kill,
        w.base,
        w.base + 10.0 * w.per_ship_jump,
        w.base,
    ];
    for (row, want) in rows.iter().zip(expected) {
        assert!((row.1 - want).abs() < 1e-9, "system {}: cpu {} vs {want}", row.0, row.1);
        assert!(row.2.is_finite() && row.2 >= 0.0);
    }

    // --out writes the same to a file.
    let file = t.dir.path().join("fingerprint.csv");
    let output = orrery(&[
        "fingerprint",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--activity",
        path_str(&activity),
        "--out",
        path_str(&file),
    ]);
    assert_success(&output);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), out);
}

#[test]
fn fingerprint_output_feeds_premap() {
    let t = tiny();
    let activity = t.dir.path().join("activity.csv");
    std::fs::write(&activity, "system_id,ship_jumps,ship_kills,npc_kills,pod_kills\n30000002,5000,0,0,0\n").unwrap();
    let fingerprint = t.dir.path().join("fingerprint.csv");
    let files = ["--systems", path_str(&t.systems), "--jumps", path_str(&t.jumps)];
    let mut args = vec!["fingerprint"];
    args.extend(files);
    args.extend(["--activity", path_str(&activity), "--out", path_str(&fingerprint)]);
    assert_success(&orrery(&args));
    let mapping = t.dir.path().join("mapping.csv");
    let mut args = vec!["premap"];
    args.extend(files);
    args.extend(["--load", path_str(&fingerprint), "--nodes", "2", "--out", path_str(&mapping)]);
    assert_success(&orrery(&args));
    // System 30000002 carries 251 load units against 3 for the rest: it gets a node of its own.
    let text = std::fs::read_to_string(&mapping).unwrap();
    let rows: Vec<(&str, &str)> = text.lines().skip(1).map(|l| l.split_once(',').unwrap()).collect();
    let heavy_node = rows.iter().find(|r| r.0 == "30000002").unwrap().1;
    assert_eq!(rows.iter().filter(|r| r.1 == heavy_node).count(), 1, "{text}");
}

#[test]
fn fingerprint_bad_activity_names_the_file_and_line() {
    let t = tiny();
    let activity = t.dir.path().join("bad-activity.csv");
    std::fs::write(
        &activity,
        "system_id,ship_jumps,ship_kills,npc_kills,pod_kills\n30000001,1,1,1,1\n30000002,x,1,1,1\n",
    )
    .unwrap();
    let output = orrery(&[
        "fingerprint",
        "--systems",
        path_str(&t.systems),
        "--jumps",
        path_str(&t.jumps),
        "--activity",
        path_str(&activity),
    ]);
    assert_failure(&output, &["bad-activity.csv", "line 3", "ship_jumps"]);
}

#[test]
fn fingerprint_requires_an_activity_file() {
    let output = orrery(&["fingerprint", "--generate-systems", "50"]);
    assert_failure(&output, &["--activity"]);
}

#[test]
fn bench_chat_help_lists_the_race_options() {
    let output = orrery(&["bench", "chat", "--help"]);
    assert_success(&output);
    let help = stdout(&output);
    for option in ["--target", "--clients", "--bytes", "--sweep", "--idle", "blast-orrery", "--server-cpu"] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    assert!(!help.contains("--fake-server"), "the internal flag is hidden:\n{help}");
}

#[test]
fn bench_chat_refuses_bad_arguments_clearly() {
    assert_failure(&orrery(&["bench", "chat", "--bytes", "5"]), &["--bytes", "5"]);
    assert_failure(&orrery(&["bench", "chat", "--target", "telnet"]), &["telnet", "orrery", "irc"]);
    assert_failure(&orrery(&["bench", "chat", "--idle", "lots"]), &["lots", "max"]);
    // Checked before connecting to anything: more idle clients than file descriptors.
    let output = orrery(&["bench", "chat", "--target", "irc", "--connect", "127.0.0.1:9", "--idle", "10000,5000000"]);
    assert_failure(&output, &["5000000 idle clients need", "RLIMIT_NOFILE hard limit is", "ulimit -Hn"]);
    assert_failure(&orrery(&["bench", "chat", "--target", "irc", "--connect", "10.0.0.1:6667"]), &["loopback"]);
}
