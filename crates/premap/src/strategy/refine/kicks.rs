//! Kicks: iterated recombination, the last step of `best` at up to 64 nodes (see `best::partition`, step 10).
//!
//! Greedy recombination (`Refiner::recombine_for_cut`) stops in a local minimum: no single pair of touching
//! parts can redraw its border along the trees drawn for fewer gates. A *kick* redraws the borders of one part
//! with a few of its neighbours along fresh trees even where that crosses more gates, greedy recombination
//! follows it through, and the outcome is kept only if the whole cuts fewer gates than before, or as many with
//! nodes more compact in space (iterated local search: perturb, descend again, keep what is better). Each
//! redrawn border is a cut of a spanning tree within the caps, so no cap is passed and no part gets more pieces.

use super::Refiner;

/// Seeds the choice of kicked parts in [`Refiner::recombine_with_kicks`].
const KICK_SEED: u64 = 0x6b69_636b;
/// A kick that cuts as many gates as before is kept if it lowers the spread by more than this share (so float
/// noise never decides).
const SPREAD_TOLERANCE: f64 = 1e-9;
/// Kicks draw their trees from numbers far above those of greedy recombination, so they try other cuts.
const KICK_FIRST_TREE: usize = 1 << 20;

/// How hard [`Refiner::recombine_with_kicks`] kicks and how it follows a kick through.
#[derive(Clone, Copy)]
pub(crate) struct Kick {
    /// Pairs whose borders one kick redraws, all with the kicked part.
    pub pairs: usize,
    /// Trees drawn for each kicked pair.
    pub trees: usize,
    /// Trees per pair in the recombination that follows a kick.
    pub repair_trees: usize,
    /// At most this many passes of that recombination.
    pub repair_passes: usize,
}

impl Refiner<'_, '_> {
    /// The mean distance of a part's systems from their centre, averaged over parts (`evaluate`'s mean spread,
    /// in metres): how compact the parts are in space.
    pub fn spread(&self) -> f64 {
        crate::metrics::mean_spread(&self.members, |v| self.subset.position[v])
    }

    /// Iterated recombination, a way out of the local minimum where greedy recombination stops (no single pair
    /// can redraw its border for fewer gates). `kicks` times: a part picked pseudo-randomly redraws its borders
    /// with up to `kick.pairs` of the parts it touches, each along the best fitting cut of `kick.trees` fresh
    /// spanning trees even where that crosses more gates; recombination for the cut (`kick.repair_trees` trees
    /// per pair, at most `kick.repair_passes` passes, looking again only at pairs that changed) follows it
    /// through; the outcome is kept if the whole cuts fewer gates than before the kick, or as many with a smaller
    /// spread (parts more compact in space: a walk along the plateau of equal cuts, steered towards compact
    /// nodes), else undone. So the cut never grows, no cap is passed, and no part gets more pieces. Returns the
    /// gates saved.
    pub fn recombine_with_kicks(&mut self, kicks: usize, kick: Kick) -> usize {
        let start = self.subset.cut(&self.part);
        let mut best = start;
        let mut best_spread = self.spread();
        for round in 0..kicks {
            let r = super::super::recombine::mix(round as u64, KICK_SEED, u64::from(self.parts()));
            let a = (r % u64::from(self.parts())) as u32;
            let touching = self.touching(a);
            let snapshot = (self.part.clone(), self.version.clone());
            let first_tree = KICK_FIRST_TREE + round * kick.pairs * kick.trees;
            let mut kicked = false;
            for j in 0..kick.pairs.min(touching.len()) {
                let b = touching[((r >> 32) as usize + j) % touching.len()];
                let trees = first_tree + j * kick.trees..first_tree + (j + 1) * kick.trees;
                kicked |= self.recombine_pair(a, b, trees, true).is_some();
            }
            if !kicked {
                continue;
            }
            for _ in 0..kick.repair_passes {
                if self.recombine_for_cut(kick.repair_trees) == 0 {
                    break;
                }
            }
            let cut = self.subset.cut(&self.part);
            let spread = self.spread();
            if cut < best || (cut == best && spread < best_spread * (1.0 - SPREAD_TOLERANCE)) {
                best = cut;
                best_spread = spread;
            } else {
                self.restore(snapshot.0, snapshot.1);
            }
        }
        start - best
    }
}

#[cfg(test)]
mod tests {
    use super::{Kick, Refiner};
    use crate::subset::Subset;
    use crate::test_support::universe;
    use orrery_universe::{GeneratorConfig, Vec3, generate};

    const KICK: Kick = Kick { pairs: 4, trees: 8, repair_trees: 16, repair_passes: 3 };

    /// A generated universe of 600 systems of unit load in eight parts of at most 76, starting as stripes
    /// along the x axis; greedy recombination first, then kicks: they must cut fewer gates than where greedy
    /// recombination stopped, pass no cap and leave no part in more pieces than before.
    #[test]
    fn kicks_cut_fewer_gates_than_greedy_recombination_within_the_caps() {
        let universe = generate(&GeneratorConfig { systems: 600, seed: 7 });
        let n = universe.len();
        let load = vec![1.0; n];
        let subset = Subset::new(&universe, &load, &vec![true; n]);
        let k = 8u32;
        let mut by_x: Vec<usize> = (0..n).collect();
        by_x.sort_by(|&a, &b| subset.position[a].x.total_cmp(&subset.position[b].x).then(a.cmp(&b)));
        let mut part = vec![0u32; n];
        for (rank, &v) in by_x.iter().enumerate() {
            part[v] = (rank * k as usize / n) as u32;
        }
        let mut refiner = Refiner::new(&subset, part, vec![76.0; k as usize]);
        while refiner.recombine_for_cut(16) > 0 {}
        let greedy = subset.cut(&refiner.part);
        let pieces_before: Vec<usize> = (0..k).map(|p| refiner.piece_count(p)).collect();
        let saved = refiner.recombine_with_kicks(200, KICK);
        let after = subset.cut(&refiner.part);
        assert_eq!(greedy - saved, after, "the gates saved must be the change in the cut");
        assert!(after < greedy, "kicks saved nothing beyond greedy recombination ({greedy} gates)");
        assert!(refiner.part_load.iter().all(|&l| l <= 76.0 + 1e-9), "a cap was passed: {:?}", refiner.part_load);
        for p in 0..k {
            let now = refiner.piece_count(p);
            assert!(
                now <= pieces_before[p as usize],
                "part {p} went from {} to {now} pieces",
                pieces_before[p as usize]
            );
        }
    }

    /// Sixteen systems on a line, their gates a ring (15 back to 0), in two parts of eight: every split into two
    /// arcs crosses two gates, so the cut cannot fall. Starting from the arc that wraps around (12–15 and 0–3,
    /// spread over the whole line), kicks must keep the cut and find a more compact split.
    #[test]
    fn where_the_cut_cannot_fall_kicks_make_the_parts_more_compact() {
        let n = 16;
        let gates: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let universe = universe((0..n).map(|i| Vec3::new(i as f64, 0.0, 0.0)), &gates);
        let load = vec![1.0; n];
        let subset = Subset::new(&universe, &load, &vec![true; n]);
        let part: Vec<u32> = (0..n).map(|i| u32::from((4..12).contains(&i))).collect();
        let mut refiner = Refiner::new(&subset, part, vec![8.0; 2]);
        let (cut, spread) = (subset.cut(&refiner.part), refiner.spread());
        assert_eq!(cut, 2);
        assert_eq!(refiner.recombine_with_kicks(16, KICK), 0, "no split of a ring into two arcs cuts fewer than 2");
        assert_eq!(subset.cut(&refiner.part), 2);
        assert!(refiner.spread() < spread, "spread {} not below {spread}: {:?}", refiner.spread(), refiner.part);
        assert!(refiner.part_load.iter().all(|&l| l == 8.0), "{:?}", refiner.part_load);
    }
}
