//! `best`: the locality of a graph partitioner with the balance of LPT.

use super::refine::{Kick, Refiner};
use super::{lpt, rcb, regions};
use crate::Options;
use crate::subset::Subset;

/// Balancing steps allowed per system of a set being bisected: generous, and it bounds the worst case.
const BALANCE_STEPS_PER_SYSTEM: usize = 2;
/// Balancing steps allowed per node in the final k-way balance. Measured: 4 reaches what 40 reach on the EVE
/// map and the generated universe; fewer cost balance (e.g. 1.0305 instead of 1.0070 max/mean, generated
/// universe on 24 nodes).
const FINAL_BALANCE_STEPS_PER_NODE: usize = 4;
/// Nodes beyond this many add no balancing steps: with many small nodes the bisections leave the k-way
/// balance either little to do or (heavy systems packed tightly) nothing it can do; measured on the EVE map at
/// 250 nodes, four times the steps bought nothing and cost 2.5× the time.
const FINAL_BALANCE_NODES_COUNTED: usize = 64;
/// A system at least this share of the cap gets a node of its own before the rest is cut (see [`partition`]).
const NEAR_DEDICATED_SHARE: f64 = 0.8;
/// Balancing steps allowed per node in each round of [`spill`]. Measured on the EVE map at 250 nodes (with a
/// single round against the cap): 1 step (≈ 20 ms) reached 1.174 × the mean of the shared nodes, 4 steps
/// 1.138 in six times the time, 8 steps no better.
const SPILL_STEPS_PER_NODE: usize = 1;
/// [`spill`] first balances against a ceiling this far from the cap towards the heaviest node. Measured at 250
/// nodes, shared-node balance without this round / with ceilings 0.05, 0.1, 0.2, 0.3, 0.6 then 0.3: EVE map
/// 1.174 / 1.119, 1.119, 1.034, 1.034, 1.040; generated universe 1.024 / 1.027, 1.029, 1.030, 1.033, 1.035.
const SPILL_FIRST_CEILING: f64 = 0.3;
/// The heaviest node must be more than this share above the cap for [`spill`] to run.
const SPILL_FROM: f64 = 0.001;
/// Spills may leave at most one node in five in pieces ([`spill`]): measured, that keeps the nodes in pieces
/// below METIS's on the EVE map and the generated universe; without a budget they reached 80–120 at 250 nodes.
const SPILL_BUDGET_DIVISOR: usize = 5;
/// Bisection steps for the lowest ceiling at which repacking stays within the budget of nodes in pieces
/// ([`repack`]). Measured: 3 steps instead of 4 gave 1.0307 instead of 1.0291 at 250 EVE nodes, 1.0322 instead
/// of 1.0253 at 180, and 1.0277 instead of 1.0187 at 180 generated nodes; each step costs a repacking (0.5–3 ms
/// at 250 nodes).
const REPACK_CEILING_STEPS: usize = 4;
/// Recombination for the cut ([`cut_by_recombination`]): passes at most, and spanning trees drawn per pair of
/// touching nodes in each — fewer beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes, where pairs are many and small.
/// Measured on the EVE map at 250 nodes with the first version, which left out pairs holding fillers (single
/// runs, 70 ms without the pass): 2 trees 960 cut gates instead of 967 in +5 ms, 8 trees 958 in +11 ms; at 64
/// nodes 4 trees 402, 8 trees 399, 32 trees (10 passes) 392 instead of 407; generated universe at 24 nodes 122
/// with 4–8 trees instead of 136. With the current version, 64 trees and 10 passes instead of 8 and 3
/// (2026-12-03): EVE map 63 cut gates instead of 78 at 7 nodes, 191 instead of 204 at 24 (METIS 197), 378
/// instead of 388 at 64, where the run kept also balances better (1.0014 instead of 1.0018, LPT 1.0015);
/// generated universe 106 instead of 118 at 24 and 305 instead of 329 at 64 — for 0.5 s instead of 0.05 s at
/// 7 nodes and 1.8 s instead of 0.25 s at 24 (all six runs there redraw their borders), where an operator
/// plans a cluster once before it starts. 32 trees with 3 passes gave 196 at 24 and 374 at 64 (1.0017); 128
/// and 256 trees 377 and 375 at 64 in 2× and 4× the time: the tight cap, not the trees, bounds it there.
const CUT_RECOMBINATION_PASSES: usize = 10;
const CUT_RECOMBINATION_TREES: usize = 64;
const CUT_RECOMBINATION_TREES_MANY_NODES: usize = 2;
/// Spanning trees per pair in the final recombination (step 9) at up to [`FINAL_BALANCE_NODES_COUNTED`] nodes:
/// once, on the mapping kept, so more trees cost far less than in every run. Measured 2026-12-03 (cut gates,
/// 64 → 256 trees): generated universe 106 → 97 at 24 nodes (METIS 98), 186 → 183 at 48, 268 → 262 at 64; EVE
/// map 40 → 35 at 3 nodes, 191 → 187 at 24, 378 → 376 at 64, 63 at 7 either way; balance unchanged (at 3 nodes
/// a node may fill up to the cap: 1.0001 like LPT). Time: 0.4 → 0.8 s at 24 generated nodes, 2.0 → 2.6 s at 24
/// EVE nodes, 0.6 → 0.9 s at 64. 512 trees gave 95 and 186 at 24 nodes for another 0.5–0.7 s.
const CUT_RECOMBINATION_TREES_FINAL: usize = 256;
/// Kicks after the final recombination (step 10, `Refiner::recombine_with_kicks`) per node, at up to
/// [`FINAL_BALANCE_NODES_COUNTED`] nodes: 512 kicks at 64 nodes, 192 at 24. More kept finding gates, slowly
/// (first version, cut alone: 2,000 kicks at 64 EVE nodes gave 351 cut gates instead of 368, for 7 s instead
/// of 2.5).
const KICKS_PER_NODE: usize = 8;
/// Kicks only where nodes hold at most this many systems on average: at 3 and 7 EVE nodes (1,800 and 780
/// systems) a kick's pairs are so large that 22 and 51 kicks took 0.5 and 2.4 s and saved no gate.
const KICK_MAX_SYSTEMS_PER_NODE: usize = 256;
/// Nodes in a region of step 11 by default (the node and the four it shares the most gates with). Measured
/// 2026-12-03 (before the rounds and the region's own kicks): regions of 3 nodes saved less (875 instead of 873
/// cut gates at 250 EVE nodes), of 8 no more (351 instead of 355 at 64 EVE nodes, 7 s instead of 5).
const REGION_NODES: usize = 5;
/// How a kick is made and followed through: four pairs of eight trees each, then recombination with 16 trees per
/// pair for at most three passes.
const KICK: Kick = Kick { pairs: 4, trees: 8, repair_trees: 16, repair_passes: 3 };
/// Refinement passes for each bisection and for the final k-way pass.
const REFINE_PASSES: usize = 8;
/// Two runs whose heaviest nodes differ by less than this share of the cap are taken as equally balanced.
const EQUAL_BALANCE: f64 = 0.0005;
/// The variants after the first two are run only if the best run so far came this close to the cap (as a share
/// of it). Measured: further off, they never balanced better (EVE map at 250 nodes: 1.242 × the cap for all four
/// METIS-started variants, 1.243 and 1.280 for the coordinate-started ones; generated universe at 250 nodes:
/// 1.148 for the first against 1.249–1.266; at 64 nodes 1.071 for the second and no better later), and each
/// costs a run.
const LATER_VARIANTS_WITHIN: f64 = 0.01;
/// Variants that run whatever the runs before them reached: two, and beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes
/// one. With many small nodes a run that misses the cap by more than [`LATER_VARIANTS_WITHIN`] leaves the
/// balance to step 8, and a second run changed nothing there or worse. Measured 2026-12-03 (shared-node
/// balance and cut gates, with the second run / without it): EVE map at 180 and 250 nodes and the generated
/// universe at 128, 250 and 400 nodes the same mapping (both runs had the same heaviest node, the first cut fewer
/// gates); EVE map at 100 nodes 1.0041 either way, 609 / 579 cut gates; at 400 nodes 1.118 / 1.062; generated
/// universe at 100 nodes 1.0107 / 1.0064. It was a fifth of the time at 250 EVE nodes (criterion: 110 → 88 ms).
const ALWAYS_RUN: usize = 2;
const ALWAYS_RUN_MANY_NODES: usize = 1;
/// How far METIS's bisection may miss a side's share of the load: the loose start cuts fewer gates and leaves
/// more to the balancing (EVE map: 43 instead of 44 cut gates at 3 nodes, 84 instead of 87 at 7, 407 instead of
/// 398–499 at 64; generated universe at 250 nodes 1.148 × the cap instead of 1.179), the tight one is better
/// elsewhere (EVE map at 24 nodes 217 instead of 241 cut gates, at 250 nodes 803 instead of 844).
const LOOSE_START: f64 = 0.01;
const TIGHT_START: f64 = 0.001;
/// The part of a set's slack (what its nodes may carry beyond its load) that one split may use up.
const SLACK_USE_PER_SPLIT: f64 = 0.5;
/// A piece of the universe that no stargate joins to the rest can join any node whole without splitting it: a
/// *filler*, if it weighs at most this share of the average room a node has left (see [`split_fillers`]).
const FILLER_SHARE_OF_ROOM: f64 = 1.0;

/// 1. The cap is the maximum node load LPT reaches on the same systems: `best` must not exceed it. An operator
///    may allow more (`imbalance`, a fraction of the ideal load `total / k`): the cap is then the larger of
///    the two, and the room above LPT's goes to cutting fewer gates and keeping nodes whole.
/// 2. Small pieces of the universe that no stargate joins to the rest (isolated systems, tiny gated clusters)
///    are *fillers*: whichever node they join, it gains no piece that could have been joined. They are set
///    aside and placed last.
/// 3. Systems nearly as heavy as the cap ([`NEAR_DEDICATED_SHARE`]) are kept out of the bisection and start as
///    one-system nodes: there is little room beside them, and carving such a node out of a region later would
///    split its neighbours. The k-way balance lets their nodes take in neighbours.
/// 4. The rest (the *core*) is cut by recursive bisection on the stargate graph. A set of `n` nodes may carry at
///    most `n × cap`, so each split keeps both halves within their share of that budget. Each split starts as
///    METIS's multilevel bisection or the weighted coordinate bisection (step 7), shares stray pieces of each
///    side out to the other side, moves or exchanges border systems until both sides are within budget, and
///    moves or swaps border systems while that cuts fewer gates. No step splits a side into pieces.
/// 5. A k-way balance brings every node within the cap where it can, and a k-way refinement cuts fewer gates
///    without leaving the cap.
/// 6. Fillers, heaviest first, go to the node with the most room among the nodes nearest to them in space (or
///    the node with the most room anywhere, if none near has room for them): the small loads LPT uses to even
///    out its nodes, placed so they even out ours.
/// 7. Steps 4–6 run in up to six [`Variant`]s until one keeps every node within the cap (the later ones only if
///    the first [`ALWAYS_RUN`] — [`ALWAYS_RUN_MANY_NODES`] beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes — came
///    within [`LATER_VARIANTS_WITHIN`] of it); else the best balanced run is kept, near-ties
///    going to the fewer cut gates. Variants reuse each other's bisections where the result cannot differ. At
///    up to 64 nodes, a run within [`SPILL_FROM`] of the cap redraws its borders for the cut (step 9) before
///    runs are compared.
/// 8. If that run still misses the cap by more than [`SPILL_FROM`], balance before wholeness ([`spill`] and
///    [`repack`]): nodes may give up being one piece, on at most one node in [`SPILL_BUDGET_DIVISOR`], to come
///    nearer the cap.
/// 9. Finally, recombination for the cut ([`cut_by_recombination`]): touching nodes redraw their border along
///    spanning trees where that crosses fewer gates, no node passing the cap (or the heaviest node, where that
///    is above the cap) or its own load if above it.
/// 10. *Kicks* (`Refiner::recombine_with_kicks`) leave the local minimum where step 9 stops: a node redraws
///     its borders with a few neighbours even where that crosses more gates, step 9 follows it through, and
///     the outcome is kept only if the whole cuts fewer gates, or as many with more compact nodes. By default
///     [`KICKS_PER_NODE`] per node at up to [`FINAL_BALANCE_NODES_COUNTED`] nodes of at most
///     [`KICK_MAX_SYSTEMS_PER_NODE`] systems each, none beyond; `kicks_per_node` per node if the operator chose.
/// 11. *Regions* (`regions::resolve`): each node with the nodes it shares the most gates with, mapped again by
///     this very function, kept where that cuts fewer gates, in rounds while they keep something. By default
///     regions of [`REGION_NODES`] nodes where the kicks run by default, none beyond; `region_nodes` if the
///     operator chose (0: none).
pub(crate) fn partition(subset: &Subset<'_>, k: usize, options: &Options) -> Vec<u32> {
    let Options { imbalance, kicks_per_node, region_nodes } = *options;
    if k <= 1 {
        return vec![0; subset.len()];
    }
    // The operator's imbalance, if larger than what LPT reaches, is room to cut fewer gates.
    let ideal = subset.load.iter().sum::<f64>() / k as f64;
    let cap = lpt::max_load(&subset.load, k).max(imbalance.map_or(0.0, |t| (1.0 + t) * ideal));
    let placed = place(subset, k, cap);
    // Where balance before wholeness left the heaviest node above the cap, the others may grow up to it while
    // redrawing borders: the balance is that node's and stays as it is. Measured (cut gates, nodes in pieces,
    // extra pieces): 250 EVE nodes 924, 40, 57 instead of 954, 44, 64; 250 generated nodes 807 cut gates instead
    // of 832; 180 EVE nodes 726 instead of 748.
    let cut_cap = heaviest_node(subset, &placed, k).max(cap);
    let part = cut_by_recombination(subset, placed, k, cut_cap, kicks_per_node);
    let default = if few_small_nodes(subset, k) { REGION_NODES } else { 0 };
    match region_nodes.unwrap_or(default) {
        0 => part,
        nodes => regions::resolve(subset, part, k, cut_cap, nodes),
    }
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

/// Steps 2–8 of [`partition`].
fn place(subset: &Subset<'_>, k: usize, cap: f64) -> Vec<u32> {
    let (mut core_systems, mut fillers) = split_fillers(subset, k, cap);
    let mut alone: Vec<usize> =
        core_systems.iter().copied().filter(|&v| subset.load[v] >= NEAR_DEDICATED_SHARE * cap).collect();
    alone.sort_by(|&a, &b| subset.load[b].total_cmp(&subset.load[a]).then(a.cmp(&b)));
    alone.truncate((k - 1) / 2);
    core_systems.retain(|v| !alone.contains(v));
    if core_systems.len() < k - alone.len() {
        // Too few gated systems to give every node one: fillers and near-dedicated systems join the core.
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
    // The core without the near-dedicated systems is cut into the remaining nodes; then, with those systems
    // back as one-system nodes, the whole core is balanced and refined, so their nodes can take in neighbours.
    let rest = Subset::new(universe, &load, &mask(&mut core_systems.iter().copied()));
    let rest_nodes = k - alone.len();
    let core = Subset::new(universe, &load, &mask(&mut core_systems.iter().chain(&alone).copied()));
    let mut core_local = vec![usize::MAX; universe.len()];
    for (c, &global) in core.global.iter().enumerate() {
        core_local[global] = c;
    }
    // Variants share work: a bisection that never met a move overshooting its target comes out the same with
    // or without `avoid_overshoot`, and the same bisections give the same result.
    let mut memo = Memo::default();
    let mut runs: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
    let mut run = |variant: Variant| -> Vec<u32> {
        let rest_part = bisect_all(&rest, &load, rest_nodes, cap, variant, &mut memo);
        if let Some((_, part)) = runs.iter().find(|(r, _)| *r == rest_part) {
            return part.clone();
        }
        let mut core_part = vec![0u32; core.len()];
        for (r, &global) in rest.global.iter().enumerate() {
            core_part[core_local[global]] = rest_part[r];
        }
        for (i, &v) in alone.iter().enumerate() {
            core_part[core_local[subset.global[v]]] = (rest_nodes + i) as u32;
        }
        let mut refiner = Refiner::new(&core, core_part, vec![cap; k]);
        refiner.balance(FINAL_BALANCE_STEPS_PER_NODE * k.min(FINAL_BALANCE_NODES_COUNTED) + 64);
        refiner.cap_at_current_load();
        refiner.refine(REFINE_PASSES);
        // Runs that come near the cap (the ones that may be kept as they are) redraw borders for the cut here
        // already, so that the choice between runs sees it: measured on the EVE map (first version, see
        // CUT_RECOMBINATION_TREES), 82 instead of 83 cut gates at 7 nodes, 207 instead of 217 at 24, 391 instead
        // of 399 at 64 (where a run 0.01% heavier and 8 gates lighter is now kept). Runs further off go on to
        // balance before wholeness, whose outcome this would change at random (measured: worse on the
        // generated universe at 24 and 64 nodes).
        let heaviest = refiner.part_load.iter().copied().fold(0.0, f64::max);
        if k <= FINAL_BALANCE_NODES_COUNTED && heaviest <= cap * (1.0 + SPILL_FROM) {
            recombine_for_cut(&mut refiner, CUT_RECOMBINATION_TREES);
        }

        let mut part = vec![0u32; subset.len()];
        for (c, &p) in refiner.part.iter().enumerate() {
            part[local_of[core.global[c]]] = p;
        }
        let mut node_load = refiner.part_load.clone();
        place_fillers(subset, &fillers, &mut part, &mut node_load, &refiner.part, &core, cap);
        runs.push((rest_part, part.clone()));
        part
    };
    let max_of = |part: &[u32]| heaviest_node(subset, part, k);
    let always_run = if k > FINAL_BALANCE_NODES_COUNTED { ALWAYS_RUN_MANY_NODES } else { ALWAYS_RUN };
    let mut best: Option<(f64, usize, Vec<u32>)> = None;
    for (i, variant) in Variant::IN_ORDER.into_iter().enumerate() {
        if i >= always_run && best.as_ref().is_some_and(|(m, _, _)| *m > cap * (1.0 + LATER_VARIANTS_WITHIN)) {
            break;
        }
        let part = run(variant);
        let (max, cut) = (max_of(&part), subset.cut(&part));
        if max <= cap * (1.0 + 1e-9) {
            return part;
        }
        // Heaviest nodes within a hair of each other count as equal; then the fewer cut gates win.
        let better = |m: f64, c: usize| {
            if (max - m).abs() <= EQUAL_BALANCE * cap { cut < c } else { max < m }
        };
        if best.as_ref().is_none_or(|(m, c, _)| better(*m, *c)) {
            best = Some((max, cut, part));
        }
    }
    let (max, _, part) = best.expect("at least one variant ran");
    // Balance before wholeness, only where the cap is missed by more than a hair (on the EVE map at 24 and 64
    // nodes it is missed by 0.06% and 0.02%: a piece or a few cut gates would buy nothing an operator sees, and
    // the pass costs most there, on large nodes). Three tries: spills, repacking the run, repacking after the
    // spills; repacking counts only within the spills' budget of nodes newly in pieces. A try is kept only if
    // it lowers the heaviest node (by more than a hair: the earlier of near-equal tries wins).
    if max <= cap * (1.0 + SPILL_FROM) {
        return part;
    }
    let budget = Refiner::new(subset, part.clone(), vec![cap; k]).parts_in_pieces() + k.div_ceil(SPILL_BUDGET_DIVISOR);
    let spilled = spill(subset, &part, k, cap);
    let repacked = repack(subset, &part, k, cap, budget);
    let spilled_and_repacked = repack(subset, &spilled, k, cap, budget);
    let mut kept = (max, part);
    for candidate in [Some(spilled), repacked, spilled_and_repacked].into_iter().flatten() {
        let candidate_max = max_of(&candidate);
        if candidate_max < kept.0 - EQUAL_BALANCE * cap {
            kept = (candidate_max, candidate);
        }
    }
    kept.1
}

/// Recombination for the cut (see `Refiner::recombine_for_cut`): every pair of touching nodes redraws its
/// border along spanning trees of the two where that crosses fewer gates, within the cap (a node above it only
/// within its own load, so the heaviest node never gets heavier), then the greedy refinement; repeated while
/// it saves gates, at most [`CUT_RECOMBINATION_PASSES`] times, with [`CUT_RECOMBINATION_TREES_FINAL`] trees per
/// pair (2 beyond [`FINAL_BALANCE_NODES_COUNTED`] nodes). Moving systems one or two at a time along a border
/// stops where every single step would pass a cap; redrawing a whole border at once does not. Then the kicks
/// of step 10: `kicks_per_node` per node if the operator chose, else [`KICKS_PER_NODE`] where nodes are few
/// and small enough and none beyond.
fn cut_by_recombination(
    subset: &Subset<'_>,
    part: Vec<u32>,
    k: usize,
    cap: f64,
    kicks_per_node: Option<usize>,
) -> Vec<u32> {
    let mut refiner = Refiner::new(subset, part, vec![cap; k]);
    refiner.cap_at_current_load();
    let trees = if k > FINAL_BALANCE_NODES_COUNTED {
        CUT_RECOMBINATION_TREES_MANY_NODES
    } else {
        CUT_RECOMBINATION_TREES_FINAL
    };
    recombine_for_cut(&mut refiner, trees);
    let default = if few_small_nodes(subset, k) { KICKS_PER_NODE } else { 0 };
    let kicks = kicks_per_node.unwrap_or(default).saturating_mul(k);
    if refiner.recombine_with_kicks(kicks, KICK) > 0 {
        refiner.refine(REFINE_PASSES);
    }
    refiner.part
}

/// Passes of `Refiner::recombine_for_cut` while they save gates (at most [`CUT_RECOMBINATION_PASSES`]), then
/// the greedy refinement if anything changed.
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

/// Balance before wholeness: the last resort when no variant keeps every node within the cap while keeping
/// it one piece. Heavy systems side by side (on the EVE map at 250 nodes, where the per-node share is 75 load
/// units, Amarr's 45 beside Kor-Azor Prime's 43) can leave no split into connected nodes within the cap, and
/// LPT, which the cap comes from, owes its balance to pairing such systems with small ones from anywhere.
///
/// The k-way balance runs again over the whole subset (fillers included), now with *spills* as its last kind
/// of step (see `Refiner::spill`): a system leaves an overloaded node even where that splits the node, or
/// joins a node near it in space that it does not touch. The kicks of the balance follow a spill through, so
/// the excess of a heavy pair can travel on. Spills may put at most one node in [`SPILL_BUDGET_DIVISOR`]
/// newly in pieces (rounded up), preferring moves that put none in pieces (a node already in pieces taking
/// more). Then the refinement cuts fewer gates where the caps allow.
fn spill(subset: &Subset<'_>, part: &[u32], k: usize, cap: f64) -> Vec<u32> {
    let mut refiner = Refiner::new(subset, part.to_vec(), vec![cap; k]);
    refiner.allow_pieces = true;
    refiner.spill_budget = k.div_ceil(SPILL_BUDGET_DIVISOR);
    // First only the heaviest nodes act (those above a ceiling between the cap and the heaviest node), so the
    // budget goes to what decides the balance before the many nodes just above the cap use it up.
    let max = refiner.part_load.iter().copied().fold(0.0, f64::max);
    // Nodes beyond FINAL_BALANCE_NODES_COUNTED add no steps, as in the final k-way balance: measured on the EVE
    // map at 250 nodes, 308 steps a round instead of 128 cost 20 ms more and bought nothing (1.0342 either way).
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
///
/// Measured on 2026-12-03: it meets LPT's balance on the generated universe at 48 and 64 nodes (1.0028 and
/// 1.0035; spills alone 1.0034 and 1.0061) and on the EVE map at 100 (1.0041 against 1.0088); at 250 nodes,
/// where aiming at the cap leaves 90–100 nodes in pieces, the ceiling brings the EVE map from 1.0342 to 1.0291
/// and the generated universe from 1.0340 to 1.0221.
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
        // Too many nodes in pieces: the lowest ceiling between the cap and the heaviest node that stays within
        // the budget, by bisection.
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
    // the heaviest, and the room up to the ceiling is there to cut fewer gates (measured at 250 EVE nodes: 954
    // cut gates and 44 nodes in pieces, against 966 and 46 with the cap itself).
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

/// Splits the subset's systems (local indices) into the core and the fillers, the latter grouped by piece.
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
    (core, fillers)
}

/// Places each filler piece whole: heaviest first, on the node with the most room among the nodes whose
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
}

/// Bisections already made, by (graph start, members, nodes): the two sides, kept only for bisections whose
/// result does not depend on `avoid_overshoot`.
type Memo = std::collections::HashMap<(bool, u64, Vec<usize>, usize), (Vec<usize>, Vec<usize>)>;

/// Recursive bisection of `core` into `k` parts; see [`partition`].
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
