//! No input file can make a loader panic: arbitrary bytes, and CSV-shaped text with random cells, come back
//! as a universe or a located error. (The brief: "no panic on anything that comes from a file".)

use orrery_universe::{ActivityWeights, Input, LoadProfile, Universe, UniverseFiles, load_universe};
use proptest::prelude::*;

fn load(systems: &[u8], jumps: &[u8]) -> Result<Universe, orrery_universe::LoadError> {
    let (mut s, mut j) = (systems, jumps);
    load_universe(UniverseFiles {
        systems: Input::new("systems.csv", &mut s),
        jumps: Some(Input::new("jumps.csv", &mut j)),
        constellations: None,
        regions: None,
    })
}

/// A small valid universe to load fingerprints against.
fn fixture() -> Universe {
    load(
        b"system_id,name,constellation_id,region_id,x,y,z,security\n1,A,20,10,0,0,0,0.5\n2,B,20,10,1e16,0,0,-0.2\n",
        b"from_system_id,to_system_id\n1,2\n",
    )
    .expect("the fixture loads")
}

/// CSV-shaped text: a header drawn from real and wrong column names, rows of cells drawn from numbers, ids,
/// words, empty cells and odd values, with rows of varying width.
fn csv_like(columns: &'static [&'static str]) -> impl Strategy<Value = String> {
    let cell = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        Just(String::new()),
        Just("NaN".to_owned()),
        Just("-inf".to_owned()),
        Just("1e400".to_owned()),
        "[a-zA-Z\"' ,]{0,6}",
        (1u32..4).prop_map(|v| v.to_string()),
    ];
    let header = proptest::sample::subsequence(columns.to_vec(), 0..=columns.len()).prop_map(|c| c.join(","));
    let rows = proptest::collection::vec(proptest::collection::vec(cell, 0..10).prop_map(|r| r.join(",")), 0..6);
    (header, rows).prop_map(|(h, r)| format!("{h}\n{}", r.join("\n")))
}

const SYSTEM_COLUMNS: &[&str] =
    &["system_id", "name", "constellation_id", "region_id", "x", "y", "z", "security", "kind", "bogus"];
const JUMP_COLUMNS: &[&str] = &["from_system_id", "to_system_id", "extra"];
const LOAD_COLUMNS: &[&str] = &["system_id", "cpu", "mem"];
const ACTIVITY_COLUMNS: &[&str] = &["system_id", "ship_jumps", "ship_kills", "npc_kills", "pod_kills"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(systems in proptest::collection::vec(any::<u8>(), 0..300),
                                   jumps in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = load(&systems, &jumps) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn csv_shaped_universe_files_load_or_explain(systems in csv_like(SYSTEM_COLUMNS), jumps in csv_like(JUMP_COLUMNS)) {
        match load(systems.as_bytes(), jumps.as_bytes()) {
            Ok(universe) => prop_assert!(universe.systems().iter().all(|s| s.position.is_finite())),
            Err(e) => prop_assert!(e.to_string().contains(".csv"), "error does not name the file: {e}"),
        }
    }

    #[test]
    fn csv_shaped_fingerprints_load_or_explain(load_text in csv_like(LOAD_COLUMNS), activity in csv_like(ACTIVITY_COLUMNS)) {
        let universe = fixture();
        let mut reader = load_text.as_bytes();
        match LoadProfile::from_csv(Input::new("load.csv", &mut reader), &universe) {
            Ok(profile) => prop_assert!(profile.cpu(&universe).iter().all(|c| c.is_finite() && *c >= 0.0)),
            Err(e) => prop_assert!(e.to_string().contains("load.csv"), "error does not name the file: {e}"),
        }
        let mut reader = activity.as_bytes();
        match LoadProfile::from_activity(Input::new("activity.csv", &mut reader), &universe, &ActivityWeights::default()) {
            Ok(profile) => prop_assert!(profile.cpu(&universe).iter().all(|c| c.is_finite() && *c >= 0.0)),
            Err(e) => prop_assert!(e.to_string().contains("activity.csv"), "error does not name the file: {e}"),
        }
    }
}

#[test]
fn activity_too_large_to_add_up_is_a_located_error() {
    let universe = fixture();
    let text = "system_id,ship_jumps,ship_kills,npc_kills,pod_kills\n1,1.7e308,1.7e308,1.7e308,1.7e308\n";
    let mut reader = text.as_bytes();
    let error =
        LoadProfile::from_activity(Input::new("activity.csv", &mut reader), &universe, &ActivityWeights::default())
            .expect_err("an infinite load is refused");
    let message = error.to_string();
    assert!(
        message.contains("activity.csv") && message.contains("line 2") && message.contains("too large"),
        "{message}"
    );
}
