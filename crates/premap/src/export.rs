//! The premapper's problem handed to other graph partitioners: the stargate graph of the systems that share
//! nodes, in the METIS graph format that METIS, KaHIP, Mt-KaHyPar and Scotch all read. With
//! [`Mapping::from_csv`](crate::Mapping::from_csv) their answers come back to be judged by the same
//! [`evaluate`](crate::evaluate) as the strategies (`scripts/reference-partitioners.sh` does both).

use std::fmt::Write;

use orrery_universe::Universe;

use crate::PremapError;
use crate::strategy::{shared_systems, validate};

/// The graph of the systems that share nodes when `nodes` nodes are planned, as METIS graph-format text.
///
/// Every strategy first gives each system heavier than the per-node share of what remains a node of its
/// own ([`dedicated_systems`](crate::dedicated_systems)); another partitioner must get the same problem, so
/// those systems are left out. Comment lines (`%`, which the format's readers skip) say the rest:
/// - `% parts K` — how many parts to cut the graph into (the nodes left after the dedicated ones);
/// - `% systems ID…` — the system id of each vertex, in vertex order;
/// - `% dedicated ID…` — the dedicated systems, heaviest first: they take nodes `K`, `K + 1`, … in a
///   mapping file, the way [`premap`](crate::premap) numbers them.
///
/// Then the header `VERTICES EDGES 010` (vertex weights, no edge weights) and one line per vertex: its
/// weight — its load scaled to a whole number, all adding up to about 10⁸ — and its neighbours, counted
/// from 1.
///
/// ```
/// use orrery_premap::metis_graph;
/// use orrery_universe::{GeneratorConfig, LoadProfile, generate};
///
/// let universe = generate(&GeneratorConfig { systems: 200, ..GeneratorConfig::default() });
/// let load = LoadProfile::synthesise(&universe, 1).cpu(&universe);
/// let graph = metis_graph(&universe, &load, 4)?;
/// let header = graph.lines().find(|line| !line.starts_with('%')).unwrap();
/// assert!(header.ends_with(" 010"));
/// # Ok::<(), orrery_premap::PremapError>(())
/// ```
pub fn metis_graph(universe: &Universe, load: &[f64], nodes: usize) -> Result<String, PremapError> {
    validate(universe, load, nodes)?;
    let (dedicated, subset) = shared_systems(universe, load, nodes);
    let (start, adjacency) = subset.csr();
    let mut text = format!(
        "% orrery premap: the stargate graph of the {} systems sharing nodes when {nodes} are planned\n",
        subset.len()
    );
    // Writing to a String cannot fail.
    let _ = writeln!(text, "% parts {}", nodes - dedicated.len());
    id_line(&mut text, "systems", universe, &subset.global);
    id_line(&mut text, "dedicated", universe, &dedicated);
    let _ = writeln!(text, "{} {} 010", subset.len(), adjacency.len() / 2);
    for (vertex, weight) in subset.integer_weights().into_iter().enumerate() {
        let _ = write!(text, "{weight}");
        for &neighbour in &adjacency[start[vertex]..start[vertex + 1]] {
            let _ = write!(text, " {}", neighbour + 1);
        }
        text.push('\n');
    }
    Ok(text)
}

/// A comment line naming a list of systems by id.
fn id_line(text: &mut String, key: &str, universe: &Universe, systems: &[usize]) {
    let _ = write!(text, "% {key}");
    for &system in systems {
        let _ = write!(text, " {}", universe.system(system).id);
    }
    text.push('\n');
}
