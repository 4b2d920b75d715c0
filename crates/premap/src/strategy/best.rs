//! `best`: the locality of a graph partitioner with the balance of LPT.
//!
//! [`partition`] runs the eleven steps of docs/premap.md in order, one function a step, each named for what it
//! does and ending with a `debug_assert!` of the invariant it keeps, so that every test run checks them. The
//! steps that move systems are methods of [`Refiner`]; this file decides which run when and with what caps.
//! Why each constant has its value, and what else was tried, is in docs/premap-experiments.md.

use super::refine::{Kick, Refiner};
use super::{lpt, rcb, regions};
use crate::Options;
use crate::progress::Progress;
use crate::subset::Subset;

/// Balancing steps allowed per system of a set being bisected: generous, and it bounds the worst case.
const BALANCE_STEPS_PER_SYSTEM: usize = 2;
/// Balancing steps allowed per node in the final k-way balance (step 5): enough to reach what ten times as many
/// reach, few enough to bound the time.
const FINAL_BALANCE_STEPS_PER_NODE: usize = 4;
/// Nodes beyond this many add no balancing steps, and mark where `best` switches from "few large nodes" to
/// "many small nodes" (fewer variants, fewer trees, no early recombination): with many small nodes the
/// bisections leave the k-way balance little it can do, and the time target (250 nodes in 100 ms) counts.
const FINAL_BALANCE_NODES_COUNTED: usize = 64;
/// A system at least this share of the cap gets a node of its own before the rest is cut (step 3): there is
/// little room beside it, and carving its node out of a region later would split its neighbours.
const NEAR_DEDICATED_SHARE: f64 = 0.8;
/// Balancing steps allowed per node in each round of [`spill`]: more were slower and balanced no better.
const SPILL_STEPS_PER_NODE: usize = 1;
/// [`spill`] first balances against a ceiling this far from the cap towards the heaviest node, so that the
/// heaviest nodes, which decide the balance, spend the budget of nodes in pieces first.
const SPILL_FIRST_CEILING: f64 = 0.3;
/// The heaviest node must be more than this share above the cap for balance before wholeness (step 8) to
/// run: below it, a node in pieces would buy a difference no operator sees.
const SPILL_FROM: f64 = 0.001;
/// Balance before wholeness may leave at most one node in this many newly in pieces: the budget that keeps
/// `best` below METIS's nodes in pieces.
const SPILL_BUDGET_DIVISOR: usize = 5;
/// Bisection steps for the lowest ceiling at which repacking stays within the budget of nodes in pieces
/// ([`repack`]); each step costs a repacking.
const REPACK_CEILING_STEPS: usize = 4;
/// Recombination for the cut (step 9, [`recombine_for_cut`]): passes at most, while a pass saves gates.
const CUT_RECOMBINATION_PASSES: usize = 10;
/// Spanning trees per pair of touching nodes in the recombination inside a run (step 7).
const CUT_RECOMBINATION_TREES: usize = 64;
/// Spanning trees per pair beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes, where pairs are many and small and
/// the time target counts.
const CUT_RECOMBINATION_TREES_MANY_NODES: usize = 2;
/// Spanning trees per pair in the final recombination (step 9) at up to [`FINAL_BALANCE_NODES_COUNTED`]
/// nodes: it runs once, on the mapping kept, so more trees cost far less than in every run.
const CUT_RECOMBINATION_TREES_FINAL: usize = 256;
/// Kicks per node (step 10) by default where [`few_small_nodes`] holds: more keep finding gates, slowly.
const KICKS_PER_NODE: usize = 8;
/// Kicks and regions run by default only where nodes hold at most this many systems on average: on a few
/// large nodes a kick's pairs are so large that kicks take seconds and save nothing.
const KICK_MAX_SYSTEMS_PER_NODE: usize = 256;
/// Nodes in a region of step 11 by default: the node and the four it shares the most gates with.
const REGION_NODES: usize = 5;
/// How a kick is made and followed through: four pairs of eight trees each, then recombination with 16 trees per
/// pair for at most three passes.
const KICK: Kick = Kick { pairs: 4, trees: 8, repair_trees: 16, repair_passes: 3 };
/// Refinement passes for each bisection and for the final k-way pass.
const REFINE_PASSES: usize = 8;
/// Two runs whose heaviest nodes differ by less than this share of the cap are taken as equally balanced.
const EQUAL_BALANCE: f64 = 0.0005;
/// The variants after the first [`ALWAYS_RUN`] are run only if the best run so far came this close to the cap
/// (as a share of it): further off they never balanced better, and each costs a run.
const LATER_VARIANTS_WITHIN: f64 = 0.01;
/// Variants that run whatever the runs before them reached: two, and beyond [`FINAL_BALANCE_NODES_COUNTED`]
/// nodes one, where a run far off the cap leaves the balance to step 8 and a second run rarely changed it.
const ALWAYS_RUN: usize = 2;
const ALWAYS_RUN_MANY_NODES: usize = 1;
/// How far METIS's bisection may miss a side's share of the load: the loose start cuts fewer gates and leaves
/// more to the balancing, the tight one is better on other maps and node counts.
const LOOSE_START: f64 = 0.01;
const TIGHT_START: f64 = 0.001;
/// The part of a set's slack (what its nodes may carry beyond its load) that one split may use up.
const SLACK_USE_PER_SPLIT: f64 = 0.5;
/// A piece of the universe that no stargate joins to the rest can join any node whole without splitting it: a
/// *filler*, if it weighs at most this share of the average room a node has left (see [`split_fillers`]).
const FILLER_SHARE_OF_ROOM: f64 = 1.0;
/// Relative slack when comparing a load with a cap in the invariants checked below (the refiner's own).
const CAP_TOLERANCE: f64 = 1e-9;

/// Maps `subset` onto `k` nodes: the eleven steps of docs/premap.md, in order.
///
/// 1. [`cap_for`]: the cap every node aims at.
/// 2. [`split_fillers`]: small pieces of the universe no gate joins to the rest are set aside.
/// 3. [`Core::split`]: systems nearly as heavy as the cap start as one-system nodes.
/// 4. [`bisect_all`]: the rest is cut by recursive bisection on the stargate graph.
/// 5. [`Core::balance_and_refine`]: a k-way balance, then a k-way refinement.
/// 6. [`place_fillers`]: the fillers go to nodes near them with room.
/// 7. [`best_run`]: steps 4–6 in up to six [`Variant`]s; the best run is kept.
/// 8. [`balance_before_wholeness`]: where the kept run misses the cap, nodes may give up being one piece.
/// 9. [`cut_by_recombination`]: touching nodes redraw their borders along spanning trees for fewer gates.
/// 10. [`kick_for_the_cut`]: kicks leave the local minimum where step 9 stops.
/// 11. Regions (`regions::resolve`): each node and its closest neighbours mapped again by steps 1–10
///     ([`solve_region`]), kept where that cuts fewer gates.
///
/// `progress` hears which step runs (and, in step 11, which region), for a caller that shows it.
pub(crate) fn partition(
    subset: &Subset<'_>,
    k: usize,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Vec<u32> {
    if k <= 1 {
        return vec![0; subset.len()];
    }
    let (part, cut_cap) = without_regions(subset, k, options.imbalance, options.kicks_per_node, progress);
    let default = if few_small_nodes(subset, k) { REGION_NODES } else { 0 };
    match options.region_nodes.unwrap_or(default) {
        0 => part,
        region_nodes => {
            let before = (subset.cut(&part), heaviest_node(subset, &part, k));
            let part = regions::resolve(subset, part, k, cut_cap, region_nodes, &solve_region, progress);
            debug_assert!(subset.cut(&part) <= before.0, "regions cut more gates");
            debug_assert!(
                heaviest_node(subset, &part, k) <= before.1.max(cut_cap) * (1.0 + CAP_TOLERANCE),
                "regions made the heaviest node heavier than the cap"
            );
            part
        }
    }
}

/// Steps 1–10 of [`partition`] (`k` ≥ 2): the mapping, and the cap its nodes keep to ([`cap_for_the_cut`]).
fn without_regions(
    subset: &Subset<'_>,
    k: usize,
    imbalance: Option<f64>,
    kicks_per_node: Option<usize>,
    progress: &mut dyn FnMut(Progress),
) -> (Vec<u32>, f64) {
    debug_assert!(k >= 2, "one node needs no partition");
    progress(Progress::Placing);
    let cap = cap_for(subset, k, imbalance);
    let placed = place(subset, k, cap);
    let cut_cap = cap_for_the_cut(subset, &placed, k, cap);
    let mut refiner = Refiner::new(subset, placed, vec![cut_cap; k]);
    refiner.cap_at_current_load();
    progress(Progress::Recombining);
    cut_by_recombination(&mut refiner, k);
    let kicks = kicks_per_node.unwrap_or(if few_small_nodes(subset, k) { KICKS_PER_NODE } else { 0 });
    if kicks > 0 {
        progress(Progress::Kicking { kicks: kicks.saturating_mul(k) });
    }
    kick_for_the_cut(&mut refiner, kicks.saturating_mul(k));
    (refiner.part, cut_cap)
}

/// The solver regions (step 11) hand each region to: steps 1–10 on the region's `m` nodes, aiming at the larger
/// of the region's own LPT balance and the whole's `cap`, with the region's own kicks and no regions within.
pub(crate) fn solve_region(inside: &Subset<'_>, m: usize, cap: f64) -> Vec<u32> {
    let ideal = inside.load.iter().sum::<f64>() / m as f64;
    let imbalance = Some((cap / ideal - 1.0).max(0.0));
    without_regions(inside, m, imbalance, None, &mut |_| {}).0
}

/// Step 1: the cap is the maximum node load LPT reaches on the same systems, or, if the operator allows more
/// (`imbalance`, a fraction of the ideal load `total / k`), the larger of the two: the room above LPT's goes
/// to cutting fewer gates and keeping nodes whole.
fn cap_for(subset: &Subset<'_>, k: usize, imbalance: Option<f64>) -> f64 {
    let ideal = subset.load.iter().sum::<f64>() / k as f64;
    lpt::max_load(&subset.load, k).max(imbalance.map_or(0.0, |t| (1.0 + t) * ideal))
}

/// The cap of steps 9–11: where balance before wholeness left the heaviest node above the cap, the others may
/// grow up to it while redrawing borders, since the balance is that node's and stays as it is.
fn cap_for_the_cut(subset: &Subset<'_>, placed: &[u32], k: usize, cap: f64) -> f64 {
    heaviest_node(subset, placed, k).max(cap)
}

/// Whether the searches for the cut that take seconds rather than milliseconds (kicks and regions, steps 10 and
/// 11) run by default: at up to [`FINAL_BALANCE_NODES_COUNTED`] nodes of at most [`KICK_MAX_SYSTEMS_PER_NODE`]
/// systems each. At 250 nodes the time target leaves no room for them; on a few large nodes they find little.
fn few_small_nodes(subset: &Subset<'_>, k: usize) -> bool {
    k <= FINAL_BALANCE_NODES_COUNTED && subset.len().div_ceil(k) <= KICK_MAX_SYSTEMS_PER_NODE
}

/// The load of the heaviest of the `k` nodes of `part`.
fn heaviest_node(subset: &Subset<'_>, part: &[u32], k: usize) -> f64 {
    let mut node_load = vec![0.0f64; k];
    for (v, &p) in part.iter().enumerate() {
        node_load[p as usize] += subset.load[v];
    }
    node_load.into_iter().fold(0.0, f64::max)
}

/// Steps 2–8 of [`partition`]: a mapping within the cap where one was found, else the best balanced one.
fn place(subset: &Subset<'_>, k: usize, cap: f64) -> Vec<u32> {
    let (core_systems, fillers) = split_fillers(subset, k, cap);
    let core = Core::split(subset, k, cap, core_systems, fillers);
    let (max, part) = best_run(subset, &core, k, cap);
    debug_assert!(part.len() == subset.len() && part.iter().all(|&p| (p as usize) < k), "a run maps every system");
    if max <= cap * (1.0 + SPILL_FROM) {
        return part;
    }
    balance_before_wholeness(subset, part, max, k, cap)
}

/// The systems the bisections cut (the *core*, step 3) and how they map back to the subset.
struct Core<'s, 'u> {
    subset: &'s Subset<'u>,
    /// The core without the near-dedicated systems: what the bisections cut into [`Core::rest_nodes`] nodes.
    rest: Subset<'u>,
    rest_nodes: usize,
    /// The whole core, the near-dedicated systems included: what the k-way balance works on.
    core: Subset<'u>,
    /// The near-dedicated systems (subset indices), heaviest first; the `i`-th starts as node `rest_nodes + i`.
    alone: Vec<usize>,
    /// The fillers of step 2, each a piece of the universe (subset indices).
    fillers: Vec<Vec<usize>>,
    /// Loads by universe index, for the bisections' own subsets.
    load: Vec<f64>,
    /// Subset index by universe index.
    local_of: Vec<usize>,
    /// Core index by universe index.
    core_local: Vec<usize>,
}

impl<'s, 'u> Core<'s, 'u> {
    /// Step 3: systems of the core (`core_systems`, subset indices) nearly as heavy as the cap
    /// ([`NEAR_DEDICATED_SHARE`]) are kept out of the bisection, at most `(k − 1) / 2` of them, heaviest first,
    /// and start as one-system nodes after the others. If too few gated systems are left to give every node
    /// one, the fillers and the near-dedicated systems join the core instead.
    fn split(
        subset: &'s Subset<'u>,
        k: usize,
        cap: f64,
        mut core_systems: Vec<usize>,
        mut fillers: Vec<Vec<usize>>,
    ) -> Self {
        let mut alone: Vec<usize> =
            core_systems.iter().copied().filter(|&v| subset.load[v] >= NEAR_DEDICATED_SHARE * cap).collect();
        alone.sort_by(|&a, &b| subset.load[b].total_cmp(&subset.load[a]).then(a.cmp(&b)));
        alone.truncate((k - 1) / 2);
        core_systems.retain(|v| !alone.contains(v));
        if core_systems.len() < k - alone.len() {
            core_systems = (0..subset.len()).collect();
            alone.clear();
            fillers.clear();
        }
        let universe = subset.universe;
        let (load, local_of) = subset.by_universe_index();
        let mask = |systems: &mut dyn Iterator<Item = usize>| {
            let mut keep = vec![false; universe.len()];
            for local in systems {
                keep[subset.global[local]] = true;
            }
            keep
        };
        let rest = Subset::new(universe, &load, &mask(&mut core_systems.iter().copied()));
        let core = Subset::new(universe, &load, &mask(&mut core_systems.iter().chain(&alone).copied()));
        let mut core_local = vec![usize::MAX; universe.len()];
        for (c, &global) in core.global.iter().enumerate() {
            core_local[global] = c;
        }
        debug_assert!(rest.len() >= k - alone.len(), "every node of the bisections gets a system");
        Core { subset, rest, rest_nodes: k - alone.len(), core, alone, fillers, load, local_of, core_local }
    }

    /// Steps 4–6 in one `variant`: the rest bisected, the whole core balanced and refined, the fillers placed.
    /// `memo` shares bisections between variants; `runs` holds the runs made so far, by their bisections, so a
    /// run whose bisections equal an earlier run's is not balanced again.
    fn run(
        &self,
        k: usize,
        cap: f64,
        variant: Variant,
        memo: &mut Memo,
        runs: &mut Vec<(Vec<u32>, Vec<u32>)>,
    ) -> Vec<u32> {
        let rest_part = bisect_all(&self.rest, &self.load, self.rest_nodes, cap, variant, memo);
        if let Some((_, part)) = runs.iter().find(|(r, _)| *r == rest_part) {
            return part.clone();
        }
        let refiner = self.balance_and_refine(&rest_part, k, cap);
        let mut part = vec![0u32; self.subset.len()];
        for (c, &p) in refiner.part.iter().enumerate() {
            part[self.local_of[self.core.global[c]]] = p;
        }
        let mut node_load = refiner.part_load.clone();
        place_fillers(self.subset, &self.fillers, &mut part, &mut node_load, &refiner.part, &self.core, cap);
        runs.push((rest_part, part.clone()));
        part
    }

    /// Step 5: the bisections' parts (`rest_part`) and the near-dedicated systems as one-system nodes, balanced
    /// over all `k` nodes and refined for the cut; at up to [`FINAL_BALANCE_NODES_COUNTED`] nodes a run that
    /// comes within [`SPILL_FROM`] of the cap (one that may be kept as it is) also redraws its borders for the
    /// cut (step 9), so that the choice between runs (step 7) sees the cut each can reach. Balancing only lowers
    /// the overload; refining and recombining only cut fewer gates.
    fn balance_and_refine(&self, rest_part: &[u32], k: usize, cap: f64) -> Refiner<'_, 'u> {
        let mut core_part = vec![0u32; self.core.len()];
        for (r, &global) in self.rest.global.iter().enumerate() {
            core_part[self.core_local[global]] = rest_part[r];
        }
        for (i, &v) in self.alone.iter().enumerate() {
            core_part[self.core_local[self.subset.global[v]]] = (self.rest_nodes + i) as u32;
        }
        let mut refiner = Refiner::new(&self.core, core_part, vec![cap; k]);
        let overload_before = refiner.overload();
        refiner.balance(FINAL_BALANCE_STEPS_PER_NODE * k.min(FINAL_BALANCE_NODES_COUNTED) + 64);
        // Compared with a rounding allowance: the overload is a sum of squares over the parts, summed again after
        // the moves, and a move that changes nothing in substance may change its last bits (a random case of
        // the property tests found one).
        debug_assert!(
            refiner.overload() <= overload_before + 1e-9 * (1.0 + overload_before),
            "the k-way balance raised the overload: {overload_before} -> {}",
            refiner.overload()
        );
        let cut_before = self.core.cut(&refiner.part);
        refiner.cap_at_current_load();
        refiner.refine(REFINE_PASSES);
        let heaviest = refiner.part_load.iter().copied().fold(0.0, f64::max);
        if k <= FINAL_BALANCE_NODES_COUNTED && heaviest <= cap * (1.0 + SPILL_FROM) {
            recombine_for_cut(&mut refiner, CUT_RECOMBINATION_TREES);
        }
        debug_assert!(self.core.cut(&refiner.part) <= cut_before, "refining cut more gates");
        refiner
    }
}

/// Step 7: steps 4–6 in each [`Variant`], in order, until one keeps every node within the cap (the later ones
/// only if the first [`ALWAYS_RUN`] — [`ALWAYS_RUN_MANY_NODES`] beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes —
/// came within [`LATER_VARIANTS_WITHIN`] of it); else the best balanced run, heaviest nodes within
/// [`EQUAL_BALANCE`] of the cap of each other counting as equal and then the fewer cut gates winning. Returns the
/// run's heaviest node and the run.
fn best_run(subset: &Subset<'_>, core: &Core<'_, '_>, k: usize, cap: f64) -> (f64, Vec<u32>) {
    let mut memo = Memo::default();
    let mut runs = Vec::new();
    let always_run = if k > FINAL_BALANCE_NODES_COUNTED { ALWAYS_RUN_MANY_NODES } else { ALWAYS_RUN };
    let mut best: Option<(f64, usize, Vec<u32>)> = None;
    for (i, variant) in Variant::IN_ORDER.into_iter().enumerate() {
        if i >= always_run && best.as_ref().is_some_and(|(m, _, _)| *m > cap * (1.0 + LATER_VARIANTS_WITHIN)) {
            break;
        }
        let part = core.run(k, cap, variant, &mut memo, &mut runs);
        let (max, cut) = (heaviest_node(subset, &part, k), subset.cut(&part));
        if max <= cap * (1.0 + CAP_TOLERANCE) {
            return (max, part);
        }
        let better = |m: f64, c: usize| {
            if (max - m).abs() <= EQUAL_BALANCE * cap { cut < c } else { max < m }
        };
        if best.as_ref().is_none_or(|(m, c, _)| better(*m, *c)) {
            best = Some((max, cut, part));
        }
    }
    let (max, _, part) = best.expect("at least one variant ran");
    (max, part)
}

/// Step 8, balance before wholeness: the last resort when no variant keeps every node within the cap while
/// keeping it one piece. Heavy systems side by side can leave no split into connected nodes within the cap, and
/// LPT, which the cap comes from, owes its balance to pairing such systems with small ones from anywhere.
///
/// Three tries on the run kept (`part`, whose heaviest node weighs `max`): [`spill`], [`repack`] of the run, and
/// repacking of the spills' result; repacking counts only within the spills' budget of nodes newly in pieces.
/// A try is kept only if it lowers the heaviest node by more than [`EQUAL_BALANCE`] of the cap (the earlier of
/// near-equal tries wins), so the heaviest node never gets heavier.
fn balance_before_wholeness(subset: &Subset<'_>, part: Vec<u32>, max: f64, k: usize, cap: f64) -> Vec<u32> {
    let budget = Refiner::new(subset, part.clone(), vec![cap; k]).parts_in_pieces() + k.div_ceil(SPILL_BUDGET_DIVISOR);
    let spilled = spill(subset, &part, k, cap);
    let repacked = repack(subset, &part, k, cap, budget);
    let spilled_and_repacked = repack(subset, &spilled, k, cap, budget);
    let mut kept = (max, part);
    for candidate in [Some(spilled), repacked, spilled_and_repacked].into_iter().flatten() {
        let candidate_max = heaviest_node(subset, &candidate, k);
        if candidate_max < kept.0 - EQUAL_BALANCE * cap {
            kept = (candidate_max, candidate);
        }
    }
    debug_assert!(kept.0 <= max, "balance before wholeness made the heaviest node heavier");
    kept.1
}

/// Step 9, recombination for the cut (see `Refiner::recombine_for_cut`): every pair of touching nodes redraws
/// its border along spanning trees of the two where that crosses fewer gates, within the refiner's caps (a node
/// above the cap only within its own load, so the heaviest node never gets heavier), then the greedy
/// refinement; repeated while it saves gates, at most [`CUT_RECOMBINATION_PASSES`] times, with
/// [`CUT_RECOMBINATION_TREES_FINAL`] trees per pair ([`CUT_RECOMBINATION_TREES_MANY_NODES`] beyond
/// [`FINAL_BALANCE_NODES_COUNTED`] nodes). Moving systems one or two at a time along a border stops where every
/// single step would pass a cap; redrawing a whole border at once does not. No node gets more pieces.
fn cut_by_recombination(refiner: &mut Refiner<'_, '_>, k: usize) {
    let before = refiner.checkpoint();
    let trees = if k > FINAL_BALANCE_NODES_COUNTED {
        CUT_RECOMBINATION_TREES_MANY_NODES
    } else {
        CUT_RECOMBINATION_TREES_FINAL
    };
    recombine_for_cut(refiner, trees);
    debug_assert!(refiner.kept_since(&before), "recombination for the cut broke an invariant");
}

/// Step 10, kicks (`Refiner::recombine_with_kicks`): `kicks` times a node redraws its borders with a few
/// neighbours even where that crosses more gates, step 9 follows it through, and the outcome is kept only if
/// the whole cuts fewer gates, or as many with more compact nodes; then the greedy refinement if anything was
/// kept. So the cut never grows, no cap is passed and no node gets more pieces.
fn kick_for_the_cut(refiner: &mut Refiner<'_, '_>, kicks: usize) {
    let before = refiner.checkpoint();
    if refiner.recombine_with_kicks(kicks, KICK) > 0 {
        refiner.refine(REFINE_PASSES);
    }
    debug_assert!(refiner.kept_since(&before), "the kicks broke an invariant");
}

/// Recombination for the cut with `trees` trees per pair, in passes while a pass saves gates (at most
/// [`CUT_RECOMBINATION_PASSES`]), then the greedy refinement if anything was saved.
fn recombine_for_cut(refiner: &mut Refiner<'_, '_>, trees: usize) {
    let mut saved = 0;
    for _ in 0..CUT_RECOMBINATION_PASSES {
        let now = refiner.recombine_for_cut(trees);
        saved += now;
        if now == 0 {
            break;
        }
    }
    if saved > 0 {
        refiner.refine(REFINE_PASSES);
    }
}

/// Balance before wholeness by spills (see `Refiner::spill`): the k-way balance runs again over the whole
/// subset (fillers included) with spills as its last kind of step — a system leaves an overloaded node even
/// where that splits the node, or joins a node near it in space that it does not touch. The kicks of the
/// balance follow a spill through, so the excess of a heavy pair can travel on. Spills may put at most one node
/// in [`SPILL_BUDGET_DIVISOR`] newly in pieces (rounded up), preferring moves that put none in pieces. Then the
/// refinement cuts fewer gates where the caps allow.
fn spill(subset: &Subset<'_>, part: &[u32], k: usize, cap: f64) -> Vec<u32> {
    let mut refiner = Refiner::new(subset, part.to_vec(), vec![cap; k]);
    refiner.allow_pieces = true;
    refiner.spill_budget = k.div_ceil(SPILL_BUDGET_DIVISOR);
    // First only the heaviest nodes act (those above a ceiling between the cap and the heaviest node), so the
    // budget goes to what decides the balance before the many nodes just above the cap use it up.
    let max = refiner.part_load.iter().copied().fold(0.0, f64::max);
    // As in the final k-way balance, nodes beyond FINAL_BALANCE_NODES_COUNTED add no steps.
    let steps = SPILL_STEPS_PER_NODE * k.min(FINAL_BALANCE_NODES_COUNTED) + 64;
    refiner.set_caps(cap + SPILL_FIRST_CEILING * (max - cap));
    refiner.balance(steps);
    refiner.set_caps(cap);
    refiner.balance(steps);
    refiner.allow_pieces = false;
    refiner.cap_at_current_load();
    refiner.refine(REFINE_PASSES);
    refiner.part
}

/// Balance before wholeness by repacking (see `Refiner::repack`): an overloaded node sheds border systems,
/// which are placed back heaviest first the way LPT places its systems. Where spills move excess one step at a
/// time and stop where every way out runs through full nodes, the pool carries it anywhere at once. It first
/// aims at the cap; if that leaves more than `budget` nodes in pieces, at the lowest ceiling between the cap and
/// the heaviest node that does not, found by bisection in [`REPACK_CEILING_STEPS`] steps (a lower heaviest node
/// is all the balance asks for). `None` if no ceiling tried stays within the budget.
fn repack(subset: &Subset<'_>, part: &[u32], k: usize, cap: f64, budget: usize) -> Option<Vec<u32>> {
    let heaviest = |loads: &[f64]| loads.iter().copied().fold(0.0, f64::max);
    let mut start = Refiner::new(subset, part.to_vec(), vec![cap; k]);
    let max = heaviest(&start.part_load);
    let in_pieces = start.fragmented_parts();
    let component = start.components().to_vec();
    let attempt = |ceiling: f64| {
        let mut refiner = Refiner::new(subset, part.to_vec(), vec![ceiling; k]).with_components(component.clone());
        refiner.repack(in_pieces.clone());
        let pieces = refiner.parts_in_pieces();
        (pieces <= budget).then_some(refiner)
    };
    let mut kept = attempt(cap);
    if kept.is_none() {
        let (mut low, mut high) = (0.0, 1.0);
        for _ in 0..REPACK_CEILING_STEPS {
            let share = (low + high) / 2.0;
            match attempt(cap + share * (max - cap)) {
                Some(refiner) => {
                    high = share;
                    if kept.as_ref().is_none_or(|k| heaviest(&refiner.part_load) < heaviest(&k.part_load)) {
                        kept = Some(refiner);
                    }
                }
                None => low = share,
            }
        }
    }
    // The refinement keeps every node within the ceiling aimed at (or its own load, if above it): no node passes
    // the heaviest, and the room up to the ceiling is there to cut fewer gates.
    let mut refiner = kept?;
    refiner.cap_at_current_load();
    refiner.refine(REFINE_PASSES);
    Some(refiner.part)
}

/// How a run of the bisections starts and balances. Each variant was measured to be the best one on some
/// maps; they are tried in order until one keeps every node within the cap, else the one with the lightest
/// heaviest node (then the fewest cut gates) is kept.
#[derive(Clone, Copy)]
struct Variant {
    /// Start each bisection from METIS's multilevel bisection (fewer cut gates) instead of the coordinate one.
    graph_start: bool,
    /// Balancing prefers moves that keep the receiving side within budget (see `Refiner::avoid_overshoot`).
    avoid_overshoot: bool,
    /// METIS's bisection may miss the side's share by this much (fewer cut gates, more balancing after).
    tolerance: f64,
}

impl Variant {
    const IN_ORDER: [Variant; 6] = [
        Variant { graph_start: true, avoid_overshoot: false, tolerance: LOOSE_START },
        Variant { graph_start: true, avoid_overshoot: true, tolerance: LOOSE_START },
        Variant { graph_start: true, avoid_overshoot: false, tolerance: TIGHT_START },
        Variant { graph_start: true, avoid_overshoot: true, tolerance: TIGHT_START },
        Variant { graph_start: false, avoid_overshoot: false, tolerance: TIGHT_START },
        Variant { graph_start: false, avoid_overshoot: true, tolerance: TIGHT_START },
    ];
}

/// Step 2: splits the subset's systems (local indices) into the core and the fillers, the latter grouped by
/// piece.
///
/// Fillers are the lightest pieces of the universe that no gate joins to the rest, taken lightest first while
/// each weighs at most half of the room a node will have on average once the core is placed
/// (`(k × cap − core load) / k`), so that every filler finds a node with room for it.
fn split_fillers(subset: &Subset<'_>, k: usize, cap: f64) -> (Vec<usize>, Vec<Vec<usize>>) {
    let label = subset.component_labels();
    let count = label.iter().copied().max().map_or(0, |m| m + 1);
    let mut pieces: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (v, &c) in label.iter().enumerate() {
        pieces[c].push(v);
    }
    let weight = |piece: &Vec<usize>| piece.iter().map(|&v| subset.load[v]).sum::<f64>();
    let total: f64 = subset.load.iter().sum();
    let largest = (0..count).max_by_key(|&c| (pieces[c].len(), std::cmp::Reverse(c)));
    let mut candidates: Vec<usize> = (0..count).filter(|&c| Some(c) != largest).collect();
    candidates.sort_by(|&a, &b| weight(&pieces[a]).total_cmp(&weight(&pieces[b])).then(a.cmp(&b)));
    // The longest run of lightest pieces whose heaviest member fits the room they leave.
    let mut filler_load = 0.0;
    let mut taken = 0;
    for (i, &c) in candidates.iter().enumerate() {
        let w = weight(&pieces[c]);
        filler_load += w;
        let room_per_node = (k as f64 * cap - total + filler_load) / k as f64;
        if w <= FILLER_SHARE_OF_ROOM * room_per_node {
            taken = i + 1;
        }
    }
    let mut is_filler = vec![false; count];
    for &c in &candidates[..taken] {
        is_filler[c] = true;
    }
    let mut core = Vec::new();
    let mut fillers = Vec::new();
    for (c, piece) in pieces.into_iter().enumerate() {
        if is_filler[c] {
            fillers.push(piece);
        } else {
            core.extend(piece);
        }
    }
    core.sort_unstable();
    debug_assert_eq!(
        core.len() + fillers.iter().map(Vec::len).sum::<usize>(),
        subset.len(),
        "every system is in the core or in one filler"
    );
    (core, fillers)
}

/// Step 6: places each filler piece whole: heaviest first, on the node with the most room among the nodes whose
/// systems lie nearest to it, or else on the node with the most room anywhere.
fn place_fillers(
    subset: &Subset<'_>,
    fillers: &[Vec<usize>],
    part: &mut [u32],
    node_load: &mut [f64],
    core_part: &[u32],
    core: &Subset<'_>,
    cap: f64,
) {
    const NEAREST_NODES: usize = 6;
    let k = node_load.len();
    // Node centres in space, from the core systems.
    let (centre, count) = super::part_centres(&core.position, core_part, k);
    let mut order: Vec<(f64, &Vec<usize>)> =
        fillers.iter().map(|piece| (piece.iter().map(|&v| subset.load[v]).sum::<f64>(), piece)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
    for (w, piece) in order {
        let here = piece.iter().fold(orrery_universe::Vec3::ZERO, |acc, &v| acc + subset.position[v])
            * (1.0 / piece.len() as f64);
        let near = super::nearest_parts(&centre, here, (0..k).filter(|&p| count[p] > 0), NEAREST_NODES);
        let roomiest = |candidates: &mut dyn Iterator<Item = usize>| {
            candidates.min_by(|&a, &b| node_load[a].total_cmp(&node_load[b]).then(a.cmp(&b)))
        };
        let near = roomiest(&mut near.into_iter().filter(|&p| node_load[p] + w <= cap));
        let node = near.or_else(|| roomiest(&mut (0..k))).unwrap_or(0);
        for &v in piece {
            part[v] = node as u32;
        }
        node_load[node] += w;
    }
    debug_assert!(
        fillers.iter().all(|piece| piece.iter().all(|&v| part[v] == part[piece[0]])),
        "a filler was split between nodes"
    );
}

/// Bisections already made, by (graph start, members, nodes): the two sides, kept only for bisections whose
/// result does not depend on `avoid_overshoot`.
type Memo = std::collections::HashMap<(bool, u64, Vec<usize>, usize), (Vec<usize>, Vec<usize>)>;

/// Step 4: recursive bisection of `core` into `k` parts, each split by [`bisect`]. On degenerate input (all
/// systems at one point, loads of zero) a part may come out empty; the strategies' common frame fills it
/// (`fill_empty_nodes`).
fn bisect_all(core: &Subset<'_>, load: &[f64], k: usize, cap: f64, variant: Variant, memo: &mut Memo) -> Vec<u32> {
    let universe = core.universe;
    let mut local_of = vec![usize::MAX; universe.len()];
    for (local, &global) in core.global.iter().enumerate() {
        local_of[global] = local;
    }
    let mut part = vec![0u32; core.len()];
    let mut pending = vec![(core.global.clone(), k, 0u32)];
    while let Some((members, nodes, first)) = pending.pop() {
        if nodes == 1 {
            for g in members {
                part[local_of[g]] = first;
            }
            continue;
        }
        let key = (variant.graph_start, variant.tolerance.to_bits(), members, nodes);
        let (near, far) = match memo.get(&key) {
            Some(sides) => sides.clone(),
            None => {
                let (near, far, overshoot_seen) = bisect(core, load, &key.2, nodes, cap, variant);
                if !overshoot_seen {
                    memo.insert(key, (near.clone(), far.clone()));
                }
                (near, far)
            }
        };
        let near_nodes = nodes / 2;
        pending.push((near, near_nodes, first));
        pending.push((far, nodes - near_nodes, first + near_nodes as u32));
    }
    part
}

/// Splits `members` (universe indices) for `nodes` nodes into the near side (⌊nodes/2⌋ nodes) and the far side.
fn bisect(
    core: &Subset<'_>,
    load: &[f64],
    members: &[usize],
    nodes: usize,
    cap: f64,
    variant: Variant,
) -> (Vec<usize>, Vec<usize>, bool) {
    let universe = core.universe;
    let mut keep = vec![false; universe.len()];
    for &g in members {
        keep[g] = true;
    }
    let set = Subset::new(universe, load, &keep);
    let (near_nodes, far_nodes) = (nodes / 2, nodes - nodes / 2);
    let start = if variant.graph_start {
        start_split(&set, near_nodes, far_nodes, variant.tolerance)
    } else {
        rcb_split(&set, near_nodes, far_nodes)
    };
    // Each side may take its proportional share of the load plus half of its proportional share of the slack
    // (what the set may carry beyond its load), so both halves keep at least half of their share of the slack
    // for the splits below them. The last split may use all of it.
    let total: f64 = set.load.iter().sum();
    let slack = (nodes as f64 * cap - total).max(0.0);
    let use_of_slack = if nodes == 2 { 1.0 } else { SLACK_USE_PER_SPLIT };
    let side_cap = |side_nodes: usize| side_nodes as f64 / nodes as f64 * (total + use_of_slack * slack);
    let mut refiner = Refiner::new(&set, start.clone(), vec![side_cap(near_nodes), side_cap(far_nodes)]);
    refiner.avoid_overshoot = variant.avoid_overshoot;
    refiner.dissolve_stray_pieces(&set.component_labels());
    refiner.balance(BALANCE_STEPS_PER_SYSTEM * set.len() + 16);
    refiner.cap_at_current_load();
    refiner.refine(REFINE_PASSES);
    let overshoot_seen = refiner.overshoot_seen;
    let mut side = refiner.part;
    // Each side needs at least as many systems as nodes; the graph work could in principle starve one.
    let near_count = side.iter().filter(|&&p| p == 0).count();
    if near_count < near_nodes || set.len() - near_count < far_nodes {
        side = start;
    }
    let near = (0..set.len()).filter(|&l| side[l] == 0).map(|l| set.global[l]).collect();
    let far = (0..set.len()).filter(|&l| side[l] == 1).map(|l| set.global[l]).collect();
    (near, far, overshoot_seen)
}

/// The start of a bisection: METIS's multilevel bisection when it is built in, else the coordinate bisection.
fn start_split(set: &Subset<'_>, near_nodes: usize, far_nodes: usize, tolerance: f64) -> Vec<u32> {
    #[cfg(feature = "metis")]
    if let Some(side) = super::metis::bisect(set, near_nodes as f64 / (near_nodes + far_nodes) as f64, tolerance) {
        return side;
    }
    rcb_split(set, near_nodes, far_nodes)
}

/// The weighted coordinate bisection of `set`: 0 for the near side, 1 for the far side.
fn rcb_split(set: &Subset<'_>, near_nodes: usize, far_nodes: usize) -> Vec<u32> {
    let mut items: Vec<usize> = (0..set.len()).collect();
    let axis = rcb::widest_axis(set, &items);
    items.sort_by(|&a, &b| set.position[a].axis(axis).total_cmp(&set.position[b].axis(axis)).then(a.cmp(&b)));
    let split = rcb::split_point(&set.load, &items, near_nodes, far_nodes);
    let mut side = vec![1u32; set.len()];
    for &i in &items[..split] {
        side[i] = 0;
    }
    side
}
