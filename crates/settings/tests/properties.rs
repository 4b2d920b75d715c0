//! Properties over random keys, values and tables: no input makes the crate panic or put a value out of range
//! into force, and reconciling is deterministic and idempotent.

use orrery_settings::{Kind, Settings, Value, parse, reconcile, spec_for, specs};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    let fixed: Vec<String> =
        specs().iter().filter(|spec| !spec.is_per_system()).map(|spec| spec.key.to_owned()).collect();
    let suffix = prop_oneof![
        (0u32..4).prop_map(|id| id.to_string()),
        any::<u32>().prop_map(|id| id.to_string()),
        any::<u64>().prop_map(|id| id.to_string()),
        Just("007".to_owned()),
        Just(String::new()),
        "[a-z0-9.+-]{1,6}",
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed),
        3 => (prop_oneof![Just("system.max_players."), Just("system.tick_ms.")], suffix)
            .prop_map(|(prefix, suffix)| format!("{prefix}{suffix}")),
        1 => "[a-z._]{0,24}",
        1 => any::<String>(),
    ]
}

fn raw() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (-100i64..100_000).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        2 => (-0.5f64..1.5).prop_map(|f| f.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => prop_oneof![
            Just("NaN"), Just("inf"), Just("-inf"), Just("1e400"), Just(""), Just("null"), Just("true"),
            Just("[]"), Just("{}"), Just("\"\""), Just("99999999999999999999999"), Just("1.0"), Just("2.5"),
        ]
        .prop_map(str::to_owned),
        2 => any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
        2 => any::<String>(),
        1 => (0usize..700).prop_map(|n| "m".repeat(n)),
    ]
}

fn rows() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((key(), raw()), 0..24)
}

/// Every field within its documented range, checked against the numbers of the brief, not the crate's table.
fn assert_within_ranges(settings: &Settings) {
    assert!((5..=86_400).contains(&settings.idle_timeout_s), "{settings:?}");
    assert!((1..=10_000).contains(&settings.rate_limit_per_s), "{settings:?}");
    assert!((1..=1_000_000).contains(&settings.max_players), "{settings:?}");
    assert!((10..=60_000).contains(&settings.tick_ms), "{settings:?}");
    assert!((0.01..=1.0).contains(&settings.tidi_floor), "{settings:?}");
    assert!((256..=16_777_216).contains(&settings.max_frame_bytes), "{settings:?}");
    assert!(settings.motd.len() <= 500, "{settings:?}");
    assert!(settings.system_max_players.values().all(|v| *v <= 1_000_000), "{settings:?}");
    assert!(settings.system_tick_ms.values().all(|v| (10..=60_000).contains(v)), "{settings:?}");
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // JSON text of a float may come back a rounding step away.
        (Value::Float(x), Value::Float(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_and_accepts_only_values_in_range(key in key(), raw in raw()) {
        match parse(&key, &raw) {
            Ok(value) => {
                let (spec, _) = spec_for(&key).expect("an accepted key is known");
                match (spec.kind, &value) {
                    (Kind::Integer { min, max }, Value::Integer(v)) => prop_assert!((min..=max).contains(v)),
                    (Kind::Float { min, max }, Value::Float(v)) => prop_assert!(v.is_finite() && (min..=max).contains(v)),
                    (Kind::Text { max_len }, Value::Text(text)) => prop_assert!(text.len() <= max_len),
                    (kind, value) => prop_assert!(false, "{value:?} for {kind:?}"),
                }
                // What the admin API writes back reads as the same value.
                let again = parse(&key, &value.to_json_text()).expect("a value's JSON text parses");
                prop_assert!(same_value(&again, &value), "{again:?} != {value:?}");
            }
            Err(error) => {
                prop_assert_eq!(&error.key, &key);
                prop_assert!(!error.reason.is_empty());
                prop_assert!(error.reason.len() < 400, "{}", error.reason);
            }
        }
    }

    #[test]
    fn reconcile_keeps_settings_in_range_and_is_idempotent(before in rows(), table in rows()) {
        let current = reconcile(&Settings::default(), &before).settings;
        assert_within_ranges(&current);
        let out = reconcile(&current, &table);
        assert_within_ranges(&out.settings);

        // "No changes" means "nothing to do".
        prop_assert_eq!(out.changes.is_empty(), out.settings == current);
        // Changes: sorted, one per key, each a real difference or an override coming or going.
        for pair in out.changes.windows(2) {
            prop_assert!(pair[0].key < pair[1].key);
        }
        for change in &out.changes {
            prop_assert_eq!(current.get(&change.key), Some(change.old.clone()));
            prop_assert_eq!(out.settings.get(&change.key), Some(change.new.clone()));
        }
        // Every row is either in force or rejected.
        let rejected = out.rejected.len();
        let mut applied = 0;
        for (i, (key, raw)) in table.iter().enumerate() {
            let last = table.iter().rposition(|(k, _)| k == key) == Some(i);
            match parse(key, raw) {
                Ok(value) if last => {
                    prop_assert_eq!(out.settings.get(key), Some(value));
                    applied += 1;
                }
                _ => prop_assert!(out.rejected.iter().any(|r| &r.key == key && &r.raw == raw)),
            }
        }
        prop_assert_eq!(applied + rejected, table.len());

        // Deterministic and idempotent.
        prop_assert_eq!(&reconcile(&current, &table), &out);
        let again = reconcile(&out.settings, &table);
        prop_assert_eq!(&again.settings, &out.settings);
        prop_assert!(again.changes.is_empty(), "{:?}", again.changes);
        prop_assert_eq!(&again.rejected, &out.rejected);
    }

    #[test]
    fn the_listing_written_back_rebuilds_the_settings(table in rows()) {
        let settings = reconcile(&Settings::default(), &table).settings;
        let listing: Vec<(String, String)> =
            settings.entries().into_iter().map(|(key, value)| (key, value.to_json_text())).collect();
        let rebuilt = reconcile(&Settings::default(), &listing);
        prop_assert!(rebuilt.rejected.is_empty(), "{:?}", rebuilt.rejected);
        prop_assert_eq!(rebuilt.settings.system_max_players, settings.system_max_players);
        prop_assert_eq!(rebuilt.settings.system_tick_ms, settings.system_tick_ms);
        prop_assert_eq!(rebuilt.settings.motd, settings.motd);
        prop_assert!((rebuilt.settings.tidi_floor - settings.tidi_floor).abs() <= f64::EPSILON);
    }
}
