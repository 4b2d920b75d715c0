//! Repacking: the other way of balance before wholeness (step 8 of `best::partition`). Overloaded parts
//! shed border systems into a *pool*, and the pool is placed back heaviest first, the way LPT places its
//! systems: on a touching part with room, else along a chain of touching parts that pass a system on until one
//! has room, else on one of the parts with room nearest to it (one already in pieces if there is one), else on
//! a touching part that sheds in turn. Every system is pooled at most once, so it ends.
//!
//! Where [`Refiner::spill`] moves excess one step at a time and so stops where every way out runs through
//! full parts, the pool carries excess anywhere at once; the price is a piece for every system placed away
//! from the parts it touches, so `best` keeps the result only within the same budget of parts in pieces.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::Refiner;

/// A pooled system that no touching part has room for goes to one of this many parts with room nearest to it
/// in space: fewer miss LPT's balance, more scatter nodes over the map.
const NEAR_RECEIVERS: usize = 16;
/// The longest chain of touching parts passing systems on (see [`Refiner::pass_on_to_room`]): searches end
/// within a few hops, and longer chains found no more.
const CHAIN_HOPS: usize = 6;

/// A system and its load, ordered by load, then by index for determinism.
#[derive(PartialEq)]
struct Weighed(f64, usize);

impl Eq for Weighed {}

impl PartialOrd for Weighed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Weighed {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

/// The state of one repacking: which systems are in the pool, which were placed from it, where each came from.
struct Pool {
    /// The part index standing for the pool.
    part: u32,
    heap: BinaryHeap<Weighed>,
    /// Placed from the pool: never shed again.
    placed: Vec<bool>,
    /// The part a pooled system was shed from.
    origin: Vec<u32>,
    /// Parts in pieces, or given systems away from the parts they touch: where the next such system goes first.
    in_pieces: Vec<bool>,
}

impl Refiner<'_, '_> {
    /// Repacks the partition so that as few parts as possible pass their caps; see the module docs. Parts may
    /// end in pieces. `in_pieces` says which parts are in pieces now (see `Refiner::fragmented_parts`).
    pub fn repack(&mut self, in_pieces: Vec<bool>) {
        let k = self.parts();
        let mut pool = Pool {
            part: k,
            heap: BinaryHeap::new(),
            placed: vec![false; self.part.len()],
            origin: vec![k; self.part.len()],
            in_pieces,
        };
        let centre = super::super::part_centres(&self.subset.position, &self.part, k as usize).0;
        self.push_part(f64::INFINITY);
        let mut over: Vec<u32> = (0..k).filter(|&p| self.excess(p) > 0.0).collect();
        over.sort_by(|&a, &b| self.excess(b).total_cmp(&self.excess(a)).then(a.cmp(&b)));
        for p in over {
            self.shed(p, &mut pool);
        }
        while let Some(Weighed(w, v)) = pool.heap.pop() {
            let touching: Vec<u32> = self.adjacent_parts(v).into_iter().filter(|&p| p != pool.part).collect();
            if let Some(p) = self.roomiest(touching.iter().copied().filter(|&p| self.fits(p, w))) {
                self.place(v, p, &mut pool);
            } else if let Some(chain) = self.pass_on_to_room(v, &touching, &pool) {
                let mut arriving = v;
                for (to, leaving) in chain {
                    self.place(arriving, to, &mut pool);
                    if let Some(u) = leaving {
                        self.move_to(u, pool.part);
                        arriving = u;
                    }
                }
            } else if let Some(p) = self.far_receiver(v, w, &centre, &pool) {
                pool.in_pieces[p as usize] = true;
                self.place(v, p, &mut pool);
            } else {
                // No part has room: a touching part (other than the one `v` came from) takes it, the lightest
                // of those whose unplaced systems can make up what it then carries beyond its cap, and sheds.
                let origin = pool.origin[v];
                let others = || touching.iter().copied().filter(|&p| p != origin);
                let can_shed = |r: &Self, p: u32| {
                    let free: f64 =
                        r.members[p as usize].iter().filter(|&&x| !pool.placed[x]).map(|&x| r.subset.load[x]).sum();
                    free >= r.excess(p) + w
                };
                let p = self
                    .roomiest(others().filter(|&p| can_shed(self, p)))
                    .or_else(|| self.roomiest(others()))
                    .or_else(|| self.roomiest((0..k).filter(|&p| p != origin)))
                    .unwrap_or(0);
                self.place(v, p, &mut pool);
                self.shed(p, &mut pool);
            }
        }
        self.pop_part();
    }

    /// The least loaded of `parts` (ties to the lowest index).
    fn roomiest(&self, parts: impl Iterator<Item = u32>) -> Option<u32> {
        parts.min_by(|&a, &b| self.part_load[a as usize].total_cmp(&self.part_load[b as usize]).then(a.cmp(&b)))
    }

    fn place(&mut self, v: usize, p: u32, pool: &mut Pool) {
        pool.placed[v] = true;
        self.move_to(v, p);
    }

    /// Moves systems of part `p` into the pool until it is within its cap, never one whose leaving splits its
    /// piece of `p` or one placed from the pool: border systems before inner ones; then the lightest that
    /// brings `p` within its cap, else the heaviest; between equals, one beside a system already shed (so the
    /// shedding eats into the node from one side), then the lowest index. A system counts as on the border if
    /// it touches another part (the pool does not count).
    fn shed(&mut self, p: u32, pool: &mut Pool) {
        while self.excess(p) > 0.0 && self.size(p) > 1 {
            let need = self.excess(p);
            let mut ranked: Vec<((bool, bool, f64, bool), usize)> = self.members[p as usize]
                .iter()
                .filter(|&&v| !pool.placed[v])
                .map(|&v| {
                    let border =
                        self.subset.neighbours(v).iter().any(|&u| self.part[u] != p && self.part[u] != pool.part);
                    let beside_pool = self.subset.neighbours(v).iter().any(|&u| self.part[u] == pool.part);
                    let w = self.subset.load[v];
                    let covers = w >= need;
                    ((border, covers, if covers { -w } else { w }, beside_pool), v)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1)));
            let Some(v) = ranked.into_iter().map(|(_, v)| v).find(|&v| self.leaves_whole(v)) else {
                break;
            };
            pool.origin[v] = p;
            pool.heap.push(Weighed(self.subset.load[v], v));
            self.move_to(v, pool.part);
        }
    }

    /// Where a pooled system goes that no touching part has room for: among the [`NEAR_RECEIVERS`] parts with
    /// room nearest to it, the nearest already in pieces (so that few parts end in pieces), else the roomiest.
    fn far_receiver(&self, v: usize, w: f64, centre: &[orrery_universe::Vec3], pool: &Pool) -> Option<u32> {
        let with_room = (0..pool.part).filter(|&p| self.fits(p, w)).map(|p| p as usize);
        let near = super::super::nearest_parts(centre, self.subset.position[v], with_room, NEAR_RECEIVERS);
        let near = || near.iter().map(|&p| p as u32);
        near().find(|&p| pool.in_pieces[p as usize]).or_else(|| self.roomiest(near()))
    }

    /// A chain of touching parts that takes pooled `v` in without splitting any: the first part takes `v` and
    /// passes a border system on to the next, and so on, until a part has room for what it receives. Searched
    /// lightest arrival first (a lighter arrival asks less of the part it reaches), at most [`CHAIN_HOPS`]
    /// hops. Returns each part of the chain with the system it passes on (none for the last).
    fn pass_on_to_room(&mut self, v: usize, touching: &[u32], pool: &Pool) -> Option<Vec<(u32, Option<usize>)>> {
        let k = pool.part as usize;
        // For each part reached: the system arriving, the part it comes from (k for the start) and the hops.
        let mut reached: Vec<Option<(usize, usize, usize)>> = vec![None; k];
        let mut settled = vec![false; k];
        let mut queue: BinaryHeap<Reverse<Weighed>> = BinaryHeap::new();
        let (mut members, mut onward) = (Vec::new(), Vec::new());
        let origin = pool.origin[v] as usize;
        if origin < k {
            settled[origin] = true;
        }
        for &q in touching {
            let q = q as usize;
            if q != origin && reached[q].is_none() {
                reached[q] = Some((v, k, 1));
                queue.push(Reverse(Weighed(self.subset.load[v], q)));
            }
        }
        while let Some(Reverse(Weighed(arriving_load, t))) = queue.pop() {
            if settled[t] {
                continue;
            }
            settled[t] = true;
            let Some((arriving, _, hops)) = reached[t] else { continue };
            if self.fits(t as u32, arriving_load) {
                let mut chain = vec![(t as u32, None)];
                let mut at = t;
                while let Some((arriving, from, _)) = reached[at] {
                    if from == k {
                        break;
                    }
                    chain.push((from as u32, Some(arriving)));
                    at = from;
                }
                chain.reverse();
                return Some(chain);
            }
            if hops >= CHAIN_HOPS {
                continue;
            }
            let need = self.excess(t as u32) + arriving_load;
            members.clear();
            members.extend_from_slice(&self.members[t]);
            members.sort_unstable();
            for &u in &members {
                let wu = self.subset.load[u];
                // `u` may not be what joins the arriving system to `t`.
                let joined = self.subset.neighbours(arriving).iter().any(|&x| x != u && self.part[x] as usize == t);
                if pool.placed[u] || wu < need || !joined {
                    continue;
                }
                onward.clear();
                for &x in self.subset.neighbours(u) {
                    let p = self.part[x] as usize;
                    if p < k && p != t && !settled[p] && reached[p].is_none_or(|(a, _, _)| self.subset.load[a] > wu) {
                        onward.push(p);
                    }
                }
                if onward.is_empty() || !self.leaves_whole(u) {
                    continue;
                }
                onward.sort_unstable();
                onward.dedup();
                for &p in &onward {
                    reached[p] = Some((u, t, hops + 1));
                    queue.push(Reverse(Weighed(wu, p)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Refiner;
    use crate::subset::Subset;
    use crate::test_support::universe;
    use orrery_universe::{Universe, Vec3};

    /// A path of `n` systems one unit apart on the x axis.
    fn path(n: usize) -> Universe {
        let gates: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        universe((0..n).map(|i| Vec3::new(i as f64, 0.0, 0.0)), &gates)
    }

    fn repacked(universe: &Universe, load: &[f64], part: Vec<u32>, cap: f64) -> (Vec<u32>, Vec<f64>, usize) {
        let subset = Subset::new(universe, load, &vec![true; universe.len()]);
        let k = part.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut refiner = Refiner::new(&subset, part, vec![cap; k]);
        let in_pieces = refiner.fragmented_parts();
        refiner.repack(in_pieces);
        let in_pieces = refiner.parts_in_pieces();
        (refiner.part, refiner.part_load, in_pieces)
    }

    /// Nine systems of load 1 on a path, three nodes of cap 3, the first node holding five: its two extra
    /// systems must travel through the full middle node. The first goes to a node with room it does not touch,
    /// the second follows along a chain (the middle node passes its far end on), and that joins the first
    /// again: the right answer, three whole thirds.
    #[test]
    fn excess_travels_through_a_full_node_and_every_node_ends_whole() {
        let u = path(9);
        let (part, load, in_pieces) = repacked(&u, &[1.0; 9], vec![0, 0, 0, 0, 0, 1, 1, 2, 2], 3.0);
        assert_eq!(part, vec![0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(load, vec![3.0; 3], "the pool's part must be gone and every node at the cap");
        assert_eq!(in_pieces, 0);
    }

    /// H1 – H2 – L1 – L2 with loads 10, 10, 1, 1 on two nodes of cap 11 (LPT's), starting from {H1} | {H2, L1,
    /// L2}: no connected split fits, so repacking must pair each heavy system with a light one, one node in
    /// pieces.
    #[test]
    fn heavy_neighbours_are_paired_with_light_systems_within_the_cap() {
        let u = path(4);
        let (part, load, in_pieces) = repacked(&u, &[10.0, 10.0, 1.0, 1.0], vec![0, 1, 1, 1], 11.0);
        assert_eq!(load, vec![11.0, 11.0], "mapping {part:?}");
        assert_ne!(part[0], part[1], "the heavy systems must be on different nodes: {part:?}");
        assert_eq!(in_pieces, 1, "mapping {part:?}");
    }
}
