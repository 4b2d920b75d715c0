//! The CSV loaders on the real EVE map (8,437 systems, the shapes its README documents) and the load its
//! activity snapshot gives. The map lives outside the repository: `orrery_testdata::require_eve_data` finds it
//! (`ORRERY_EVE_DATA`, by default `../shared/data/eve` beside the repository); without it these tests fail and
//! say so.

use std::collections::BTreeSet;

use orrery_universe::{ActivityWeights, LoadProfile, RegionId, SystemId, SystemKind, load_universe_paths};

use orrery_testdata::require_eve_data as eve_dir;

#[test]
fn real_eve_map_loads_with_the_documented_shape() {
    let dir = eve_dir();
    let full = load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).expect("the EVE map loads");
    assert_eq!(full.len(), 8437);
    assert_eq!(full.gate_count(), 6888);
    let count = |kind| full.systems().iter().filter(|s| s.kind == kind).count();
    assert_eq!((count(SystemKind::KSpace), count(SystemKind::WSpace), count(SystemKind::Other)), (5432, 2604, 401));
    // constellations.csv and regions.csv were picked up beside systems.csv.
    assert_eq!(full.regions().len(), 113);
    assert_eq!(full.constellations().len(), 1175);

    let jita = full.by_id(SystemId(30000142)).expect("Jita is in the map");
    assert_eq!(jita.name, "Jita");
    assert_eq!(jita.region, RegionId(10000002));
    assert!(jita.is_high_sec());
    assert_eq!(full.regions().iter().find(|r| r.id == jita.region).unwrap().name, "The Forge");

    let kspace = full.select(|s| s.kind == SystemKind::KSpace);
    assert_eq!(kspace.len(), 5432);
    // Every gate joins k-space to k-space, so selecting k-space keeps all of them.
    assert_eq!(kspace.gate_count(), 6888);
    assert!(kspace.by_id(SystemId(30000142)).is_some());

    // Components (README): main 5,175; Pochven 27; two clusters of 7 and 6 in UUA-F4; 217 isolated systems.
    let mut sizes: Vec<usize> = kspace.components().iter().map(Vec::len).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sizes[..4], [5175, 27, 7, 6]);
    assert_eq!(sizes.len(), 4 + 217);
    assert!(sizes[4..].iter().all(|&s| s == 1));
    let main = kspace.components().into_iter().max_by_key(Vec::len).unwrap();
    assert!(main.contains(&kspace.index_of(SystemId(30000142)).unwrap()), "Jita is in the main component");
    // Zarzakh is joined to the main component.
    assert!(main.contains(&kspace.index_of(SystemId(30100000)).unwrap()), "Zarzakh is in the main component");
}

#[test]
fn real_eve_activity_makes_jita_one_of_the_busiest() {
    let dir = eve_dir();
    let full = load_universe_paths(&dir.join("systems.csv"), Some(&dir.join("jumps.csv"))).unwrap();
    let w = ActivityWeights::default();
    let profile = LoadProfile::from_activity_path(&dir.join("activity.csv"), &full, &w).expect("activity loads");
    let cpu = profile.cpu(&full);
    assert!(cpu.iter().all(|c| c.is_finite() && *c >= w.base));
    // Jita's counts from the README: 2,147 jumps, 26 ship kills, 142 NPC kills, 21 pod kills.
    let jita = full.index_of(SystemId(30000142)).unwrap();
    let expected =
        w.base + 2147.0 * w.per_ship_jump + 26.0 * w.per_ship_kill + 142.0 * w.per_npc_kill + 21.0 * w.per_pod_kill;
    assert!((cpu[jita] - expected).abs() < 1e-6, "Jita cpu {} vs {expected}", cpu[jita]);
    let heavier = cpu.iter().filter(|&&c| c > cpu[jita]).count();
    assert!(heavier < 5, "{heavier} systems are busier than Jita ({})", cpu[jita]);
    // 4,862 systems had activity; every other system sits at the base load.
    let active = full.systems().iter().filter(|s| profile.get(s.id).cpu > w.base).count();
    assert!(active <= 4862);
    let wspace_loads: BTreeSet<u64> = full
        .systems()
        .iter()
        .filter(|s| s.kind == SystemKind::WSpace)
        .map(|s| profile.get(s.id).cpu.to_bits())
        .collect();
    assert_eq!(wspace_loads.len(), 1, "ESI lists no wormholes, so they all have the base load");
}
