//! Properties every strategy must have on any universe: random sizes, positions (including all identical and
//! tiny ranges), stargate graphs (including none and disconnected ones), loads (including all zero and a few very
//! heavy systems) and node counts. Plus input validation and the sanity of `evaluate`.

use std::collections::{BTreeMap, BTreeSet};

use orrery_premap::{Mapping, Options, PremapError, Strategy, dedicated_systems, evaluate, premap, premap_with};
use orrery_universe::{
    ConstellationId, GeneratorConfig, LoadProfile, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3,
    generate,
};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;
use proptest::test_runner::Config as ProptestConfig;

fn config(cases: u32) -> ProptestConfig {
    // Modest by default to keep the suite fast; `PROPTEST_CASES=5000 cargo test …` searches harder.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    // No regression files: failures print their minimal input instead.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn available() -> Vec<Strategy> {
    Strategy::ALL.into_iter().filter(|s| s.is_available()).collect()
}

/// A random premapping problem, kept as plain data so that proptest can shrink and print it.
#[derive(Debug, Clone)]
struct Case {
    positions: Vec<(f64, f64, f64)>,
    /// Constellation number of each system (a few systems per constellation, in no particular order).
    constellation: Vec<u32>,
    /// Gates as pairs of indices (may repeat, never self-loops).
    gates: Vec<(usize, usize)>,
    load: Vec<f64>,
    nodes: usize,
}

impl Case {
    fn universe(&self) -> Universe {
        let systems = self
            .positions
            .iter()
            .zip(&self.constellation)
            .enumerate()
            .map(|(i, (&(x, y, z), &c))| SolarSystem {
                // Ids not in index order, to catch confusion of ids and indices.
                id: id_of(i),
                name: format!("S{i}"),
                position: Vec3::new(x, y, z),
                security: if i % 3 == 0 { 0.9 } else { -0.2 },
                constellation: ConstellationId(20_000_000 + c),
                region: RegionId(10_000_000 + c / 4),
                kind: SystemKind::KSpace,
            })
            .collect();
        let gates: Vec<(SystemId, SystemId)> = self.gates.iter().map(|&(a, b)| (id_of(a), id_of(b))).collect();
        Universe::new(systems, &gates, Vec::new(), Vec::new()).expect("the generated case is a valid universe")
    }
}

/// The id of the system at index `i`: unique (7919 is coprime to the prime 100,003) and not in index order.
fn id_of(i: usize) -> SystemId {
    SystemId(30_000_000 + ((i as u32 * 7919) % 100_003))
}

fn positions(n: usize) -> BoxedStrategy<Vec<(f64, f64, f64)>> {
    let coordinate = || -5e17..5e17f64;
    prop_oneof![
        // Spread like the EVE map.
        prop::collection::vec((coordinate(), -1e17..1e17f64, coordinate()), n),
        // Every system at the same point.
        (coordinate(), coordinate(), coordinate()).prop_map(move |p| vec![p; n]),
        // A tiny range: metres and below.
        prop::collection::vec((0.0..1e-6f64, 0.0..1e-6f64, 0.0..1e-6f64), n),
        // A handful of distinct points, many systems on each.
        prop::collection::vec((0..3u8, 0..2u8), n)
            .prop_map(|v| v.into_iter().map(|(a, b)| (f64::from(a) * 1e16, 0.0, f64::from(b) * 1e16)).collect()),
        // On a line (two axes flat).
        prop::collection::vec(coordinate(), n).prop_map(|v| v.into_iter().map(|x| (x, 0.0, 0.0)).collect()),
    ]
    .boxed()
}

fn gates(n: usize) -> BoxedStrategy<Vec<(usize, usize)>> {
    let clean = |v: Vec<(usize, usize)>| v.into_iter().filter(|(a, b)| a != b).collect::<Vec<_>>();
    prop_oneof![
        // No stargates at all.
        Just(Vec::new()),
        // Random gates: anything from a sparse forest to a dense tangle, duplicates included.
        prop::collection::vec((0..n, 0..n), 0..=(3 * n)).prop_map(clean),
        // Chains along the index order with random breaks: several disconnected paths.
        prop::collection::vec(any::<bool>(), n)
            .prop_map(|links| { (1..links.len()).filter(|&i| links[i]).map(|i| (i - 1, i)).collect::<Vec<_>>() }),
        // A connected path plus a few random chords.
        prop::collection::vec((0..n, 0..n), 0..=4).prop_map(move |extra| {
            let mut g: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
            g.extend(extra.into_iter().filter(|(a, b)| a != b));
            g
        }),
    ]
    .boxed()
}

fn loads(n: usize) -> BoxedStrategy<Vec<f64>> {
    prop_oneof![
        Just(vec![1.0; n]),
        Just(vec![0.0; n]),
        prop::collection::vec(0.0..10.0f64, n),
        // A few very heavy systems among ordinary ones.
        (prop::collection::vec(0.5..5.0f64, n), prop::collection::vec((0..n, 1e2..1e9f64), 1..=3)).prop_map(
            |(mut load, heavy)| {
                for (i, l) in heavy {
                    load[i] = l;
                }
                load
            }
        ),
        // Mostly zero with some tiny and some large values.
        prop::collection::vec(prop_oneof![Just(0.0), 0.0..1e-6f64, 1.0..2.0f64, 1e3..1e6f64], n),
    ]
    .boxed()
}

fn case() -> impl proptest::strategy::Strategy<Value = Case> {
    (1usize..=120).prop_flat_map(|n| {
        (positions(n), prop::collection::vec(0..(n as u32 / 5 + 1), n), gates(n), loads(n), 1..=n).prop_map(
            |(positions, constellation, gates, load, nodes)| Case { positions, constellation, gates, load, nodes },
        )
    })
}

/// Gates by brute force from the case's own list: each unordered pair once.
fn distinct_gates(case: &Case) -> BTreeSet<(usize, usize)> {
    case.gates.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect()
}

/// Union–find root, with path halving.
fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// (fragmented nodes, extra pieces) computed independently of the library: pieces of each node by union–find
/// over the gates inside the node, counted per component of the whole graph.
fn reference_fragmentation(
    n: usize,
    gates: &BTreeSet<(usize, usize)>,
    node_of: &[u32],
    nodes: usize,
) -> (usize, usize) {
    let mut component: Vec<usize> = (0..n).collect();
    let mut piece: Vec<usize> = (0..n).collect();
    for &(a, b) in gates {
        let (ra, rb) = (find(&mut component, a), find(&mut component, b));
        component[ra] = rb;
        if node_of[a] == node_of[b] {
            let (pa, pb) = (find(&mut piece, a), find(&mut piece, b));
            piece[pa] = pb;
        }
    }
    // node → component → set of piece roots
    let mut pieces: Vec<BTreeMap<usize, BTreeSet<usize>>> = vec![BTreeMap::new(); nodes];
    for v in 0..n {
        let c = find(&mut component, v);
        let p = find(&mut piece, v);
        pieces[node_of[v] as usize].entry(c).or_default().insert(p);
    }
    let extra_per_node: Vec<usize> = pieces.iter().map(|m| m.values().map(|s| s.len() - 1).sum()).collect();
    (extra_per_node.iter().filter(|&&e| e > 0).count(), extra_per_node.iter().sum())
}

/// Checks what `evaluate` must report for any mapping, against brute-force counts.
fn check_evaluate(case: &Case, universe: &Universe, mapping: &Mapping) -> Result<(), TestCaseError> {
    let n = universe.len();
    let nodes = mapping.nodes();
    let metrics = evaluate(universe, &case.load, mapping);
    prop_assert_eq!(metrics.node_loads.len(), nodes);
    prop_assert_eq!(metrics.dedicated.len(), nodes);
    let total: f64 = case.load.iter().sum();
    let summed: f64 = metrics.node_loads.iter().sum();
    prop_assert!((summed - total).abs() <= 1e-9 * total.max(1.0), "node loads sum {} vs total {}", summed, total);
    let mut by_hand = vec![0.0; nodes];
    for (i, &l) in case.load.iter().enumerate() {
        by_hand[mapping.node_of(i)] += l;
    }
    for (node, (&got, &want)) in metrics.node_loads.iter().zip(&by_hand).enumerate() {
        prop_assert!((got - want).abs() <= 1e-9 * want.max(1.0), "node {}: {} vs {}", node, got, want);
    }
    let gates = distinct_gates(case);
    let cut = gates.iter().filter(|&&(a, b)| mapping.node_of(a) != mapping.node_of(b)).count();
    prop_assert_eq!(metrics.cut_gates, cut);
    prop_assert!(metrics.fragmented_nodes <= nodes);
    prop_assert!(metrics.extra_pieces >= metrics.fragmented_nodes);
    let (fragmented, extra) = reference_fragmentation(n, &gates, mapping.assignment(), nodes);
    prop_assert_eq!((metrics.fragmented_nodes, metrics.extra_pieces), (fragmented, extra));
    prop_assert!(metrics.max_over_mean >= 1.0 - 1e-12, "max/mean {}", metrics.max_over_mean);
    prop_assert!(metrics.max_over_bound <= metrics.max_over_mean + 1e-12 || metrics.max_over_mean.is_infinite());
    prop_assert!(metrics.coefficient_of_variation >= 0.0);
    prop_assert!(metrics.mean_spread_ly.is_finite() && metrics.mean_spread_ly >= 0.0);
    for d in dedicated_systems(&case.load, nodes) {
        prop_assert!(metrics.dedicated[mapping.node_of(d)]);
    }
    if nodes == 1 {
        prop_assert_eq!(metrics.cut_gates, 0);
        prop_assert_eq!(metrics.fragmented_nodes, 0);
        prop_assert_eq!(metrics.extra_pieces, 0);
        prop_assert_eq!(metrics.max_over_mean, 1.0);
    }
    Ok(())
}

/// The properties every strategy must have on one case: a mapping of every system to a node in range, no node
/// empty, the same mapping when run again, every dedicated system alone on its node, and sane metrics.
fn check_strategy(strategy: Strategy, case: &Case) -> Result<(), TestCaseError> {
    check_strategy_with(strategy, case, &Options::default())
}

/// [`check_strategy`] with `options`.
fn check_strategy_with(strategy: Strategy, case: &Case, options: &Options) -> Result<(), TestCaseError> {
    let universe = case.universe();
    if !strategy.is_available() {
        // A build without the strategy's feature must refuse it by name rather than map with something else.
        let refused = premap_with(&universe, &case.load, case.nodes, strategy, options);
        prop_assert_eq!(refused, Err(PremapError::Unavailable(strategy.name())));
        return Ok(());
    }
    let n = universe.len();
    let nodes = case.nodes;
    let mapping = premap_with(&universe, &case.load, nodes, strategy, options);
    prop_assert!(mapping.is_ok(), "{}: {:?}", strategy, mapping);
    let mapping = mapping.unwrap();
    prop_assert_eq!(mapping.nodes(), nodes);
    prop_assert_eq!(mapping.assignment().len(), n, "one node per system");
    prop_assert!(mapping.assignment().iter().all(|&node| (node as usize) < nodes));
    let members = mapping.members();
    for (node, m) in members.iter().enumerate() {
        prop_assert!(!m.is_empty(), "node {} is empty", node);
    }
    let again = premap_with(&universe, &case.load, nodes, strategy, options).unwrap();
    prop_assert_eq!(&again, &mapping, "not deterministic");
    for d in dedicated_systems(&case.load, nodes) {
        prop_assert_eq!(&members[mapping.node_of(d)], &vec![d], "dedicated system {} shares its node", d);
    }
    check_evaluate(case, &universe, &mapping)
}

/// One property test per strategy, so that a failure names the strategy and does not hide the others.
macro_rules! strategy_properties {
    ($($name:ident => $strategy:expr),* $(,)?) => {
        proptest! {
            #![proptest_config(config(64))]
            $(
                #[test]
                fn $name(case in case()) {
                    check_strategy($strategy, &case)?;
                }
            )*
        }
    };
}

strategy_properties! {
    constellation_makes_a_valid_deterministic_mapping => Strategy::Constellation,
    lpt_makes_a_valid_deterministic_mapping => Strategy::Lpt,
    rcb_makes_a_valid_deterministic_mapping => Strategy::Rcb,
    metis_makes_a_valid_deterministic_mapping => Strategy::Metis,
    best_makes_a_valid_deterministic_mapping => Strategy::Best,
}

proptest! {
    #![proptest_config(config(64))]

    /// An operator's imbalance allowance changes where systems go, never the rules: every system on one node
    /// in range, no node empty, determinism, dedicated systems alone. Kicks asked for (at any node count, where
    /// `best` would not kick by default) and regions mapped again (step 11) likewise.
    #[test]
    fn best_and_metis_with_an_imbalance_make_valid_deterministic_mappings(
        case in case(),
        percent in 0u32..60,
        kicks in proptest::option::of(0usize..4),
        regions in proptest::option::of(prop_oneof![Just(0usize), 2usize..5]),
    ) {
        let options =
            Options { imbalance: Some(f64::from(percent) / 100.0), kicks_per_node: kicks, region_nodes: regions };
        check_strategy_with(Strategy::Best, &case, &options)?;
        check_strategy_with(Strategy::Metis, &case, &options)?;
    }
}

#[test]
fn a_region_of_one_node_is_refused() {
    let u = line(6);
    let options = Options { region_nodes: Some(1), ..Options::default() };
    let refused = premap_with(&u, &[1.0; 6], 2, Strategy::Best, &options);
    assert_eq!(refused, Err(PremapError::BadRegionNodes(1)));
    let message = refused.expect_err("refused").to_string();
    assert!(message.contains("at least 2 nodes") && message.contains("0 turns regions off"), "{message}");
}

#[test]
fn a_negative_or_non_finite_imbalance_is_refused_with_its_value() {
    let u = line(6);
    for strategy in available() {
        for bad in [-0.01, f64::NAN, f64::INFINITY] {
            let refused =
                premap_with(&u, &[1.0; 6], 2, strategy, &Options { imbalance: Some(bad), ..Options::default() });
            let Err(PremapError::BadImbalance(value)) = refused else {
                panic!("{strategy}: imbalance {bad} gave {refused:?}");
            };
            assert!(value.to_bits() == bad.to_bits(), "{strategy}: reported {value} for {bad}");
            let message = PremapError::BadImbalance(bad).to_string();
            assert!(message.contains("imbalance") && message.contains("≥ 0"), "{message}");
        }
    }
}

#[test]
fn the_per_strategy_tests_cover_every_strategy() {
    // If a strategy is added, add a line to `strategy_properties!` above.
    assert_eq!(Strategy::ALL.len(), 5);
}

proptest! {
    #![proptest_config(config(64))]

    /// The dedicated-node bound: on every node without a dedicated system, the load is at most the mean of those
    /// nodes plus the heaviest system they share out (Graham's list-scheduling bound, which LPT always meets).
    /// `best` does not always meet it: keeping nodes whole can force more onto a node (a random case found a
    /// node at 4 where the bound was 3.8), so it is checked for LPT only.
    #[test]
    fn lpt_meets_the_list_scheduling_bound(case in case()) {
        let universe = case.universe();
        let nodes = case.nodes;
        let strategy = Strategy::Lpt;
        let mapping = premap(&universe, &case.load, nodes, strategy).unwrap();
        let dedicated: BTreeSet<usize> = dedicated_systems(&case.load, nodes).into_iter().collect();
        let dedicated_nodes: BTreeSet<usize> = dedicated.iter().map(|&d| mapping.node_of(d)).collect();
        let shared_systems: Vec<usize> = (0..universe.len()).filter(|i| !dedicated.contains(i)).collect();
        let shared_total: f64 = shared_systems.iter().map(|&i| case.load[i]).sum();
        let shared_nodes = nodes - dedicated_nodes.len();
        let mean = shared_total / shared_nodes as f64;
        let max_shared = shared_systems.iter().map(|&i| case.load[i]).fold(0.0, f64::max);
        let bound = mean + max_shared;
        let mut node_load = vec![0.0; nodes];
        for (i, &l) in case.load.iter().enumerate() {
            node_load[mapping.node_of(i)] += l;
        }
        for node in (0..nodes).filter(|n| !dedicated_nodes.contains(n)) {
            prop_assert!(
                node_load[node] <= bound * (1.0 + 1e-9) + 1e-300,
                "{}: node {} carries {} > mean {} + max {}", strategy, node, node_load[node], mean, max_shared
            );
        }
    }

    #[test]
    fn evaluate_is_sane_for_any_hand_made_mapping(
        (case, assignment) in case().prop_flat_map(|c| {
            let n = c.positions.len();
            let nodes = c.nodes;
            (Just(c), prop::collection::vec(0..nodes as u32, n))
        })
    ) {
        let universe = case.universe();
        let mapping = Mapping::new(case.nodes, assignment.clone()).expect("nodes in range");
        prop_assert_eq!(mapping.assignment(), assignment.as_slice());
        let members = mapping.members();
        prop_assert_eq!(members.iter().map(Vec::len).sum::<usize>(), universe.len());
        for (node, m) in members.iter().enumerate() {
            prop_assert!(m.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(m.iter().all(|&s| mapping.node_of(s) == node));
        }
        check_evaluate(&case, &universe, &mapping)?;
        // The same systems all on one node.
        let one = Mapping::new(1, vec![0; universe.len()]).unwrap();
        check_evaluate(&case, &universe, &one)?;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------------

fn line(n: usize) -> Universe {
    let case = Case {
        positions: (0..n).map(|i| (i as f64 * 1e16, 0.0, 0.0)).collect(),
        constellation: (0..n as u32).map(|i| i / 3).collect(),
        gates: (1..n).map(|i| (i - 1, i)).collect(),
        load: vec![1.0; n],
        nodes: 1,
    };
    case.universe()
}

#[test]
fn more_nodes_than_systems_is_refused() {
    let u = line(6);
    for strategy in available() {
        assert_eq!(
            premap(&u, &[1.0; 6], 7, strategy),
            Err(PremapError::MoreNodesThanSystems { nodes: 7, systems: 6 }),
            "{strategy}"
        );
        assert!(premap(&u, &[1.0; 6], 6, strategy).is_ok(), "{strategy}: as many nodes as systems is fine");
    }
    let empty = Universe::new(Vec::new(), &[], Vec::new(), Vec::new()).unwrap();
    assert_eq!(premap(&empty, &[], 1, Strategy::Lpt), Err(PremapError::MoreNodesThanSystems { nodes: 1, systems: 0 }));
}

#[test]
fn zero_nodes_is_refused() {
    let u = line(6);
    for strategy in available() {
        assert_eq!(premap(&u, &[1.0; 6], 0, strategy), Err(PremapError::NoNodes), "{strategy}");
    }
}

#[test]
fn nan_infinite_or_negative_load_is_refused() {
    let u = line(6);
    let id = u.system(3).id.0;
    for strategy in available() {
        for bad in [f64::NAN, f64::INFINITY, -1.0, -f64::MIN_POSITIVE] {
            let mut load = vec![1.0; 6];
            load[3] = bad;
            match premap(&u, &load, 2, strategy) {
                Err(PremapError::BadLoad { system, value }) => {
                    assert_eq!(system, id, "{strategy}: the error names the system by id");
                    assert!(value.total_cmp(&bad).is_eq(), "{strategy}: {value} vs {bad}");
                }
                other => panic!("{strategy}: load {bad} gave {other:?}"),
            }
        }
    }
}

#[test]
fn wrong_load_length_is_refused() {
    let u = line(6);
    for strategy in available() {
        assert_eq!(
            premap(&u, &[1.0; 5], 2, strategy),
            Err(PremapError::LoadLength { loads: 5, systems: 6 }),
            "{strategy}"
        );
        assert_eq!(
            premap(&u, &[1.0; 7], 2, strategy),
            Err(PremapError::LoadLength { loads: 7, systems: 6 }),
            "{strategy}"
        );
    }
}

#[test]
fn errors_explain_themselves() {
    let u = line(6);
    let message = premap(&u, &[1.0; 6], 9, Strategy::Lpt).unwrap_err().to_string();
    assert!(message.contains('9') && message.contains('6'), "{message}");
    let mut load = vec![1.0; 6];
    load[2] = -4.0;
    let message = premap(&u, &load, 2, Strategy::Lpt).unwrap_err().to_string();
    assert!(message.contains(&u.system(2).id.0.to_string()) && message.contains("-4"), "{message}");
}

#[test]
fn mapping_new_refuses_out_of_range_nodes() {
    assert!(Mapping::new(3, vec![0, 1, 2, 1]).is_some());
    assert!(Mapping::new(3, vec![0, 3]).is_none());
    assert!(Mapping::new(0, vec![0]).is_none());
    assert!(Mapping::new(0, vec![]).is_some());
}

#[test]
fn strategy_names_round_trip() {
    for strategy in Strategy::ALL {
        assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        assert_eq!(strategy.to_string(), strategy.name());
    }
    let e = "foo".parse::<Strategy>().unwrap_err();
    assert!(e.contains("foo") && e.contains("best"), "{e}");
    assert!(available().contains(&Strategy::Best));
}

#[test]
fn dedicated_systems_follow_the_documented_rule() {
    // 100 > 106/3; then 3 is not above 6/2: one dedicated system.
    assert_eq!(dedicated_systems(&[1.0, 100.0, 1.0, 3.0, 1.0], 3), vec![1]);
    // Two heavy ones, heaviest first: 50 > 91/4, then 40 > 41/3, then 0.25 is not above 1/2.
    assert_eq!(dedicated_systems(&[40.0, 0.25, 50.0, 0.25, 0.25, 0.25], 4), vec![2, 0]);
    // One node: nothing is dedicated. Equal loads: nothing is heavier than its share.
    assert!(dedicated_systems(&[100.0, 1.0, 1.0], 1).is_empty());
    assert!(dedicated_systems(&[2.0; 8], 4).is_empty());
    // As many systems as nodes: the rule leaves at least one node for the others.
    let d = dedicated_systems(&[10.0, 1.0, 1.0], 3);
    assert!(d.len() <= 2, "{d:?}");
}

#[test]
fn strategies_are_deterministic_across_threads() {
    // METIS keeps global state in C; the library serialises its calls. This guards that fix.
    let universe = generate(&GeneratorConfig { systems: 200, seed: 5 });
    let load = LoadProfile::synthesise(&universe, 5).cpu(&universe);
    let (threads, runs) = (4, 4);
    let mut failures = Vec::new();
    for strategy in available() {
        let reference = premap(&universe, &load, 6, strategy).unwrap();
        let differing: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        (0..runs).filter(|_| premap(&universe, &load, 6, strategy).unwrap() != reference).count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("premap does not panic")).sum()
        });
        if differing > 0 {
            failures.push(format!("{strategy}: {differing} of {} concurrent runs differ", threads * runs));
        }
    }
    assert!(
        failures.is_empty(),
        "premap gives other mappings when called from several threads at once: {}",
        failures.join("; ")
    );
}
