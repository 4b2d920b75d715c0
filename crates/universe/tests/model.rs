//! The universe model: construction errors, the stargate graph (neighbours, gates, components, selection), the
//! synthesised load and the generator.

use std::collections::{BTreeMap, BTreeSet};

use orrery_universe::{
    Constellation, ConstellationId, DEFAULT_LOAD, GeneratorConfig, LoadProfile, Region, RegionId, SolarSystem,
    SystemId, SystemKind, Universe, UniverseError, Vec3, generate, trade_hubs,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

fn system(id: u32, position: Vec3) -> SolarSystem {
    SolarSystem {
        id: SystemId(id),
        name: format!("S{id}"),
        position,
        security: 0.5,
        constellation: ConstellationId(20000000 + id % 3),
        region: RegionId(10000000 + id % 2),
        kind: SystemKind::KSpace,
    }
}

/// `n` systems with ids 100, 101, … at distinct positions.
fn systems(n: u32) -> Vec<SolarSystem> {
    (0..n).map(|i| system(100 + i, Vec3::new(f64::from(i) * 1e15, 0.0, 0.0))).collect()
}

fn gates(pairs: &[(u32, u32)]) -> Vec<(SystemId, SystemId)> {
    pairs.iter().map(|&(a, b)| (SystemId(a), SystemId(b))).collect()
}

fn universe(n: u32, pairs: &[(u32, u32)]) -> Universe {
    Universe::new(systems(n), &gates(pairs), Vec::new(), Vec::new()).expect("a valid universe")
}

fn config() -> ProptestConfig {
    // Modest by default to keep the suite fast; `PROPTEST_CASES=5000 cargo test …` searches harder.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64);
    // No regression files: failures print their minimal input instead.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------------------------
// Construction errors
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn duplicate_system_is_refused() {
    let mut s = systems(4);
    s.push(system(102, Vec3::new(9.0, 9.0, 9.0)));
    let e = Universe::new(s, &[], Vec::new(), Vec::new()).unwrap_err();
    assert_eq!(e, UniverseError::DuplicateSystem(SystemId(102)));
    assert!(e.to_string().contains("102"), "{e}");
}

#[test]
fn gate_to_unknown_system_is_refused() {
    let e = Universe::new(systems(3), &gates(&[(100, 101), (101, 999)]), Vec::new(), Vec::new()).unwrap_err();
    assert_eq!(e, UniverseError::UnknownGateEnd(SystemId(101), SystemId(999)));
    let e = Universe::new(systems(3), &gates(&[(777, 100)]), Vec::new(), Vec::new()).unwrap_err();
    assert_eq!(e, UniverseError::UnknownGateEnd(SystemId(777), SystemId(100)));
    assert!(e.to_string().contains("777"), "{e}");
}

#[test]
fn self_gate_is_refused() {
    let e = Universe::new(systems(3), &gates(&[(100, 101), (102, 102)]), Vec::new(), Vec::new()).unwrap_err();
    assert_eq!(e, UniverseError::SelfGate(SystemId(102)));
}

#[test]
fn non_finite_position_is_refused() {
    for bad in
        [Vec3::new(f64::NAN, 0.0, 0.0), Vec3::new(0.0, f64::INFINITY, 0.0), Vec3::new(0.0, 0.0, f64::NEG_INFINITY)]
    {
        let mut s = systems(3);
        s[1].position = bad;
        let e = Universe::new(s, &[], Vec::new(), Vec::new()).unwrap_err();
        assert_eq!(e, UniverseError::BadPosition(SystemId(101)));
    }
}

#[test]
fn empty_universe_is_valid() {
    let u = Universe::new(Vec::new(), &[], Vec::new(), Vec::new()).unwrap();
    assert!(u.is_empty());
    assert_eq!(u.len(), 0);
    assert_eq!(u.gate_count(), 0);
    assert!(u.components().is_empty());
    assert_eq!(u.gates().count(), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// The stargate graph
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn duplicate_gates_are_merged() {
    let u = universe(3, &[(100, 101), (101, 100), (100, 101), (101, 102)]);
    assert_eq!(u.gate_count(), 2);
    assert_eq!(u.gates().collect::<Vec<_>>(), vec![(0, 1), (1, 2)]);
    assert_eq!(u.neighbours(0), &[1]);
    assert_eq!(u.neighbours(1), &[0, 2]);
}

#[test]
fn lookups_by_id_and_index_agree() {
    let u = universe(5, &[]);
    for (i, s) in u.systems().iter().enumerate() {
        assert_eq!(u.index_of(s.id), Some(i));
        assert_eq!(u.by_id(s.id), Some(s));
        assert_eq!(u.system(i), s);
    }
    assert_eq!(u.index_of(SystemId(5)), None);
    assert!(u.by_id(SystemId(5)).is_none());
}

#[test]
fn groups_are_completed_and_sorted() {
    let given_c =
        vec![Constellation { id: ConstellationId(20000001), name: "Named".into(), region: RegionId(10000001) }];
    let given_r = vec![Region { id: RegionId(10000001), name: "Home".into() }];
    let u = Universe::new(systems(6), &[], given_c, given_r).unwrap();
    let c_ids: Vec<u32> = u.constellations().iter().map(|c| c.id.0).collect();
    assert_eq!(c_ids, [20000000, 20000001, 20000002]);
    let r_ids: Vec<u32> = u.regions().iter().map(|r| r.id.0).collect();
    assert_eq!(r_ids, [10000000, 10000001]);
    // Given names survive; placeholders are filled in for the rest.
    assert_eq!(u.constellations()[1].name, "Named");
    assert_eq!(u.regions()[1].name, "Home");
    assert!(!u.constellations()[0].name.is_empty());
    assert!(!u.regions()[0].name.is_empty());
}

/// A random graph description: `n` systems and gate pairs among their positions 0..n (may repeat, both
/// directions, but never a self-loop).
fn graph() -> impl Strategy<Value = (u32, Vec<(u32, u32)>)> {
    (1u32..=40).prop_flat_map(|n| {
        let pairs = prop::collection::vec((0..n, 0..n), 0..=(3 * n as usize));
        (Just(n), pairs.prop_map(|p| p.into_iter().filter(|(a, b)| a != b).collect()))
    })
}

/// Components by union–find, as sets of indices: an independent reference.
fn reference_components(n: usize, pairs: &[(u32, u32)]) -> BTreeSet<BTreeSet<usize>> {
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut parent: Vec<usize> = (0..n).collect();
    for &(a, b) in pairs {
        let (ra, rb) = (find(&mut parent, a as usize), find(&mut parent, b as usize));
        parent[ra] = rb;
    }
    let mut groups: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for v in 0..n {
        let root = find(&mut parent, v);
        groups.entry(root).or_default().insert(v);
    }
    groups.into_values().collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn neighbours_are_sorted_symmetric_and_match_the_gates((n, pairs) in graph()) {
        let ids: Vec<(u32, u32)> = pairs.iter().map(|&(a, b)| (100 + a, 100 + b)).collect();
        let u = universe(n, &ids);
        let expected: BTreeSet<(usize, usize)> =
            pairs.iter().map(|&(a, b)| (a.min(b) as usize, a.max(b) as usize)).collect();
        for v in 0..u.len() {
            let list = u.neighbours(v);
            prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "neighbours of {} not strictly sorted: {:?}", v, list);
            for &w in list {
                prop_assert!(w != v);
                prop_assert!(u.neighbours(w).contains(&v), "{} – {} is not symmetric", v, w);
                prop_assert!(expected.contains(&(v.min(w), v.max(w))));
            }
        }
        let listed: Vec<(usize, usize)> = u.gates().collect();
        let set: BTreeSet<(usize, usize)> = listed.iter().copied().collect();
        prop_assert_eq!(listed.len(), set.len(), "a gate is listed twice");
        prop_assert!(listed.iter().all(|&(a, b)| a < b));
        prop_assert_eq!(&set, &expected);
        prop_assert_eq!(u.gate_count(), expected.len());
    }

    #[test]
    fn components_partition_the_systems((n, pairs) in graph()) {
        let ids: Vec<(u32, u32)> = pairs.iter().map(|&(a, b)| (100 + a, 100 + b)).collect();
        let u = universe(n, &ids);
        let pieces = u.components();
        for piece in &pieces {
            prop_assert!(!piece.is_empty());
            prop_assert!(piece.windows(2).all(|w| w[0] < w[1]), "piece not sorted: {:?}", piece);
        }
        let firsts: Vec<usize> = pieces.iter().map(|p| p[0]).collect();
        prop_assert!(firsts.windows(2).all(|w| w[0] < w[1]), "pieces not ordered by smallest index: {:?}", firsts);
        let got: BTreeSet<BTreeSet<usize>> = pieces.iter().map(|p| p.iter().copied().collect()).collect();
        prop_assert_eq!(got, reference_components(n as usize, &pairs));
    }

    #[test]
    fn select_keeps_the_chosen_systems_and_the_gates_among_them(
        (n, pairs) in graph(),
        keep_mask in prop::collection::vec(any::<bool>(), 40),
    ) {
        let ids: Vec<(u32, u32)> = pairs.iter().map(|&(a, b)| (100 + a, 100 + b)).collect();
        let u = universe(n, &ids);
        let keep = |s: &SolarSystem| keep_mask[(s.id.0 - 100) as usize];
        let sub = u.select(keep);
        let kept_ids: Vec<SystemId> = u.systems().iter().filter(|s| keep(s)).map(|s| s.id).collect();
        let sub_ids: Vec<SystemId> = sub.systems().iter().map(|s| s.id).collect();
        prop_assert_eq!(&sub_ids, &kept_ids, "selection keeps exactly the chosen systems, in order");
        for s in sub.systems() {
            prop_assert_eq!(Some(s), u.by_id(s.id), "systems are copied unchanged");
        }
        let expected: BTreeSet<(SystemId, SystemId)> = ids
            .iter()
            .filter(|&&(a, b)| keep_mask[(a - 100) as usize] && keep_mask[(b - 100) as usize])
            .map(|&(a, b)| (SystemId(a.min(b)), SystemId(a.max(b))))
            .collect();
        let got: BTreeSet<(SystemId, SystemId)> = sub
            .gates()
            .map(|(a, b)| {
                let (x, y) = (sub.system(a).id, sub.system(b).id);
                (x.min(y), x.max(y))
            })
            .collect();
        prop_assert_eq!(got, expected);
        let used_c: BTreeSet<ConstellationId> = sub.systems().iter().map(|s| s.constellation).collect();
        let used_r: BTreeSet<RegionId> = sub.systems().iter().map(|s| s.region).collect();
        prop_assert_eq!(sub.constellations().iter().map(|c| c.id).collect::<BTreeSet<_>>(), used_c);
        prop_assert_eq!(sub.regions().iter().map(|r| r.id).collect::<BTreeSet<_>>(), used_r);
    }
}

#[test]
fn components_of_a_small_hand_made_graph() {
    // 0–1–2   3   4–5
    let u = universe(6, &[(101, 100), (101, 102), (104, 105)]);
    assert_eq!(u.components(), vec![vec![0, 1, 2], vec![3], vec![4, 5]]);
    let no_gates = universe(3, &[]);
    assert_eq!(no_gates.components(), vec![vec![0], vec![1], vec![2]]);
}

#[test]
fn select_everything_and_nothing() {
    let u = universe(5, &[(100, 101), (101, 102), (103, 104)]);
    let all = u.select(|_| true);
    assert_eq!(all.len(), 5);
    assert_eq!(all.gates().collect::<Vec<_>>(), u.gates().collect::<Vec<_>>());
    let none = u.select(|_| false);
    assert!(none.is_empty());
    assert_eq!(none.gate_count(), 0);
    assert!(none.constellations().is_empty());
    assert!(none.regions().is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Synthesised load
// ---------------------------------------------------------------------------------------------------------------

fn small_generated() -> Universe {
    generate(&GeneratorConfig { systems: 600, seed: 3 })
}

#[test]
fn synthesise_is_deterministic_per_seed() {
    let u = small_generated();
    assert_eq!(LoadProfile::synthesise(&u, 11), LoadProfile::synthesise(&u, 11));
    assert_ne!(LoadProfile::synthesise(&u, 11).cpu(&u), LoadProfile::synthesise(&u, 12).cpu(&u));
}

#[test]
fn synthesised_loads_are_finite_positive_and_cover_every_system() {
    let u = small_generated();
    let profile = LoadProfile::synthesise(&u, 5);
    assert_eq!(profile.explicit_len(), u.len());
    for s in u.systems() {
        let load = profile.get(s.id);
        assert!(load.cpu.is_finite() && load.cpu > 0.0, "{}: {:?}", s.id, load);
        assert!(load.mem.is_finite() && load.mem > 0.0, "{}: {:?}", s.id, load);
    }
    // A system the universe does not have gets the default load.
    assert_eq!(profile.get(SystemId(1)), DEFAULT_LOAD);
}

#[test]
fn synthesised_non_hub_loads_follow_security() {
    // Documented: base 2.0 / 1.3 / 1.0 by security, times a factor from 1 up to 40.
    let u = small_generated();
    let profile = LoadProfile::synthesise(&u, 9);
    let hubs: BTreeSet<usize> = trade_hubs(&u).into_iter().collect();
    for (i, s) in u.systems().iter().enumerate() {
        if hubs.contains(&i) {
            continue;
        }
        let base = if s.is_high_sec() {
            2.0
        } else if s.security > 0.0 {
            1.3
        } else {
            1.0
        };
        let cpu = profile.get(s.id).cpu;
        assert!(cpu >= base - 1e-12 && cpu <= 40.0 * base + 1e-9, "{} (security {}): cpu {cpu}", s.id, s.security);
    }
}

#[test]
fn trade_hubs_get_the_documented_heavy_loads() {
    // Large enough that the generator has five high-sec regions to put hubs in (small universes get fewer).
    let u = generate(&GeneratorConfig { systems: 2000, seed: 3 });
    let hubs = trade_hubs(&u);
    assert_eq!(hubs.len(), 5, "the generator makes five hubs that trade_hubs finds");
    for &h in &hubs {
        assert!(u.system(h).is_high_sec());
        assert!(!u.neighbours(h).is_empty());
    }
    let regions: BTreeSet<RegionId> = hubs.iter().map(|&h| u.system(h).region).collect();
    assert_eq!(regions.len(), 5, "one hub per region");
    for seed in [1, 2, 3] {
        let cpu = LoadProfile::synthesise(&u, seed).cpu(&u);
        let hub_loads: Vec<f64> = hubs.iter().map(|&h| cpu[h]).collect();
        assert_eq!(hub_loads, [150.0, 60.0, 40.0, 30.0, 25.0]);
        // The first hub (the Jita of the universe) is the heaviest system, strictly.
        let heaviest = (0..u.len()).max_by(|&a, &b| cpu[a].total_cmp(&cpu[b])).unwrap();
        assert_eq!(heaviest, hubs[0]);
        assert!(cpu.iter().enumerate().all(|(i, &c)| i == hubs[0] || c < cpu[hubs[0]]));
        // Every hub is heavier than the typical system by far.
        let mut sorted = cpu.clone();
        sorted.sort_by(f64::total_cmp);
        let p95 = sorted[sorted.len() * 95 / 100];
        assert!(hub_loads.iter().all(|&l| l > p95), "hubs {hub_loads:?} vs 95th percentile {p95}");
    }
}

#[test]
fn small_universes_give_the_hub_loads_in_order() {
    let u = small_generated();
    let hubs = trade_hubs(&u);
    assert!((1..=5).contains(&hubs.len()), "{hubs:?}");
    let cpu = LoadProfile::synthesise(&u, 4).cpu(&u);
    let hub_loads: Vec<f64> = hubs.iter().map(|&h| cpu[h]).collect();
    assert_eq!(hub_loads, [150.0, 60.0, 40.0, 30.0, 25.0][..hubs.len()]);
}

#[test]
fn trade_hubs_are_the_best_connected_high_sec_systems_per_region() {
    // Region 1: 0 (high, 3 gates) is the hub; region 2: 4 (high, 1 gate) beats 5 (low-sec, 2 gates).
    let mut s = systems(7);
    for (i, (security, region)) in
        [(0.9, 1), (0.9, 1), (0.9, 1), (0.9, 1), (0.6, 2), (0.2, 2), (0.8, 3)].into_iter().enumerate()
    {
        s[i].security = security;
        s[i].region = RegionId(region);
    }
    let u = Universe::new(s, &gates(&[(100, 101), (100, 102), (100, 103), (104, 105), (105, 101)]), vec![], vec![])
        .unwrap();
    // System 6 has no gates, so it cannot be a hub. Best connected first.
    assert_eq!(trade_hubs(&u), vec![0, 4]);
}

// ---------------------------------------------------------------------------------------------------------------
// Generator (kept light: the generator has its own unit tests)
// ---------------------------------------------------------------------------------------------------------------

fn gate_ids(u: &Universe) -> Vec<(SystemId, SystemId)> {
    u.gates().map(|(a, b)| (u.system(a).id, u.system(b).id)).collect()
}

#[test]
fn generator_is_deterministic_and_connected() {
    for systems in [40, 350] {
        let config = GeneratorConfig { systems, seed: 42 };
        let a = generate(&config);
        let b = generate(&config);
        assert_eq!(a.len(), systems);
        assert_eq!(a.systems(), b.systems());
        assert_eq!(gate_ids(&a), gate_ids(&b));
        assert_eq!(a.constellations(), b.constellations());
        assert_eq!(a.regions(), b.regions());
        assert_eq!(a.components().len(), 1, "the generated graph is connected");
        assert!(a.systems().iter().all(|s| s.kind == SystemKind::KSpace && s.position.is_finite()));
        assert!(a.systems().iter().all(|s| (-1.0..=1.0).contains(&s.security)));
        let names: BTreeSet<&str> = a.systems().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), systems, "system names are unique");

        let other = generate(&GeneratorConfig { systems, seed: 43 });
        assert_eq!(other.len(), systems);
        assert_ne!(a.systems(), other.systems(), "another seed gives another universe");
    }
}

#[test]
fn generator_handles_tiny_sizes() {
    assert!(generate(&GeneratorConfig { systems: 0, seed: 1 }).is_empty());
    for systems in [1, 2, 7] {
        let u = generate(&GeneratorConfig { systems, seed: 1 });
        assert_eq!(u.len(), systems);
        assert_eq!(u.components().len(), 1);
    }
}
