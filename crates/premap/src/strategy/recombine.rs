//! Recombination: two touching nodes merged and cut again in two connected halves along a spanning tree.
//!
//! Redistricting has the premapper's problem: parts that must be connected, with loads (populations) equal to
//! a fraction of a percent. Its standard step (*ReCom*: DeFord, Duchin and Solomon, "Recombination: a family of
//! Markov chains for redistricting", 2019) merges two adjacent districts, draws a random spanning tree of the
//! union and cuts one tree edge. Every edge of a spanning tree splits the union into two connected halves, so
//! the step keeps both parts whole whatever the shape of the graph, and the many trees of a union offer splits
//! that moving or swapping systems along the border one at a time never reaches — a border redrawn across a
//! whole constellation at once. `best` uses it to cut fewer gates between two nodes without either leaving
//! its cap (see `Refiner::recombine_for_cut`).
//!
//! Trees are minimum spanning trees under pseudo-random edge weights drawn from the systems' indices and the
//! tree's number, so the same input gives the same trees on every machine.

use crate::subset::Subset;

/// At most this many loose systems of each part may change sides with a cut (see `loose_shifts`).
const LOOSE_SHIFTS: usize = 16;

/// Among the cuts of the tree edges of `trees` spanning trees, the one that crosses the fewest gates with the
/// first part within `caps.0` and the second within `caps.1`. `systems` are subset indices, ascending: the
/// union of two parts, `first[i]` saying whether system `i` is in the first part now; `component[i]` is its
/// connected component in the whole universe. Only one connected piece of the union is cut: the largest that
/// holds systems of both parts or is the union's only piece in its component, so that neither part is handed a
/// piece that could have been joined. Systems outside it (a part of the universe no gate joins to the rest, a
/// stray piece of a node) stay where they are, their load counted for their part — except that *loose* systems
/// (no gates at all) marked in `may_change_sides` may go to the other part with a cut, the fewest that make it
/// fit (at most [`LOOSE_SHIFTS`] of each part, lightest first). A loose system joins any part without splitting it, and
/// moving one shifts the loads by a load that the gated systems' cuts may not offer: where the caps leave
/// hundredths of a load unit of room, that turns a cut missing them into one that fits. Returns, for each
/// system of the union in the order given, whether it goes to the first part; `None` if no cut fits.
pub(crate) fn best_split(
    subset: &Subset<'_>,
    systems: &[usize],
    first: &[bool],
    trees: std::ops::Range<usize>,
    caps: (f64, f64),
    may_change_sides: &[bool],
    component: &[usize],
) -> Option<Vec<bool>> {
    let n = systems.len();
    debug_assert!(systems.is_sorted(), "systems are looked up by binary search");
    let all_edges = union_edges(subset, systems);
    let in_core = piece_to_cut(n, &all_edges, first, component)?;
    let gated: Vec<usize> = (0..n).filter(|&i| in_core[i]).collect();
    let (mut fixed_first, mut fixed_second) = (0.0, 0.0);
    for i in (0..n).filter(|&i| !in_core[i]) {
        if first[i] {
            fixed_first += subset.load[systems[i]];
        } else {
            fixed_second += subset.load[systems[i]];
        }
    }
    if gated.len() < 2 {
        return None;
    }
    // Loose systems (no gates at all) may change sides with any cut, which turns a cut that misses the caps by
    // a fraction of a system's load into one that fits: shift Δ > 0 moves the lightest loose systems of the
    // first part to the second, Δ < 0 the other way. (load moved, systems of the union that change sides)
    let shifts = loose_shifts(subset, systems, first, &in_core, may_change_sides);
    let edges: Vec<(u32, u32)> = all_edges.into_iter().filter(|&(i, _)| in_core[i as usize]).collect();
    let fit =
        Fit { total: gated.iter().map(|&i| subset.load[systems[i]]).sum(), fixed: (fixed_first, fixed_second), caps };
    let mut tree = Tree::new(n, &edges, gated[0], gated.len());
    let mut best: Option<(usize, Vec<bool>)> = None;
    for number in trees {
        if !tree.draw(systems, &edges, number) {
            return None;
        }
        tree.count_below(subset, systems, &edges);
        let Some((cut, x, subtree_first, shift)) = tree.best_cut(&fit, &shifts) else { continue };
        if best.as_ref().is_some_and(|(c, _)| cut >= *c) {
            continue;
        }
        let inside = tree.subtree_of(x);
        let mut side: Vec<bool> =
            (0..n).map(|i| if in_core[i] { inside[i] == subtree_first } else { first[i] }).collect();
        for &i in &shifts[shift].1 {
            side[i] = !side[i];
        }
        best = Some((cut, side));
    }
    debug_assert!(
        best.as_ref().is_none_or(|(_, side)| (0..n).all(|i| in_core[i] || side[i] == first[i] || may_change_sides[i])),
        "a system outside the piece cut changed sides without being allowed to"
    );
    best.map(|(_, side)| side)
}

/// The gates within the union `systems` (ascending subset indices), as pairs of positions in `systems`.
fn union_edges(subset: &Subset<'_>, systems: &[usize]) -> Vec<(u32, u32)> {
    let mut all_edges: Vec<(u32, u32)> = Vec::new();
    for (i, &v) in systems.iter().enumerate() {
        for &w in subset.neighbours(v) {
            if w > v
                && let Ok(j) = systems.binary_search(&w)
            {
                all_edges.push((i as u32, j as u32));
            }
        }
    }
    all_edges
}

/// Which of the union's `n` systems lie in the one connected piece that is cut again: the largest that holds
/// systems of both parts, or is the union's only piece in its part of the universe (`component`). The others
/// (systems of parts of the universe no gate joins to the rest, a node's stray piece) stay with their part.
/// `None` if no piece qualifies.
///
/// The piece cut again must not hand a part a new piece that could have been joined: a stray piece of one
/// part, larger than the rest of the union, cut in two would hand half of it to the other part as a piece of
/// its own.
fn piece_to_cut(n: usize, all_edges: &[(u32, u32)], first: &[bool], component: &[usize]) -> Option<Vec<bool>> {
    let mut leader: Vec<u32> = (0..n as u32).collect();
    for &(i, j) in all_edges {
        let (ri, rj) = (find(&mut leader, i), find(&mut leader, j));
        if ri != rj {
            leader[ri as usize] = rj;
        }
    }
    let mut size = vec![0usize; n];
    let mut sides = vec![(false, false); n];
    let mut roots: Vec<(usize, usize)> = Vec::new();
    for i in 0..n {
        let root = find(&mut leader, i as u32) as usize;
        if size[root] == 0 {
            roots.push((component[i], root));
        }
        size[root] += 1;
        if first[i] {
            sides[root].0 = true;
        } else {
            sides[root].1 = true;
        }
    }
    let alone_in_its_component = |root: usize| {
        let label = roots.iter().find(|&&(_, r)| r == root).map(|&(c, _)| c);
        roots.iter().filter(|&&(c, _)| Some(c) == label).count() == 1
    };
    let core_leader = (0..n)
        .filter(|&i| size[i] > 0 && (sides[i] == (true, true) || alone_in_its_component(i)))
        .max_by_key(|&i| (size[i], std::cmp::Reverse(i)))? as u32;
    Some((0..n as u32).map(|i| find(&mut leader, i) == core_leader).collect())
}

/// What a cut of the piece must fit: the piece's load, the load of each part outside it, and the caps.
struct Fit {
    total: f64,
    fixed: (f64, f64),
    caps: (f64, f64),
}

/// One spanning tree of the piece cut again at a time, with what counting the cut of every tree edge at once
/// needs; the buffers are reused from tree to tree. Indices are positions in the union.
struct Tree {
    root: usize,
    /// Systems in the piece: a spanning tree has one edge fewer.
    spanned: usize,
    /// The piece's gates at each system.
    degree: Vec<usize>,
    depth: Vec<usize>,
    /// Gates of the systems below each system, and gates joining two of them (counted at the lowest common
    /// ancestor of their ends): the subtree's cut is `gates_below − 2 × inner_below`.
    gates_below: Vec<usize>,
    inner_below: Vec<usize>,
    /// The load below each system.
    below: Vec<f64>,
    /// Parents before children.
    order: Vec<u32>,
    parent: Vec<u32>,
    leader: Vec<u32>,
    /// The tree's adjacency, flat: the neighbours of `x` are `tree_next[tree_start[x]..tree_start[x + 1]]`.
    tree_edges: Vec<(u32, u32)>,
    tree_start: Vec<usize>,
    tree_next: Vec<u32>,
    weighted: Vec<(u64, u32, u32)>,
}

impl Tree {
    fn new(n: usize, edges: &[(u32, u32)], root: usize, spanned: usize) -> Tree {
        let mut degree = vec![0usize; n];
        for &(i, j) in edges {
            degree[i as usize] += 1;
            degree[j as usize] += 1;
        }
        Tree {
            root,
            spanned,
            degree,
            depth: vec![0usize; n],
            gates_below: vec![0usize; n],
            inner_below: vec![0usize; n],
            below: vec![0.0f64; n],
            order: Vec::with_capacity(n),
            parent: vec![u32::MAX; n],
            leader: vec![0; n],
            tree_edges: Vec::with_capacity(n),
            tree_start: vec![0usize; n + 1],
            tree_next: vec![0u32; 2 * n],
            weighted: Vec::with_capacity(edges.len()),
        }
    }

    /// Draws tree `number`: the minimum spanning tree of the piece's `edges` under pseudo-random weights
    /// (Kruskal's algorithm), rooted at the root with parents before children in `order`. `false` if the edges
    /// do not span the piece.
    fn draw(&mut self, systems: &[usize], edges: &[(u32, u32)], number: usize) -> bool {
        let n = self.degree.len();
        self.weighted.clear();
        self.weighted.extend(
            edges
                .iter()
                .map(|&(i, j)| (mix(systems[i as usize] as u64, systems[j as usize] as u64, number as u64), i, j)),
        );
        self.weighted.sort_unstable();
        for (i, l) in self.leader.iter_mut().enumerate() {
            *l = i as u32;
        }
        self.tree_edges.clear();
        for &(_, i, j) in &self.weighted {
            let (ri, rj) = (find(&mut self.leader, i), find(&mut self.leader, j));
            if ri != rj {
                self.leader[ri as usize] = rj;
                self.tree_edges.push((i, j));
            }
        }
        if self.tree_edges.len() + 1 < self.spanned {
            return false;
        }
        self.tree_start.fill(0);
        for &(i, j) in &self.tree_edges {
            self.tree_start[i as usize + 1] += 1;
            self.tree_start[j as usize + 1] += 1;
        }
        for x in 0..n {
            self.tree_start[x + 1] += self.tree_start[x];
        }
        let mut fill = self.tree_start.clone();
        for &(i, j) in &self.tree_edges {
            self.tree_next[fill[i as usize]] = j;
            fill[i as usize] += 1;
            self.tree_next[fill[j as usize]] = i;
            fill[j as usize] += 1;
        }
        self.order.clear();
        self.order.push(self.root as u32);
        self.parent[self.root] = self.root as u32;
        let mut head = 0;
        while head < self.order.len() {
            let x = self.order[head];
            head += 1;
            for &y in &self.tree_next[self.tree_start[x as usize]..self.tree_start[x as usize + 1]] {
                if y != self.parent[x as usize] {
                    self.parent[y as usize] = x;
                    self.order.push(y);
                }
            }
        }
        true
    }

    /// Per system of the tree: the load below it, its depth, and the gates leaving the subtree below it — the
    /// gates of its members (`gates_below`) minus twice the gates joining two members, each counted at the
    /// lowest common ancestor of its ends (`inner_below`).
    fn count_below(&mut self, subset: &Subset<'_>, systems: &[usize], edges: &[(u32, u32)]) {
        for &x in &self.order {
            let x = x as usize;
            self.below[x] = subset.load[systems[x]];
            self.depth[x] = if x == self.root { 0 } else { self.depth[self.parent[x] as usize] + 1 };
            self.gates_below[x] = self.degree[x];
            self.inner_below[x] = 0;
        }
        for &(i, j) in edges {
            let (mut a, mut b) = (i, j);
            while a != b {
                if self.depth[a as usize] < self.depth[b as usize] {
                    std::mem::swap(&mut a, &mut b);
                }
                a = self.parent[a as usize];
            }
            self.inner_below[a as usize] += 1;
        }
        for &x in self.order.iter().skip(1).rev() {
            let up = self.parent[x as usize] as usize;
            self.below[up] += self.below[x as usize];
            self.gates_below[up] += self.gates_below[x as usize];
            self.inner_below[up] += self.inner_below[x as usize];
        }
    }

    /// Every tree edge, the subtree below `x` going to either part: the fitting cut crossing fewest gates, as
    /// (gates crossed, `x`, whether the subtree goes to the first part, the loose shift that makes it fit).
    fn best_cut(&self, fit: &Fit, shifts: &[(f64, Vec<usize>)]) -> Option<(usize, u32, bool, usize)> {
        let mut found: Option<(usize, u32, bool, usize)> = None;
        for &x in self.order.iter().skip(1) {
            let s = self.below[x as usize];
            let cut = self.gates_below[x as usize] - 2 * self.inner_below[x as usize];
            if found.is_some_and(|(c, ..)| cut >= c) {
                continue;
            }
            for subtree_first in [true, false] {
                let (a, b) = if subtree_first { (s, fit.total - s) } else { (fit.total - s, s) };
                // The shift Δ must satisfy fixed_first + a − Δ ≤ caps.0 and fixed_second + b + Δ ≤ caps.1.
                let fitting = fitting_shift(shifts, fit.fixed.0 + a - fit.caps.0, fit.caps.1 - fit.fixed.1 - b);
                if let Some(shift) = fitting
                    && found.is_none_or(|(c, ..)| cut < c)
                {
                    found = Some((cut, x, subtree_first, shift));
                }
            }
        }
        found
    }

    /// Which systems of the union lie in the subtree below `x` (parents come before children in `order`).
    fn subtree_of(&self, x: u32) -> Vec<bool> {
        let mut inside = vec![false; self.degree.len()];
        for &y in &self.order {
            inside[y as usize] = y == x || (y as usize != self.root && inside[self.parent[y as usize] as usize]);
        }
        inside
    }
}

/// The loose systems of the union (outside its gated core, with no gates at all) that may change sides, as
/// shifts sorted by the load they move from the first part to the second: none; the lightest 1, 2, … of the
/// first part; the lightest 1, 2, … of the second (negative), each with the union indices that change sides.
fn loose_shifts(
    subset: &Subset<'_>,
    systems: &[usize],
    first: &[bool],
    in_core: &[bool],
    may_change_sides: &[bool],
) -> Vec<(f64, Vec<usize>)> {
    let loose = |side: bool| {
        let mut l: Vec<usize> = (0..systems.len())
            .filter(|&i| {
                !in_core[i] && first[i] == side && may_change_sides[i] && subset.neighbours(systems[i]).is_empty()
            })
            .collect();
        l.sort_by(|&x, &y| subset.load[systems[x]].total_cmp(&subset.load[systems[y]]).then(x.cmp(&y)));
        l.truncate(LOOSE_SHIFTS);
        l
    };
    let mut shifts = vec![(0.0, Vec::new())];
    for (sign, side) in [(1.0, true), (-1.0, false)] {
        let (mut moved, mut members) = (0.0, Vec::new());
        for i in loose(side) {
            moved += subset.load[systems[i]];
            members.push(i);
            shifts.push((sign * moved, members.clone()));
        }
    }
    shifts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.len().cmp(&b.1.len())));
    shifts
}

/// Among `shifts` (sorted by load), the one moving a load within `[low, high]` that moves the fewest systems.
fn fitting_shift(shifts: &[(f64, Vec<usize>)], low: f64, high: f64) -> Option<usize> {
    let from = shifts.partition_point(|s| s.0 < low);
    (from..shifts.len()).take_while(|&i| shifts[i].0 <= high).min_by_key(|&i| (shifts[i].1.len(), i))
}

fn find(leader: &mut [u32], mut i: u32) -> u32 {
    while leader[i as usize] != i {
        let up = leader[leader[i as usize] as usize];
        leader[i as usize] = up;
        i = up;
    }
    i
}

/// A pseudo-random 64-bit weight for the edge between systems `a` and `b` in tree `tree` (SplitMix64 finaliser).
pub(crate) fn mix(a: u64, b: u64, tree: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(32) ^ tree.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::best_split;
    use crate::subset::Subset;
    use crate::test_support::universe;
    use orrery_universe::{Universe, Vec3};

    /// A `columns` × 2 ladder (system `2c` above `2c + 1`), plus `loose` systems with no gates.
    fn ladder(columns: usize, loose: usize) -> Universe {
        let mut gates = Vec::new();
        for c in 0..columns {
            gates.push((2 * c, 2 * c + 1));
            if c + 1 < columns {
                gates.push((2 * c, 2 * c + 2));
                gates.push((2 * c + 1, 2 * c + 3));
            }
        }
        universe((0..2 * columns + loose).map(|i| Vec3::new(i as f64, 0.0, 0.0)), &gates)
    }

    /// A grid of `rows` × `columns` systems (row-major), gates between horizontal and vertical neighbours.
    fn grid(rows: usize, columns: usize) -> Universe {
        let mut gates = Vec::new();
        for r in 0..rows {
            for c in 0..columns {
                let i = r * columns + c;
                if c + 1 < columns {
                    gates.push((i, i + 1));
                }
                if r + 1 < rows {
                    gates.push((i, i + columns));
                }
            }
        }
        let positions = (0..rows * columns).map(|i| Vec3::new((i % columns) as f64, (i / columns) as f64, 0.0));
        universe(positions, &gates)
    }

    /// The connected-component label of each of `systems`, as `Refiner` passes them.
    fn labels(subset: &Subset<'_>, systems: &[usize]) -> Vec<usize> {
        let all = subset.component_labels();
        systems.iter().map(|&v| all[v]).collect()
    }

    fn connected(subset: &Subset<'_>, members: &[usize]) -> bool {
        let Some(&start) = members.first() else { return true };
        let mut seen = vec![start];
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            for &w in subset.neighbours(v) {
                if members.contains(&w) && !seen.contains(&w) {
                    seen.push(w);
                    stack.push(w);
                }
            }
        }
        seen.len() == members.len()
    }

    #[test]
    fn splits_an_overloaded_pair_into_two_connected_parts_within_their_caps() {
        // Ten columns of load 1 and 2 alternating; the first part holds eight columns (too much for its cap).
        let universe = ladder(10, 0);
        let load: Vec<f64> = (0..20).map(|i| if (i / 2) % 2 == 0 { 1.0 } else { 2.0 }).collect();
        let subset = Subset::new(&universe, &load, &[true; 20]);
        let systems: Vec<usize> = (0..20).collect();
        let now: Vec<bool> = (0..20).map(|i| i < 16).collect();
        let (cap_first, cap_second) = (15.0, 15.0);
        let side = best_split(
            &subset,
            &systems,
            &now,
            0..16,
            (cap_first, cap_second),
            &[false; 20],
            &labels(&subset, &systems),
        )
        .expect("a ladder of 30 load units splits into two connected parts of at most 15");
        let first: Vec<usize> = (0..20).filter(|&i| side[i]).collect();
        let second: Vec<usize> = (0..20).filter(|&i| !side[i]).collect();
        let weight = |members: &[usize]| members.iter().map(|&i| load[i]).sum::<f64>();
        assert_eq!(weight(&first), 15.0, "first part {first:?}");
        assert_eq!(weight(&second), 15.0, "second part {second:?}");
        assert!(connected(&subset, &first), "first part {first:?} is in pieces");
        assert!(connected(&subset, &second), "second part {second:?} is in pieces");
    }

    #[test]
    fn finds_nothing_when_the_caps_cannot_hold_the_pair() {
        let universe = ladder(4, 0);
        let load = vec![1.0; 8];
        let subset = Subset::new(&universe, &load, &[true; 8]);
        let systems: Vec<usize> = (0..8).collect();
        let now: Vec<bool> = (0..8).map(|i| i < 6).collect();
        assert!(
            best_split(&subset, &systems, &now, 0..16, (3.5, 3.5), &[false; 8], &labels(&subset, &systems)).is_none()
        );
    }

    #[test]
    fn loose_systems_that_may_not_change_sides_stay_and_count_for_their_part() {
        // Systems 8 and 9 have no gates: 8 is in the first part, 9 in the second, each of load 3; neither is
        // nearer the other part.
        let universe = ladder(4, 2);
        let load = vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0];
        let subset = Subset::new(&universe, &load, &[true; 10]);
        let systems: Vec<usize> = (0..10).collect();
        let now: Vec<bool> = vec![true, true, true, true, true, true, false, false, true, false];
        let side = best_split(&subset, &systems, &now, 0..16, (7.0, 7.0), &[false; 10], &labels(&subset, &systems))
            .expect("4 + 3 on each side fits");
        assert!(side[8] && !side[9], "the loose systems moved: {side:?}");
        assert_eq!((0..8).filter(|&i| side[i]).count(), 4, "{side:?}");
    }

    #[test]
    fn a_loose_system_changes_sides_where_no_cut_of_the_gated_systems_alone_fits() {
        // Eight gated systems of load 1 (the first part holds six) and loose system 8 of load 0.5 in the second
        // part, caps 3.6 and 5.1: the gated systems split 3 + 5 only if the loose one joins the first part
        // (3.5 and 5.0); left where it is, the first part would need 3.4–3.6 of whole systems.
        let universe = ladder(4, 1);
        let mut load = vec![1.0; 8];
        load.push(0.5);
        let subset = Subset::new(&universe, &load, &[true; 9]);
        let systems: Vec<usize> = (0..9).collect();
        let now: Vec<bool> = (0..9).map(|i| i < 6).collect();
        assert!(
            best_split(&subset, &systems, &now, 0..16, (3.6, 5.1), &[false; 9], &labels(&subset, &systems)).is_none(),
            "without moving the loose system no cut fits"
        );
        let side = best_split(&subset, &systems, &now, 0..16, (3.6, 5.1), &[true; 9], &labels(&subset, &systems))
            .expect("a cut fits");
        assert!(side[8], "the loose system should have joined the first part: {side:?}");
        let first: Vec<usize> = (0..8).filter(|&i| side[i]).collect();
        let second: Vec<usize> = (0..8).filter(|&i| !side[i]).collect();
        assert_eq!(first.len(), 3, "{side:?}");
        assert!(connected(&subset, &first) && connected(&subset, &second), "{side:?}");
    }

    #[test]
    fn only_the_largest_piece_of_the_union_is_cut_again() {
        // Columns 0–1 of a four-column ladder (four systems) and column 3 (two), nothing between them: the
        // smaller piece stays where it is, system 6 in the first part and 7 in the second.
        let universe = ladder(4, 0);
        let load = vec![1.0; 8];
        let subset = Subset::new(&universe, &load, &[true, true, true, true, false, false, true, true]);
        let systems: Vec<usize> = (0..6).collect();
        let now = [true, true, true, true, true, false];
        let side = best_split(&subset, &systems, &now, 0..4, (3.0, 3.0), &[false; 6], &labels(&subset, &systems))
            .expect("the four-system piece splits 2 + 2 beside 1 + 1");
        assert!(side[4] && !side[5], "the two-system piece moved: {side:?}");
        assert_eq!((0..4).filter(|&i| side[i]).count(), 2, "{side:?}");
        let first: Vec<usize> = (0..4).filter(|&i| side[i]).collect();
        let second: Vec<usize> = (0..4).filter(|&i| !side[i]).collect();
        assert!(connected(&subset, &first) && connected(&subset, &second), "{side:?}");
    }

    #[test]
    fn a_stray_piece_of_one_part_is_not_cut_even_when_it_is_the_largest_piece() {
        // A ladder of two columns (systems 0–3: the first part holds 0 and 1, the second 2 and 3) and a
        // six-system ladder (4–9) wholly in the second part, joined to the first ladder only through system 10
        // of a third part: a stray piece of the second part. Cutting that larger piece would hand half of it
        // to the first part as a piece that could have been joined; only the piece holding both parts may be
        // cut again.
        let mut gates = vec![(0, 1), (2, 3), (0, 2), (1, 3)];
        gates.extend([(4, 5), (6, 7), (8, 9), (4, 6), (5, 7), (6, 8), (7, 9), (3, 10), (10, 4)]);
        let universe = universe((0..11).map(|i| Vec3::new(f64::from(i), 0.0, 0.0)), &gates);
        let load = vec![1.0; 11];
        let subset = Subset::new(&universe, &load, &[true; 11]);
        let systems: Vec<usize> = (0..10).collect();
        let now: Vec<bool> = (0..10).map(|i| i < 2).collect();
        let side = best_split(&subset, &systems, &now, 0..16, (10.0, 10.0), &[false; 10], &labels(&subset, &systems))
            .expect("a cut fits");
        assert!((4..10).all(|i| !side[i]), "the stray piece was cut: {side:?}");
        let first: Vec<usize> = (0..4).filter(|&i| side[i]).collect();
        assert!(!first.is_empty() && first.len() < 4 && connected(&subset, &first), "{side:?}");
    }

    #[test]
    fn among_the_splits_within_the_caps_takes_one_crossing_few_gates() {
        // A 4 × 6 grid whose two parts alternate like a chessboard (every gate cut). Halves of twelve can be cut
        // straight across in four gates; the other balanced cuts of these trees cross six.
        let universe = grid(4, 6);
        let load = vec![1.0; 24];
        let subset = Subset::new(&universe, &load, &[true; 24]);
        let systems: Vec<usize> = (0..24).collect();
        let now: Vec<bool> = (0..24).map(|i| (i / 6 + i % 6) % 2 == 0).collect();
        let side = best_split(&subset, &systems, &now, 0..8, (12.0, 12.0), &[false; 24], &labels(&subset, &systems))
            .expect("halves of twelve exist");
        let cut = universe.gates().filter(|&(a, b)| side[a] != side[b]).count();
        assert_eq!((0..24).filter(|&i| side[i]).count(), 12, "{side:?}");
        assert_eq!(cut, 4, "the redrawn border should cross the grid straight: {side:?}");
    }
}
