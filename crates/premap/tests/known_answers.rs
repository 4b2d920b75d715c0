//! Hand-made universes whose right answer is known without running the code: separate clusters, one giant
//! system, a ring and a ladder, and hand-made mappings whose metrics can be counted on paper.

use std::collections::BTreeSet;

use orrery_premap::{Mapping, Strategy, dedicated_systems, evaluate, premap};
use orrery_universe::{ConstellationId, LIGHT_YEAR_M, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3};

/// A universe of systems at `positions` (ids 1, 2, …, one constellation per ten systems) joined by `gates` (pairs
/// of indices).
fn universe(positions: &[Vec3], gates: &[(usize, usize)]) -> Universe {
    let systems = positions
        .iter()
        .enumerate()
        .map(|(i, &position)| SolarSystem {
            id: SystemId(i as u32 + 1),
            name: format!("S{i}"),
            position,
            security: 0.5,
            constellation: ConstellationId(i as u32 / 10),
            region: RegionId(0),
            kind: SystemKind::KSpace,
        })
        .collect();
    let gates: Vec<(SystemId, SystemId)> =
        gates.iter().map(|&(a, b)| (SystemId(a as u32 + 1), SystemId(b as u32 + 1))).collect();
    Universe::new(systems, &gates, Vec::new(), Vec::new()).expect("a valid hand-made universe")
}

/// Whether the systems of `members` form one connected piece of the stargate graph.
fn connected(u: &Universe, members: &[usize]) -> bool {
    let inside: BTreeSet<usize> = members.iter().copied().collect();
    let Some(&start) = members.first() else { return true };
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(v) = stack.pop() {
        for &w in u.neighbours(v) {
            if inside.contains(&w) && seen.insert(w) {
                stack.push(w);
            }
        }
    }
    seen.len() == members.len()
}

// ---------------------------------------------------------------------------------------------------------------
// (a) Three equal, far-apart clusters
// ---------------------------------------------------------------------------------------------------------------

/// Three clusters of ten systems, each in a ball of about a light year, the balls 1e17 m (about 10 ly) apart on
/// the x axis. Cluster membership is interleaved over the indices (system `i` is in cluster `i % 3`) so that no
/// strategy gets the answer from index order. Inside a cluster the systems are joined by a path; no gate joins
/// two clusters.
fn three_clusters() -> (Universe, Vec<usize>) {
    let mut positions = Vec::new();
    let mut cluster = Vec::new();
    for i in 0..30 {
        let c = i % 3;
        let j = (i / 3) as f64;
        // Points spread around the centre of cluster c, within ±0.5e16 m.
        let offset = Vec3::new((j * 0.37).sin() * 4e15, (j * 1.3).cos() * 3e15, (j * 0.71).sin() * 4e15);
        positions.push(Vec3::new(c as f64 * 1e17, 0.0, 0.0) + offset);
        cluster.push(c);
    }
    let mut gates = Vec::new();
    for c in 0..3 {
        let members: Vec<usize> = (0..30).filter(|&i| cluster[i] == c).collect();
        gates.extend(members.windows(2).map(|w| (w[0], w[1])));
    }
    (universe(&positions, &gates), cluster)
}

#[test]
fn three_far_apart_clusters_get_a_node_each() {
    let (u, cluster) = three_clusters();
    let load = vec![1.0; u.len()];
    for strategy in [Strategy::Rcb, Strategy::Best, Strategy::Metis].into_iter().filter(|s| s.is_available()) {
        let mapping = premap(&u, &load, 3, strategy).unwrap();
        for (node, members) in mapping.members().iter().enumerate() {
            let clusters: BTreeSet<usize> = members.iter().map(|&s| cluster[s]).collect();
            assert_eq!(members.len(), 10, "{strategy}: node {node} holds {members:?}");
            assert_eq!(clusters.len(), 1, "{strategy}: node {node} mixes clusters {clusters:?}");
        }
        let metrics = evaluate(&u, &load, &mapping);
        assert_eq!(metrics.cut_gates, 0, "{strategy}");
        assert_eq!(metrics.fragmented_nodes, 0, "{strategy}");
        assert_eq!(metrics.node_loads, vec![10.0; 3], "{strategy}");
        assert_eq!(metrics.max_over_mean, 1.0, "{strategy}");
        assert!(metrics.mean_spread_ly < 1.0, "{strategy}: spread {} ly", metrics.mean_spread_ly);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// (b) One system heavier than all others together
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn a_giant_system_is_alone_on_its_node_for_every_strategy() {
    // A 7 × 7 grid, 1 ly apart, joined to its grid neighbours; system 24 (the centre) outweighs the rest.
    let positions: Vec<Vec3> =
        (0..49).map(|i| Vec3::new(f64::from(i % 7) * LIGHT_YEAR_M, 0.0, f64::from(i / 7) * LIGHT_YEAR_M)).collect();
    let mut gates = Vec::new();
    for i in 0..49 {
        if i % 7 < 6 {
            gates.push((i, i + 1));
        }
        if i / 7 < 6 {
            gates.push((i, i + 7));
        }
    }
    let u = universe(&positions, &gates);
    let giant = 24;
    let mut load: Vec<f64> = (0..49).map(|i| 1.0 + f64::from(i % 5) * 0.25).collect();
    load[giant] = load.iter().sum::<f64>() + 1.0;
    for nodes in 2..=6 {
        assert_eq!(dedicated_systems(&load, nodes), vec![giant], "{nodes} nodes");
        for strategy in Strategy::ALL.into_iter().filter(|s| s.is_available()) {
            let mapping = premap(&u, &load, nodes, strategy).unwrap();
            let node = mapping.node_of(giant);
            assert_eq!(mapping.members()[node], vec![giant], "{strategy}, {nodes} nodes: the giant shares its node");
            let metrics = evaluate(&u, &load, &mapping);
            let flagged: Vec<usize> = (0..nodes).filter(|&n| metrics.dedicated[n]).collect();
            assert_eq!(flagged, vec![node], "{strategy}, {nodes} nodes");
            // The giant's node is the heaviest and cannot be helped: the lower bound is the giant itself.
            assert!((metrics.max_over_bound - 1.0).abs() < 1e-12, "{strategy}: {}", metrics.max_over_bound);
        }
    }
    // With one node there is nothing to dedicate.
    let one = premap(&u, &load, 1, Strategy::Best).unwrap();
    assert!(one.assignment().iter().all(|&n| n == 0));
    assert_eq!(evaluate(&u, &load, &one).dedicated, vec![false]);
}

// ---------------------------------------------------------------------------------------------------------------
// (c) A ring and a ladder on two nodes
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn best_cuts_a_ring_into_two_arcs() {
    let n = 24;
    let positions: Vec<Vec3> = (0..n)
        .map(|i| {
            let angle = std::f64::consts::TAU * i as f64 / n as f64;
            Vec3::new(angle.cos() * 1e17, 0.0, angle.sin() * 1e17)
        })
        .collect();
    let gates: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    let u = universe(&positions, &gates);
    let load = vec![1.0; n];
    let mapping = premap(&u, &load, 2, Strategy::Best).unwrap();
    let metrics = evaluate(&u, &load, &mapping);
    // Any split of a ring into two connected arcs cuts exactly two gates.
    assert_eq!(metrics.cut_gates, 2, "{:?}", mapping.assignment());
    assert_eq!(metrics.node_loads, vec![12.0, 12.0]);
    for members in mapping.members() {
        assert!(connected(&u, &members), "{members:?} is not one arc");
    }
    assert_eq!(metrics.fragmented_nodes, 0);
}

#[test]
fn best_cuts_a_ladder_across() {
    // Two rails of 12 systems (x = 0..12 ly, z = 0 or 1 ly) joined by 12 rungs: the best balanced cut is 2
    // gates (across both rails between two rungs).
    let k = 12;
    let positions: Vec<Vec3> =
        (0..2 * k).map(|i| Vec3::new((i % k) as f64 * LIGHT_YEAR_M, 0.0, (i / k) as f64 * LIGHT_YEAR_M)).collect();
    let mut gates = Vec::new();
    for i in 0..k {
        gates.push((i, i + k));
        if i + 1 < k {
            gates.push((i, i + 1));
            gates.push((i + k, i + 1 + k));
        }
    }
    let u = universe(&positions, &gates);
    let load = vec![1.0; 2 * k];
    let mapping = premap(&u, &load, 2, Strategy::Best).unwrap();
    let metrics = evaluate(&u, &load, &mapping);
    assert!(metrics.cut_gates <= 4, "cut {} gates: {:?}", metrics.cut_gates, mapping.assignment());
    assert_eq!(metrics.node_loads, vec![12.0, 12.0]);
    for members in mapping.members() {
        assert!(connected(&u, &members), "{members:?} is not connected");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// (d) Metrics of hand-made mappings
// ---------------------------------------------------------------------------------------------------------------

/// Two unconnected paths: 0–1–2–3 and 4–5–6–7.
fn two_paths() -> Universe {
    let positions: Vec<Vec3> = (0..8).map(|i| Vec3::new(f64::from(i) * 1e16, 0.0, 0.0)).collect();
    universe(&positions, &[(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7)])
}

#[test]
fn a_node_spanning_two_unconnected_parts_is_not_fragmented() {
    let u = two_paths();
    let load = vec![1.0; 8];
    // Node 0: {0,1} and {4,5} — one piece in each part. Node 1: {2,3} and {6,7} — likewise.
    let mapping = Mapping::new(2, vec![0, 0, 1, 1, 0, 0, 1, 1]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.fragmented_nodes, 0);
    assert_eq!(m.extra_pieces, 0);
    assert_eq!(m.cut_gates, 2, "1–2 and 5–6");
}

#[test]
fn two_pieces_in_one_part_are_fragmented() {
    let u = two_paths();
    let load = vec![1.0; 8];
    // Node 0: {0} and {3} (two pieces of the first path); node 1: {1,2}; node 2: the whole second path.
    let mapping = Mapping::new(3, vec![0, 1, 1, 0, 2, 2, 2, 2]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.fragmented_nodes, 1);
    assert_eq!(m.extra_pieces, 1);
    assert_eq!(m.cut_gates, 2, "0–1 and 2–3");

    // Node 0 also takes a piece of the second path: still one avoidable extra piece.
    let mapping = Mapping::new(3, vec![0, 1, 1, 0, 0, 2, 2, 2]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!((m.fragmented_nodes, m.extra_pieces), (1, 1));

    // Every other system on node 0 of the first path: {0,2} on node 0, {1,3} on node 1 — both fragmented.
    let mapping = Mapping::new(3, vec![0, 1, 0, 1, 2, 2, 2, 2]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!((m.fragmented_nodes, m.extra_pieces), (2, 2));
    assert_eq!(m.cut_gates, 3);

    // Three pieces of one path on one node: two extra pieces.
    let positions: Vec<Vec3> = (0..5).map(|i| Vec3::new(f64::from(i), 0.0, 0.0)).collect();
    let path = universe(&positions, &[(0, 1), (1, 2), (2, 3), (3, 4)]);
    let mapping = Mapping::new(2, vec![0, 1, 0, 1, 0]).unwrap();
    let m = evaluate(&path, &[1.0; 5], &mapping);
    assert_eq!((m.fragmented_nodes, m.extra_pieces), (2, 3), "node 0 has 3 pieces, node 1 has 2");
}

#[test]
fn isolated_systems_never_fragment_a_node() {
    let positions: Vec<Vec3> = (0..6).map(|i| Vec3::new(f64::from(i) * 1e16, 0.0, 0.0)).collect();
    let u = universe(&positions, &[]);
    let mapping = Mapping::new(2, vec![0, 1, 0, 1, 0, 1]).unwrap();
    let m = evaluate(&u, &[1.0; 6], &mapping);
    assert_eq!((m.fragmented_nodes, m.extra_pieces, m.cut_gates), (0, 0, 0));
}

#[test]
fn balance_and_spread_figures_by_hand() {
    // Systems 0 and 1 two light years apart; 2 and 3 at the same point.
    let positions = [
        Vec3::new(0.0, 0.0, 0.0),
        Vec3::new(2.0 * LIGHT_YEAR_M, 0.0, 0.0),
        Vec3::new(5e17, 5e17, 0.0),
        Vec3::new(5e17, 5e17, 0.0),
    ];
    let u = universe(&positions, &[(0, 1), (1, 2), (2, 3)]);
    let load = [4.0, 1.0, 1.0, 2.0];

    // Node loads 5 and 3: mean 4, lower bound max(8/2, 4) = 4.
    let mapping = Mapping::new(2, vec![0, 0, 1, 1]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.node_loads, vec![5.0, 3.0]);
    assert!((m.max_over_mean - 1.25).abs() < 1e-12);
    assert!((m.max_over_bound - 1.25).abs() < 1e-12);
    assert!((m.shared_max_over_mean - 1.25).abs() < 1e-12, "4 is not above 8/2: no node is dedicated");
    assert_eq!(m.dedicated, vec![false, false]);
    assert!((m.coefficient_of_variation - 0.25).abs() < 1e-12);
    assert_eq!(m.cut_gates, 1);
    assert_eq!((m.fragmented_nodes, m.extra_pieces), (0, 0));
    // Node 0: both systems 1 ly from their centre; node 1: both at the centre. Mean over nodes: 0.5 ly.
    assert!((m.mean_spread_ly - 0.5).abs() < 1e-9, "{}", m.mean_spread_ly);

    // Perfect balance: 4 | 1 + 1 + 2.
    let mapping = Mapping::new(2, vec![0, 1, 1, 1]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.node_loads, vec![4.0, 4.0]);
    assert_eq!(m.max_over_mean, 1.0);
    assert_eq!(m.max_over_bound, 1.0);
    assert_eq!(m.coefficient_of_variation, 0.0);
    assert_eq!(m.cut_gates, 1);

    // All loads zero: perfectly balanced by convention, not NaN.
    let m = evaluate(&u, &[0.0; 4], &mapping);
    assert_eq!(m.max_over_mean, 1.0);
    assert!(!m.coefficient_of_variation.is_nan());

    // An empty node in a hand-made mapping: loads 8 and 0, mean 4.
    let mapping = Mapping::new(2, vec![0, 0, 0, 0]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.node_loads, vec![8.0, 0.0]);
    assert_eq!(m.max_over_mean, 2.0);
    assert_eq!(m.cut_gates, 0);
}

#[test]
fn dedicated_flag_and_shared_balance_by_hand() {
    let positions: Vec<Vec3> = (0..5).map(|i| Vec3::new(f64::from(i) * 1e16, 0.0, 0.0)).collect();
    let u = universe(&positions, &[(0, 1), (1, 2), (2, 3), (3, 4)]);
    // 20 > 26/3: system 2 is dedicated; the shared nodes carry 3 + 3 (1+2 | 1+2).
    let load = [1.0, 2.0, 20.0, 2.0, 1.0];
    let mapping = Mapping::new(3, vec![0, 0, 2, 1, 1]).unwrap();
    let m = evaluate(&u, &load, &mapping);
    assert_eq!(m.dedicated, vec![false, false, true]);
    assert_eq!(m.shared_max_over_mean, 1.0);
    // max 20, bound max(26/3, 20) = 20.
    assert_eq!(m.max_over_bound, 1.0);
    assert!((m.max_over_mean - 20.0 / (26.0 / 3.0)).abs() < 1e-12);
    // And every strategy puts it alone, with the shared nodes 3 and 3.
    for strategy in Strategy::ALL.into_iter().filter(|s| s.is_available()) {
        let mapping = premap(&u, &load, 3, strategy).unwrap();
        assert_eq!(mapping.members()[mapping.node_of(2)], vec![2], "{strategy}");
    }
    let m = evaluate(&u, &load, &premap(&u, &load, 3, Strategy::Best).unwrap());
    let mut shared: Vec<f64> = (0..3).filter(|&n| !m.dedicated[n]).map(|n| m.node_loads[n]).collect();
    shared.sort_by(f64::total_cmp);
    assert_eq!(shared, vec![3.0, 3.0], "best balances the shared nodes perfectly here");
}

// ---------------------------------------------------------------------------------------------------------------
// (e) Two adjacent heavy systems: balance before wholeness
// ---------------------------------------------------------------------------------------------------------------

/// A path H1 – H2 – L1 – L2 with loads 10, 10, 1, 1 on two nodes. LPT reaches 11 on each node by pairing each
/// heavy system with a light one. Every split of the path into two connected nodes has a node of at least 12
/// ({H1} | {H2, L1, L2}), so `best` can meet LPT's cap only by giving up connectivity: H1 must share its node
/// with a light system it does not touch.
#[test]
fn best_gives_up_connectivity_to_meet_the_cap_when_heavy_systems_touch() {
    let positions: Vec<Vec3> = (0..4).map(|i| Vec3::new(f64::from(i) * 1e16, 0.0, 0.0)).collect();
    let u = universe(&positions, &[(0, 1), (1, 2), (2, 3)]);
    let load = vec![10.0, 10.0, 1.0, 1.0];
    let best = evaluate(&u, &load, &premap(&u, &load, 2, Strategy::Best).unwrap());
    let lpt = evaluate(&u, &load, &premap(&u, &load, 2, Strategy::Lpt).unwrap());
    let max = |m: &orrery_premap::Metrics| m.node_loads.iter().copied().fold(0.0, f64::max);
    assert_eq!(max(&lpt), 11.0);
    assert!(max(&best) <= max(&lpt) + 1e-9, "best's heaviest node {} is above LPT's {}", max(&best), max(&lpt));
    assert!(best.fragmented_nodes >= 1, "no connected split meets the cap, so a node must be in pieces");
}
