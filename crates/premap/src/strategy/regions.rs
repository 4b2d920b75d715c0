//! Region re-solving (step 11 of `best`; `Options::region_nodes`): a node and the nodes it shares the most gates
//! with, merged and mapped again by `best` itself, the new borders kept where they cut fewer gates, then where
//! they make nodes more compact without cutting more.
//!
//! Recombination (step 9) and kicks (step 10) redraw borders one pair of nodes at a time, and a pair alone is
//! mostly at its best by then (a flow-based pair refinement found nothing more, docs/premap.md). A region of
//! several nodes can move a border across three or four nodes at once — the k-way structure that pairwise
//! steps do not reach. It is a large-neighbourhood search with `best` as the solver of each neighbourhood.

use std::collections::HashSet;

use super::best;
use crate::Options;
use crate::mapping::members_of;
use crate::metrics::{fragmentation, mean_spread};
use crate::subset::Subset;

/// How much larger the region's mean spread may grow for a new mapping that cuts fewer gates. Measured
/// 2026-12-03 with regions of 5 nodes (cut gates and mean spread of the whole): with no growth allowed, 892 and
/// 4.23 ly at 250 EVE nodes, 363 and 6.93 at 64; with any growth, 837 and 4.81, 348 and 7.22; with 5%, 873 and
/// 4.22, 355 and 6.96 — fewer gates than without regions and no larger spread (916 and 4.28, 365 and 6.98; on the
/// generated universe at 64 nodes 4.08 instead of 4.07 ly).
const SPREAD_TOLERANCE: f64 = 1.05;

/// Rounds aimed at fewer cut gates, at most: each round tries every node's region again where something in it
/// changed, and the rounds stop early once one keeps nothing. Measured 2026-12-03 (regions of 5 nodes with the
/// region's own kicks; gates between shared nodes after each round): 64 EVE nodes 345, 338, 335, 335; 24 EVE
/// nodes 181, 178, 172, 171; 250 EVE nodes 844, 832, 823.
const CUT_ROUNDS: usize = 4;

/// Rounds aimed at compact nodes, at most, after those for the cut: a region's new mapping is kept if it cuts no
/// more gates and has a smaller mean spread — a walk along the plateau of equal cuts, as the kicks of step 10
/// take, which also opens new cuts to later regions. Measured 2026-12-03 (cut gates and mean spread after the
/// cut rounds, then after 1, 3 and 6 rounds): 64 EVE nodes 335 and 6.90 ly, 334 and 6.43, 331 and 6.06, 330 and
/// 5.96 (METIS 342 and 6.29; balance 1.0014, LPT 1.0015); 24 EVE nodes 171 and 8.20, 171 and 8.07, then 7.82
/// after 6; generated universe at 24 nodes 86 and 6.12, then 83 and 6.10; at 64 unchanged (231, 4.08). Each
/// round costs about as much as one aimed at the cut.
const SPREAD_ROUNDS: usize = 3;

/// What a round of regions looks for in a region's new mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    /// Fewer cut gates inside the region, the mean spread growing by at most [`SPREAD_TOLERANCE`].
    FewerGates,
    /// No more cut gates, a smaller mean spread.
    SmallerSpread,
}

/// Maps each region of `region_nodes` nodes again, in node order: node `v` with the `region_nodes - 1` nodes it
/// shares the most gates with (ties to the lower number). A region's new mapping is kept only if it meets the
/// round's [`Aim`] (the gates leaving the region are cut either way), leaves every node of the region within
/// `cap` and not empty, and gives the region neither more extra pieces nor more nodes in pieces (counted as the
/// metrics count them). First up to [`CUT_ROUNDS`] rounds for the cut, then up to [`SPREAD_ROUNDS`] for
/// compact nodes, each while a round keeps something; within each, a region whose systems lie exactly as when
/// it was last turned down is not tried again (`best` is deterministic, so it would be turned down again).
pub(crate) fn resolve(subset: &Subset<'_>, mut part: Vec<u32>, k: usize, cap: f64, region_nodes: usize) -> Vec<u32> {
    let (load, local_of) = subset.by_universe_index();
    // Pieces in different parts of the universe (no gate between them) could not have been joined: they are
    // not counted as pieces, as in the metrics.
    let component = subset.component_labels();
    let regions = Regions { subset, load: &load, local_of: &local_of, component: &component, k, cap, region_nodes };
    for (aim, rounds) in [(Aim::FewerGates, CUT_ROUNDS), (Aim::SmallerSpread, SPREAD_ROUNDS)] {
        let mut turned_down = HashSet::new();
        for _ in 0..rounds {
            if !regions.round(&mut part, aim, &mut turned_down) {
                break;
            }
        }
    }
    part
}

/// What every region of one [`resolve`] shares.
struct Regions<'s, 'u> {
    subset: &'s Subset<'u>,
    /// Load by universe index, for the regions' own subsets.
    load: &'s [f64],
    /// Index in `subset` by universe index.
    local_of: &'s [usize],
    /// Part of the universe (connected component) of each system of `subset`.
    component: &'s [usize],
    k: usize,
    cap: f64,
    region_nodes: usize,
}

impl Regions<'_, '_> {
    /// One round: every node's region mapped again, kept where it meets `aim`. Whether anything was kept.
    fn round(&self, part: &mut [u32], aim: Aim, turned_down: &mut HashSet<Vec<(usize, u32)>>) -> bool {
        let (subset, local_of) = (self.subset, self.local_of);
        let mut kept = false;
        for node in 0..self.k as u32 {
            let region = region_of(subset, part, self.k, node, self.region_nodes);
            if region.len() < 2 || region.len() >= self.k {
                // A region of all nodes is the whole mapped again by the same function: nothing to gain.
                continue;
            }
            let mut keep = vec![false; subset.universe.len()];
            for (v, &p) in part.iter().enumerate() {
                keep[subset.global[v]] = region.contains(&p);
            }
            let inside = Subset::new(subset.universe, self.load, &keep);
            let layout: Vec<(usize, u32)> = inside.global.iter().map(|&g| (g, part[local_of[g]])).collect();
            if turned_down.contains(&layout) {
                continue;
            }
            let position = |p: u32| region.iter().position(|&r| r == p).unwrap_or_default() as u32;
            let old: Vec<u32> = layout.iter().map(|&(_, p)| position(p)).collect();
            match self.remap(&inside, &old, region.len(), aim) {
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
        kept
    }

    /// The region's new mapping by `best` (its own kicks included, no regions within), if it is to be kept.
    fn remap(&self, inside: &Subset<'_>, old: &[u32], m: usize, aim: Aim) -> Option<Vec<u32>> {
        // `best` on the region aims at the larger of the region's own LPT balance and the whole's cap.
        let ideal = inside.load.iter().sum::<f64>() / m as f64;
        let imbalance = Some((self.cap / ideal - 1.0).max(0.0));
        let new = best::partition(inside, m, &Options { imbalance, kicks_per_node: None, region_nodes: Some(0) });
        let (new_cut, old_cut) = (inside.cut(&new), inside.cut(old));
        let (new_spread, old_spread) = (spread(inside, &new, m), spread(inside, old, m));
        let aim_met = match aim {
            Aim::FewerGates => new_cut < old_cut && new_spread <= old_spread * SPREAD_TOLERANCE,
            Aim::SmallerSpread => new_cut <= old_cut && new_spread < old_spread,
        };
        if !aim_met || !fits(inside, &new, m, self.cap) {
            return None;
        }
        let components: Vec<usize> = inside.global.iter().map(|&g| self.component[self.local_of[g]]).collect();
        let pieces = |part: &[u32]| {
            fragmentation(&members_of(part, m), |v| part[v] as usize, |v| inside.neighbours(v), &components)
        };
        let ((new_in_pieces, new_pieces), (old_in_pieces, old_pieces)) = (pieces(&new), pieces(old));
        (new_pieces <= old_pieces && new_in_pieces <= old_in_pieces).then_some(new)
    }
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

/// The mean spread of the `m` nodes of `part` (the metrics' measure).
fn spread(inside: &Subset<'_>, part: &[u32], m: usize) -> f64 {
    mean_spread(&members_of(part, m), |v| inside.position[v])
}
