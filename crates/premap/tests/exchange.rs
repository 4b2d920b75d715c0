//! Mappings in and out of the premapper: mapping files read back (`Mapping::from_csv`, what `orrery premap
//! --evaluate` judges) and the graph handed to other partitioners (`metis_graph`, `--export-graph`).

use std::collections::BTreeSet;

use orrery_premap::{Mapping, Strategy, dedicated_systems, evaluate, metis_graph, premap};
use orrery_universe::{GeneratorConfig, Input, LoadProfile, Universe, generate};

fn generated(systems: usize) -> (Universe, Vec<f64>) {
    let universe = generate(&GeneratorConfig { systems, ..GeneratorConfig::default() });
    let load = LoadProfile::synthesise(&universe, 1).cpu(&universe);
    (universe, load)
}

/// The CSV `orrery premap --out` writes for `mapping`.
fn mapping_csv(universe: &Universe, mapping: &Mapping) -> String {
    let mut text = String::from("system_id,node\n");
    for (index, system) in universe.systems().iter().enumerate() {
        text += &format!("{},{}\n", system.id, mapping.node_of(index));
    }
    text
}

fn read(text: &str, universe: &Universe, nodes: usize) -> Result<Mapping, String> {
    Mapping::from_csv(Input::new("mapping.csv", &mut text.as_bytes()), universe, nodes).map_err(|e| e.to_string())
}

#[test]
fn a_written_mapping_reads_back_as_the_same_mapping_in_any_row_order_and_with_extra_columns() {
    let (universe, load) = generated(400);
    let mapping = premap(&universe, &load, 7, Strategy::Best).expect("premaps");
    let text = mapping_csv(&universe, &mapping);
    assert_eq!(read(&text, &universe, 7), Ok(mapping.clone()));

    // Rows reversed, columns swapped, an extra column: the same mapping.
    let mut rows: Vec<&str> = text.lines().skip(1).collect();
    rows.reverse();
    let shuffled: String = std::iter::once("node,comment,system_id".to_string())
        .chain(rows.iter().map(|row| {
            let (id, node) = row.split_once(',').expect("two fields");
            format!("{node},x,{id}")
        }))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(read(&shuffled, &universe, 7), Ok(mapping));
}

#[test]
fn a_bad_mapping_file_is_refused_naming_file_line_and_column() {
    let (universe, load) = generated(60);
    let mapping = premap(&universe, &load, 3, Strategy::Lpt).expect("premaps");
    let good = mapping_csv(&universe, &mapping);
    let lines: Vec<&str> = good.lines().collect();
    let first_id = universe.system(0).id;
    let with_line = |line: usize, replacement: &str| {
        let mut edited = lines.clone();
        edited[line] = replacement;
        edited.join("\n")
    };
    let mut cases: Vec<(String, String)> = vec![
        (String::new(), "mapping.csv: the file is empty".to_string()),
        (
            good.replace("system_id,node", "system,node"),
            "mapping.csv, line 1: the header has no column `system_id`".to_string(),
        ),
        (
            good.replace("system_id,node", "system_id,host"),
            "mapping.csv, line 1: the header has no column `node`".to_string(),
        ),
        (
            with_line(3, "99999999,0"),
            "mapping.csv, line 4, column `system_id`: system 99999999 is not in the universe".to_string(),
        ),
        (
            with_line(3, &format!("{first_id},1")),
            format!("line 4, column `system_id`: system {first_id} appears again (first on line 2)"),
        ),
        (
            with_line(2, &format!("{},3", universe.system(1).id)),
            "mapping.csv, line 3, column `node`: node 3 is out of range: 3 nodes are 0..=2".to_string(),
        ),
        (
            with_line(2, &format!("{},-1", universe.system(1).id)),
            "mapping.csv, line 3, column `node`: `-1` is not a node number".to_string(),
        ),
        (
            with_line(2, &format!("{},one", universe.system(1).id)),
            "mapping.csv, line 3, column `node`: `one` is not a node number".to_string(),
        ),
        (
            with_line(2, &format!("{},", universe.system(1).id)),
            "mapping.csv, line 3, column `node`: empty cell".to_string(),
        ),
        (lines[..lines.len() - 2].join("\n"), "mapping.csv: 2 of the".to_string()),
    ];
    // With no nodes any node is out of range: the first row is refused.
    let first = mapping.node_of(0);
    cases.push((
        good.clone(),
        format!("mapping.csv, line 2, column `node`: node {first} is out of range: there are no nodes"),
    ));
    for (text, expected) in cases {
        let nodes = if expected.contains("no nodes") { 0 } else { 3 };
        let error = read(&text, &universe, nodes).expect_err(&expected);
        assert!(error.contains(&expected), "expected `{expected}` in: {error}");
    }
}

/// The graph file parsed back: parts, vertex system ids, dedicated ids, vertex weights and 0-based neighbours.
struct Graph {
    parts: usize,
    systems: Vec<u32>,
    dedicated: Vec<u32>,
    weights: Vec<i64>,
    neighbours: Vec<Vec<usize>>,
    edges: usize,
}

fn parse_graph(text: &str) -> Graph {
    let ids = |rest: &str| rest.split_whitespace().map(|w| w.parse().expect("a system id")).collect::<Vec<u32>>();
    let (mut parts, mut systems, mut dedicated) = (None, None, None);
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('%') {
            let comment = comment.trim_start();
            if let Some(rest) = comment.strip_prefix("parts ") {
                parts = Some(rest.trim().parse().expect("a part count"));
            } else if let Some(rest) = comment.strip_prefix("systems") {
                systems = Some(ids(rest));
            } else if let Some(rest) = comment.strip_prefix("dedicated") {
                dedicated = Some(ids(rest));
            }
        } else {
            rows.push(line.split_whitespace().map(|w| w.parse::<i64>().expect("a number")).collect::<Vec<_>>());
        }
    }
    let header = rows.remove(0);
    assert_eq!(header.len(), 3, "the header is VERTICES EDGES FORMAT");
    assert_eq!(header[2], 10, "format 010: vertex weights only");
    assert_eq!(rows.len(), header[0] as usize, "one line per vertex");
    let weights = rows.iter().map(|r| r[0]).collect();
    let neighbours = rows
        .iter()
        .map(|r| {
            r[1..]
                .iter()
                .map(|&v| {
                    assert!(v >= 1 && v <= header[0], "neighbour {v} outside 1..={}", header[0]);
                    (v - 1) as usize
                })
                .collect()
        })
        .collect();
    Graph {
        parts: parts.expect("a `% parts` line"),
        systems: systems.expect("a `% systems` line"),
        dedicated: dedicated.expect("a `% dedicated` line"),
        weights,
        neighbours,
        edges: header[1] as usize,
    }
}

#[test]
fn the_exported_graph_is_the_shared_systems_stargate_graph_and_a_partition_of_it_maps_back() {
    let (universe, load) = generated(400);
    let nodes = 12;
    let dedicated = dedicated_systems(&load, nodes);
    assert!(!dedicated.is_empty(), "the test needs a trade hub heavy enough for a node of its own");
    let graph = parse_graph(&metis_graph(&universe, &load, nodes).expect("exports"));

    // The parts and the dedicated systems, as every strategy has them.
    assert_eq!(graph.parts, nodes - dedicated.len());
    let dedicated_ids: Vec<u32> = dedicated.iter().map(|&d| universe.system(d).id.0).collect();
    assert_eq!(graph.dedicated, dedicated_ids);
    // Every other system is a vertex, once.
    let vertices: BTreeSet<u32> = graph.systems.iter().copied().collect();
    assert_eq!(vertices.len(), graph.systems.len(), "a system is a vertex twice");
    let all: BTreeSet<u32> = universe.systems().iter().map(|s| s.id.0).collect();
    let shared: BTreeSet<u32> = all.difference(&dedicated_ids.iter().copied().collect()).copied().collect();
    assert_eq!(vertices, shared);

    // The edges are exactly the gates between shared systems, each listed from both ends.
    let index = |id: u32| universe.index_of(orrery_universe::SystemId(id)).expect("a known system");
    let mut listed = BTreeSet::new();
    for (v, neighbours) in graph.neighbours.iter().enumerate() {
        for &w in neighbours {
            assert!(graph.neighbours[w].contains(&v), "edge {v}–{w} is listed from one end only");
            listed.insert((graph.systems[v].min(graph.systems[w]), graph.systems[v].max(graph.systems[w])));
        }
    }
    let gates: BTreeSet<(u32, u32)> = universe
        .gates()
        .map(|(a, b)| (universe.system(a).id.0, universe.system(b).id.0))
        .filter(|(a, b)| shared.contains(a) && shared.contains(b))
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    assert_eq!(listed, gates);
    assert_eq!(graph.edges, gates.len());

    // Weights in proportion to the loads, every one at least 1, adding up to about 10⁸.
    assert!(graph.weights.iter().all(|&w| w >= 1));
    let total_weight: i64 = graph.weights.iter().sum();
    assert!((total_weight - 100_000_000).abs() < graph.weights.len() as i64, "total weight {total_weight}");
    let total_load: f64 = graph.systems.iter().map(|&id| load[index(id)]).sum();
    for (v, &id) in graph.systems.iter().enumerate() {
        let expected = load[index(id)] / total_load * 1e8;
        assert!((graph.weights[v] as f64 - expected).abs() <= 1.0, "system {id}: weight {}", graph.weights[v]);
    }

    // A partition of the graph (here in vertex order, as any tool might return) maps back as the script does:
    // vertex v on its part, the dedicated systems on the nodes after the parts.
    let mut text = String::from("system_id,node\n");
    for (v, id) in graph.systems.iter().enumerate() {
        text += &format!("{id},{}\n", v * graph.parts / graph.systems.len());
    }
    for (offset, id) in graph.dedicated.iter().enumerate() {
        text += &format!("{id},{}\n", graph.parts + offset);
    }
    let mapping = read(&text, &universe, nodes).expect("the partition maps back");
    let metrics = evaluate(&universe, &load, &mapping);
    assert_eq!(metrics.dedicated.iter().filter(|&&d| d).count(), dedicated.len());
    assert!(metrics.node_loads.iter().all(|&l| l > 0.0), "no node is empty");
}

#[test]
fn exporting_for_an_impossible_node_count_is_refused() {
    let (universe, load) = generated(50);
    assert!(metis_graph(&universe, &load, 0).is_err());
    assert!(metis_graph(&universe, &load, universe.len() + 1).is_err());
}
