//! Region re-solving (step 11 of `best`; `Options::region_nodes`): a node and the nodes it shares the most gates
//! with, merged and mapped again by `best`'s steps 1–10, the new borders kept where they cut fewer gates, then where
//! they make nodes more compact without cutting more.
//!
//! Recombination (step 9) and kicks (step 10) redraw borders one pair of nodes at a time, and a pair alone is
//! mostly at its best by then (a flow-based pair refinement found nothing more, docs/premap.md). A region of
//! several nodes can move a border across three or four nodes at once — the k-way structure that pairwise
//! steps do not reach. It is a large-neighbourhood search: [`resolve`] is handed the solver of each
//! neighbourhood (`best`'s steps 1–10, `best::solve_region`) as a function, so this module needs nothing of
//! `best` and `best` does not call itself.

use std::collections::HashSet;

use crate::mapping::members_of;
use crate::metrics::{fragmentation, mean_spread};
use crate::progress::Progress;
use crate::subset::Subset;

/// Maps a region again: `(region, m, cap)` → a part in `0..m` for each system of `region`, every node within
/// `cap` where it can. Deterministic, so a region turned down once would be turned down again.
pub(crate) type RegionSolver<'f> = &'f dyn Fn(&Subset<'_>, usize, f64) -> Vec<u32>;

/// How much larger the region's mean spread may grow for a new mapping that cuts fewer gates: a little, so that
/// regions cut fewer gates without making nodes less compact.
const SPREAD_TOLERANCE: f64 = 1.05;

/// Rounds aimed at fewer cut gates, at most: each round tries every node's region again where something in it
/// changed, and the rounds stop early once one keeps nothing; later rounds found less and less.
const CUT_ROUNDS: usize = 4;

/// Rounds aimed at compact nodes, at most, after those for the cut: a region's new mapping is kept if it cuts no
/// more gates and has a smaller mean spread — a walk along the plateau of equal cuts, as the kicks of step 10
/// take, which also opens new cuts to later regions. Each round costs about as much as one aimed at the cut.
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
/// it was last turned down is not tried again (`solve` is deterministic, so it would be turned down again).
/// `progress` hears of each region before it is mapped.
pub(crate) fn resolve(
    subset: &Subset<'_>,
    mut part: Vec<u32>,
    k: usize,
    cap: f64,
    region_nodes: usize,
    solve: RegionSolver<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Vec<u32> {
    let (load, local_of) = subset.by_universe_index();
    // Pieces in different parts of the universe (no gate between them) could not have been joined: they are
    // not counted as pieces, as in the metrics.
    let component = subset.component_labels();
    let regions =
        Regions { subset, load: &load, local_of: &local_of, component: &component, k, cap, region_nodes, solve };
    let all_rounds = CUT_ROUNDS + SPREAD_ROUNDS;
    let mut rounds_before = 0;
    for (aim, rounds) in [(Aim::FewerGates, CUT_ROUNDS), (Aim::SmallerSpread, SPREAD_ROUNDS)] {
        let mut turned_down = HashSet::new();
        for round in 0..rounds {
            let mut report = |region: usize| {
                progress(Progress::Regions {
                    round: rounds_before + round + 1,
                    rounds: all_rounds,
                    region: region + 1,
                    regions: k,
                });
            };
            if !regions.round(&mut part, aim, &mut turned_down, &mut report) {
                break;
            }
        }
        rounds_before += rounds;
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
    /// Maps a region again.
    solve: RegionSolver<'s>,
}

impl Regions<'_, '_> {
    /// One round: every node's region mapped again, kept where it meets `aim`. Whether anything was kept.
    /// `report` hears of each node's region before it is looked at.
    fn round(
        &self,
        part: &mut [u32],
        aim: Aim,
        turned_down: &mut HashSet<Vec<(usize, u32)>>,
        report: &mut dyn FnMut(usize),
    ) -> bool {
        let (subset, local_of) = (self.subset, self.local_of);
        let mut kept = false;
        for node in 0..self.k as u32 {
            report(node as usize);
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

    /// The region's new mapping by the solver, if it is to be kept.
    fn remap(&self, inside: &Subset<'_>, old: &[u32], m: usize, aim: Aim) -> Option<Vec<u32>> {
        let new = (self.solve)(inside, m, self.cap);
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::resolve;
    use crate::subset::Subset;
    use crate::test_support::universe;
    use orrery_universe::Vec3;

    /// Twelve systems on a ring (gates `i – i+1`, 11 back to 0) on three nodes of four, except that systems 3
    /// and 4 have changed places: nodes 0 and 1 each hold a system cut off from the rest of them.
    fn ring_with_two_swapped() -> (orrery_universe::Universe, Vec<f64>, Vec<u32>) {
        let gates: Vec<(usize, usize)> = (0..12).map(|i| (i, (i + 1) % 12)).collect();
        let u = universe((0..12).map(|i| Vec3::new(f64::from(i), 0.0, 0.0)), &gates);
        let part = vec![0, 0, 0, 1, 0, 1, 1, 1, 2, 2, 2, 2];
        (u, vec![1.0; 12], part)
    }

    #[test]
    fn a_region_is_mapped_again_by_the_solver_it_is_handed_and_kept_where_it_cuts_fewer_gates() {
        let (u, load, part) = ring_with_two_swapped();
        let subset = Subset::new(&u, &load, &[true; 12]);
        let before = subset.cut(&part);
        let calls = Cell::new(0);
        // Contiguous halves of the region in system order: what a good solver would find here.
        let halves = |inside: &Subset<'_>, m: usize, _cap: f64| -> Vec<u32> {
            calls.set(calls.get() + 1);
            (0..inside.len()).map(|i| (i * m / inside.len()) as u32).collect()
        };
        let mut heard = 0;
        let after = resolve(&subset, part, 3, 4.0, 2, &halves, &mut |_| heard += 1);
        assert!(calls.get() > 0 && heard > 0, "the solver was called {} times, progress heard {heard}", calls.get());
        assert!(subset.cut(&after) < before, "{after:?} cuts {} gates, before {before}", subset.cut(&after));
        assert_eq!(after, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    }

    #[test]
    fn a_region_mapping_that_cuts_more_gates_or_passes_the_cap_is_turned_down() {
        let (u, load, part) = ring_with_two_swapped();
        let subset = Subset::new(&u, &load, &[true; 12]);
        let alternating = |inside: &Subset<'_>, m: usize, _cap: f64| -> Vec<u32> {
            (0..inside.len()).map(|i| (i % m) as u32).collect()
        };
        assert_eq!(resolve(&subset, part.clone(), 3, 4.0, 2, &alternating, &mut |_| {}), part);
        // The right borders, but a cap of 3 that no node of four systems fits.
        let halves = |inside: &Subset<'_>, m: usize, _cap: f64| -> Vec<u32> {
            (0..inside.len()).map(|i| (i * m / inside.len()) as u32).collect()
        };
        assert_eq!(resolve(&subset, part.clone(), 3, 3.0, 2, &halves, &mut |_| {}), part);
    }
}
