//! Region re-solving (step 11 of `best`, asked for with `Options::region_nodes`): a node and the nodes it shares
//! the most gates with, merged and mapped again by `best` itself, the new borders kept where they cut fewer
//! gates.
//!
//! Recombination (step 9) and kicks (step 10) redraw borders one pair of nodes at a time, and a pair alone is
//! mostly at its best by then (a flow-based pair refinement found nothing more, docs/premap.md). A region of
//! several nodes can move a border across three or four nodes at once — the k-way structure that pairwise
//! steps do not reach. It is a large-neighbourhood search with `best` as the solver of each neighbourhood.

use std::collections::HashSet;

use super::best;
use super::refine::Refiner;
use crate::Options;
use crate::subset::Subset;

/// How much larger the region's mean spread may grow for a new mapping that cuts fewer gates. Measured
/// 2026-12-03 with regions of 5 nodes (cut gates and mean spread of the whole): with no growth allowed, 892 and
/// 4.23 ly at 250 EVE nodes, 363 and 6.93 at 64; with any growth, 837 and 4.81, 348 and 7.22; with 5%, 873 and
/// 4.22, 355 and 6.96 — fewer gates than without regions and no larger spread (916 and 4.28, 365 and 6.98; on the
/// generated universe at 64 nodes 4.08 instead of 4.07 ly).
const SPREAD_TOLERANCE: f64 = 1.05;

/// Rounds of regions at most: each round tries every node's region again where something in it changed, and
/// the rounds stop early once one keeps nothing. Measured 2026-12-03 (regions of 5 nodes with kicks inside; cut
/// gates after rounds 1, 2, 3): 64 EVE nodes 345, 338, 335; 24 EVE nodes 176, 173, 173; 250 EVE nodes (gates
/// between shared nodes) 844, 832, 823.
const ROUNDS: usize = 4;

/// Maps each region of `region_nodes` nodes again, in node order: node `v` with the `region_nodes - 1` nodes it
/// shares the most gates with (ties to the lower number). The new mapping of a region is kept only if it cuts
/// fewer gates inside the region (the gates leaving it are cut either way), leaves every node of the region
/// within `cap` and not empty, gives the region neither more extra pieces nor more nodes in pieces (counted as
/// the metrics count them), and leaves its mean spread within [`SPREAD_TOLERANCE`] of what it was. Up to
/// [`ROUNDS`] rounds, while a round keeps something; a region whose systems lie exactly as when it was last
/// turned down is not tried again (`best` is deterministic, so it would be turned down again).
pub(crate) fn resolve(subset: &Subset<'_>, mut part: Vec<u32>, k: usize, cap: f64, region_nodes: usize) -> Vec<u32> {
    let universe = subset.universe;
    let (load, local_of) = subset.by_universe_index();
    // Pieces in different parts of the universe (no gate between them) could not have been joined: they are
    // not counted as pieces, as in the metrics.
    let component = subset.component_labels();
    let mut turned_down: HashSet<Vec<(usize, u32)>> = HashSet::new();
    for _ in 0..ROUNDS {
        let mut kept = false;
        for node in 0..k as u32 {
            let region = region_of(subset, &part, k, node, region_nodes);
            if region.len() < 2 || region.len() >= k {
                // A region of all nodes is the whole mapped again by the same function: nothing to gain.
                continue;
            }
            let mut keep = vec![false; universe.len()];
            for (v, &p) in part.iter().enumerate() {
                keep[subset.global[v]] = region.contains(&p);
            }
            let inside = Subset::new(universe, &load, &keep);
            let position = |p: u32| region.iter().position(|&r| r == p).unwrap_or_default() as u32;
            let old: Vec<u32> = inside.global.iter().map(|&g| position(part[local_of[g]])).collect();
            let layout: Vec<(usize, u32)> = inside.global.iter().map(|&g| (g, part[local_of[g]])).collect();
            if turned_down.contains(&layout) {
                continue;
            }
            match remap(&inside, &old, region.len(), &local_of, &component, cap) {
                Some(new) => {
                    for (i, &global) in inside.global.iter().enumerate() {
                        part[local_of[global]] = region[new[i] as usize];
                    }
                    kept = true;
                }
                None => {
                    turned_down.insert(layout);
                }
            }
        }
        if !kept {
            break;
        }
    }
    part
}

/// The region's new mapping by `best` (its own kicks included), if it is to be kept (see [`resolve`]).
fn remap(
    inside: &Subset<'_>,
    old: &[u32],
    m: usize,
    local_of: &[usize],
    component: &[usize],
    cap: f64,
) -> Option<Vec<u32>> {
    // `best` on the region aims at the larger of the region's own LPT balance and the whole's cap.
    let ideal = inside.load.iter().sum::<f64>() / m as f64;
    let options =
        Options { imbalance: Some((cap / ideal - 1.0).max(0.0)), kicks_per_node: None, region_nodes: Some(0) };
    let new = best::partition(inside, m, &options);
    let components: Vec<usize> = inside.global.iter().map(|&g| component[local_of[g]]).collect();
    let (new_pieces, new_in_pieces) = extra_pieces(inside, &new, m, &components);
    let (old_pieces, old_in_pieces) = extra_pieces(inside, old, m, &components);
    let (new_cut, old_cut) = (inside.cut(&new), inside.cut(old));
    let (new_spread, old_spread) = (spread(inside, &new, m), spread(inside, old, m));
    let better = new_cut < old_cut
        && new_spread <= old_spread * SPREAD_TOLERANCE
        && fits(inside, &new, m, cap)
        && new_pieces <= old_pieces
        && new_in_pieces <= old_in_pieces;
    better.then_some(new)
}

/// `node` and the nodes it shares the most gates with, at most `region_nodes` in all.
fn region_of(subset: &Subset<'_>, part: &[u32], k: usize, node: u32, region_nodes: usize) -> Vec<u32> {
    let mut shared = vec![0usize; k];
    for (v, &p) in part.iter().enumerate() {
        if p == node {
            for &w in subset.neighbours(v) {
                if part[w] != node {
                    shared[part[w] as usize] += 1;
                }
            }
        }
    }
    let mut touching: Vec<u32> = (0..k as u32).filter(|&q| shared[q as usize] > 0).collect();
    touching.sort_by_key(|&q| (std::cmp::Reverse(shared[q as usize]), q));
    touching.truncate(region_nodes.saturating_sub(1));
    std::iter::once(node).chain(touching).collect()
}

/// Whether every one of the `m` nodes of `part` is within `cap` (to a part in 10⁹) and not empty.
fn fits(inside: &Subset<'_>, part: &[u32], m: usize, cap: f64) -> bool {
    let mut node_load = vec![0.0; m];
    let mut systems = vec![0usize; m];
    for (v, &p) in part.iter().enumerate() {
        node_load[p as usize] += inside.load[v];
        systems[p as usize] += 1;
    }
    node_load.iter().all(|&l| l <= cap * (1.0 + 1e-9)) && systems.iter().all(|&s| s > 0)
}

/// (extra pieces, nodes in pieces) of the `m` nodes of `part`, as the metrics count them: a node's pieces beyond
/// one per part of the universe it spans (`component` of each system).
fn extra_pieces(inside: &Subset<'_>, part: &[u32], m: usize, component: &[usize]) -> (usize, usize) {
    let mut refiner = Refiner::new(inside, part.to_vec(), vec![f64::INFINITY; m]);
    let mut spanned: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (v, &p) in part.iter().enumerate() {
        spanned[p as usize].push(component[v]);
    }
    let extra: Vec<usize> = (0..m)
        .map(|p| {
            spanned[p].sort_unstable();
            spanned[p].dedup();
            refiner.piece_count(p as u32).saturating_sub(spanned[p].len())
        })
        .collect();
    (extra.iter().sum(), extra.iter().filter(|&&e| e > 0).count())
}

/// The mean spread of the `m` nodes of `part` (the metrics' measure).
fn spread(inside: &Subset<'_>, part: &[u32], m: usize) -> f64 {
    let mut members = vec![Vec::new(); m];
    for (v, &p) in part.iter().enumerate() {
        members[p as usize].push(v);
    }
    crate::metrics::mean_spread(&members, |v| inside.position[v])
}
