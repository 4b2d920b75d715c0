//! The numbers an operator judges a mapping by.

use orrery_universe::{LIGHT_YEAR_M, Universe, Vec3};

use crate::{Mapping, dedicated_systems};

/// Quality of a mapping. Balance figures are ratios (1.0 is perfect); locality figures are counts or distances
/// (lower is better).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Load of each node.
    pub node_loads: Vec<f64>,
    /// Whether each node hosts a system that the dedicated-node rule gives a node of its own.
    pub dedicated: Vec<bool>,
    /// Heaviest node over the mean node.
    pub max_over_mean: f64,
    /// Heaviest node over the best any mapping could do: `max(total / nodes, heaviest system)`.
    pub max_over_bound: f64,
    /// Heaviest over mean among the nodes without a dedicated system: how well the shared nodes are balanced.
    pub shared_max_over_mean: f64,
    /// Standard deviation of node loads over their mean.
    pub coefficient_of_variation: f64,
    /// Stargates whose two systems are on different nodes: each is a cross-node jump.
    pub cut_gates: usize,
    /// Nodes whose systems form more than one piece of the stargate graph where the pieces could have been one
    /// (pieces in different unconnected parts of the universe do not count).
    pub fragmented_nodes: usize,
    /// Pieces beyond the first, summed over nodes, counted the same way.
    pub extra_pieces: usize,
    /// Mean over nodes of the mean distance of a node's systems from their centre, in light years.
    pub mean_spread_ly: f64,
}

/// Computes every metric of `mapping` for `universe` with per-system `load`.
pub fn evaluate(universe: &Universe, load: &[f64], mapping: &Mapping) -> Metrics {
    let nodes = mapping.nodes();
    let members = mapping.members();
    let node_loads: Vec<f64> = members.iter().map(|m| m.iter().map(|&s| load[s]).sum()).collect();
    let mut dedicated = vec![false; nodes];
    for s in dedicated_systems(load, nodes) {
        dedicated[mapping.node_of(s)] = true;
    }
    let total: f64 = node_loads.iter().sum();
    let mean = total / nodes as f64;
    let max = node_loads.iter().copied().fold(0.0, f64::max);
    let heaviest = load.iter().copied().fold(0.0, f64::max);
    let bound = (total / nodes as f64).max(heaviest);
    let shared: Vec<f64> = (0..nodes).filter(|&n| !dedicated[n]).map(|n| node_loads[n]).collect();
    let shared_mean = shared.iter().sum::<f64>() / shared.len().max(1) as f64;
    let shared_max = shared.iter().copied().fold(0.0, f64::max);
    let variance = node_loads.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / nodes as f64;
    let mut component = vec![0usize; universe.len()];
    for (c, piece) in universe.components().iter().enumerate() {
        for &s in piece {
            component[s] = c;
        }
    }
    let (fragmented_nodes, extra_pieces) =
        fragmentation(&members, |s| mapping.node_of(s), |s| universe.neighbours(s), &component);
    Metrics {
        max_over_mean: ratio(max, mean),
        max_over_bound: ratio(max, bound),
        shared_max_over_mean: ratio(shared_max, shared_mean),
        coefficient_of_variation: ratio(variance.sqrt(), mean),
        cut_gates: universe.gates().filter(|&(a, b)| mapping.node_of(a) != mapping.node_of(b)).count(),
        fragmented_nodes,
        extra_pieces,
        mean_spread_ly: mean_spread(&members, |s| universe.system(s).position) / LIGHT_YEAR_M,
        node_loads,
        dedicated,
    }
}

/// `a / b`, with 0/0 read as 1.0 (all-zero loads are perfectly balanced) and x/0 as infinity.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else if a > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

/// (nodes with avoidable extra pieces, total avoidable extra pieces) of the nodes whose systems are `members`
/// (`node_of` each system): a node's pieces along `neighbours` beyond one per connected part of the graph it
/// spans (`component` of each system), since pieces in parts no gate joins could not have been one. `best`'s
/// regions (step 11) count pieces the same way.
pub(crate) fn fragmentation<'g>(
    members: &[Vec<usize>],
    node_of: impl Fn(usize) -> usize,
    neighbours: impl Fn(usize) -> &'g [usize],
    component: &[usize],
) -> (usize, usize) {
    let mut seen = vec![false; component.len()];
    let mut fragmented = 0;
    let mut extra = 0;
    for (node, systems) in members.iter().enumerate() {
        // Pieces of this node per universe component.
        let mut pieces_in: std::collections::BTreeMap<usize, usize> = Default::default();
        for &start in systems {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            *pieces_in.entry(component[start]).or_default() += 1;
            let mut stack = vec![start];
            while let Some(v) = stack.pop() {
                for &w in neighbours(v) {
                    if !seen[w] && node_of(w) == node {
                        seen[w] = true;
                        stack.push(w);
                    }
                }
            }
        }
        let node_extra: usize = pieces_in.values().map(|&p| p - 1).sum();
        if node_extra > 0 {
            fragmented += 1;
            extra += node_extra;
        }
    }
    (fragmented, extra)
}

/// The mean over non-empty nodes of the mean distance of a node's systems from their centre (in metres), for
/// `members` (each node's systems) at `position` of a system. `best`'s kicks judge compactness by it too.
pub(crate) fn mean_spread(members: &[Vec<usize>], position: impl Fn(usize) -> Vec3) -> f64 {
    let spreads: Vec<f64> = members
        .iter()
        .filter(|m| !m.is_empty())
        .map(|m| {
            let n = m.len() as f64;
            let centre = m.iter().fold(Vec3::ZERO, |acc, &s| acc + position(s)) * (1.0 / n);
            m.iter().map(|&s| position(s).distance(centre)).sum::<f64>() / n
        })
        .collect();
    spreads.iter().sum::<f64>() / spreads.len().max(1) as f64
}
