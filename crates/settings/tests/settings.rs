//! The public behaviour: parsing each kind, keys, the typed settings and reconciling rows.

use orrery_settings::{
    Change, Kind, Rejection, SettingError, Settings, Value, parse, parse_json, reconcile, spec_for, specs,
};
use serde_json::json;

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn reason(key: &str, raw: &str) -> String {
    match parse(key, raw) {
        Ok(value) => panic!("{key} = {raw:?} was accepted as {value:?}"),
        Err(error) => {
            assert_eq!(error.key, key);
            error.reason
        }
    }
}

// ---- defaults --------------------------------------------------------------------------------------------

#[test]
fn every_fixed_default_parses_and_matches_settings_default() {
    let defaults = Settings::default();
    let mut fixed = 0;
    for spec in specs().iter().filter(|spec| !spec.is_per_system()) {
        let value = parse(spec.key, spec.default).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(defaults.get(spec.key), Some(value), "{}", spec.key);
        fixed += 1;
    }
    assert_eq!(fixed, 7);
    // entries() of the defaults is exactly the fixed keys with their defaults.
    let entries = defaults.entries();
    assert_eq!(entries.len(), 7);
    for (key, value) in entries {
        let (spec, system) = spec_for(&key).unwrap();
        assert_eq!(system, None);
        assert_eq!(parse(&key, spec.default).unwrap(), value);
    }
}

#[test]
fn per_system_specs_default_to_the_system_wide_default() {
    let defaults = Settings::default();
    assert_eq!(defaults.max_players_for(30_000_142), 1000);
    assert_eq!(defaults.tick_ms_for(30_000_142), 1000);
    assert_eq!(defaults.get("system.max_players.30000142"), Some(Value::Integer(1000)));
    let (spec, system) = spec_for("system.tick_ms.30000142").unwrap();
    assert_eq!(system, Some(30_000_142));
    assert_eq!(spec.key, "system.tick_ms.<system_id>");
    assert_eq!(parse("system.tick_ms.1", spec.default).unwrap(), Value::Integer(1000));
}

#[test]
fn specs_document_every_key() {
    for spec in specs() {
        assert!(!spec.description.is_empty(), "{}", spec.key);
    }
    assert_eq!(specs().len(), 9);
    assert_eq!(spec_for("tidi.floor").unwrap().0.kind, Kind::Float { min: 0.01, max: 1.0 });
    assert_eq!(spec_for("motd").unwrap().0.kind, Kind::Text { max_len: 500 });
}

// ---- integer ----------------------------------------------------------------------------------------------

#[test]
fn integer_range_bounds() {
    for spec in specs() {
        let Kind::Integer { min, max } = spec.kind else { continue };
        let key = spec.key.replace("<system_id>", "7");
        assert_eq!(parse(&key, &min.to_string()), Ok(Value::Integer(min)), "{key}");
        assert_eq!(parse(&key, &max.to_string()), Ok(Value::Integer(max)), "{key}");
        assert_eq!(reason(&key, &(min - 1).to_string()), format!("{} is out of range {min}..={max}", min - 1));
        assert_eq!(reason(&key, &(max + 1).to_string()), format!("{} is out of range {min}..={max}", max + 1));
    }
}

#[test]
fn integer_refuses_other_types() {
    let key = "session.idle_timeout_s";
    assert!(reason(key, "1.5").starts_with("expected an integer, got 1.5"));
    assert!(reason(key, "300.0").starts_with("expected an integer, got 300.0"));
    assert!(reason(key, "3e2").starts_with("expected an integer"));
    assert!(reason(key, "\"300\"").starts_with("expected an integer in 5..=86400, got the string \"300\""));
    assert!(reason(key, "true").contains("got true"));
    assert!(reason(key, "null").contains("got null"));
    assert!(reason(key, "[300]").contains("got an array"));
    assert!(reason(key, "{\"value\": 300}").contains("got an object"));
    assert!(reason(key, "three hundred").contains("is not a number"));
    assert!(reason(key, "300 s").contains("is not a number"));
}

#[test]
fn integer_refuses_huge_numbers_as_out_of_range() {
    let key = "net.max_frame_bytes";
    assert!(reason(key, "9223372036854775808").contains("out of range 256..=16777216"));
    assert!(reason(key, "18446744073709551615").contains("out of range"));
    assert!(reason(key, "99999999999999999999999").contains("out of range"));
    assert!(reason(key, "-99999999999999999999999").contains("out of range"));
    assert!(reason(key, "1e30").contains("out of range"));
    assert!(reason(key, "-9223372036854775808").contains("out of range"));
    assert_eq!(reason(key, "1e400"), "1e400 is out of range 256..=16777216");
}

#[test]
fn integer_accepts_whitespace_around_json() {
    assert_eq!(parse("session.rate_limit_per_s", " 50\n"), Ok(Value::Integer(50)));
}

// ---- float ------------------------------------------------------------------------------------------------

#[test]
fn float_range_bounds() {
    assert_eq!(parse("tidi.floor", "0.01"), Ok(Value::Float(0.01)));
    assert_eq!(parse("tidi.floor", "1.0"), Ok(Value::Float(1.0)));
    assert_eq!(parse("tidi.floor", "1"), Ok(Value::Float(1.0)));
    assert_eq!(reason("tidi.floor", "0.00999"), "0.00999 is out of range 0.01..=1.0");
    assert_eq!(reason("tidi.floor", "1.0000001"), "1.0000001 is out of range 0.01..=1.0");
    assert_eq!(reason("tidi.floor", "0"), "0 is out of range 0.01..=1.0");
    assert_eq!(reason("tidi.floor", "-0.5"), "-0.5 is out of range 0.01..=1.0");
}

#[test]
fn the_error_message_names_key_value_and_range() {
    let error = parse("tidi.floor", "1.5").unwrap_err();
    assert_eq!(error.to_string(), "setting `tidi.floor`: 1.5 is out of range 0.01..=1.0");
    assert_eq!(error, SettingError { key: "tidi.floor".into(), reason: "1.5 is out of range 0.01..=1.0".into() });
}

#[test]
fn float_accepts_integers_and_refuses_non_numbers() {
    assert_eq!(parse("tidi.floor", "0.5"), Ok(Value::Float(0.5)));
    assert_eq!(parse("tidi.floor", "5e-1"), Ok(Value::Float(0.5)));
    assert!(reason("tidi.floor", "\"0.5\"").contains("got the string"));
    assert!(reason("tidi.floor", "half").contains("is not a number"));
}

#[test]
fn float_refuses_nan_infinity_and_huge_numbers() {
    for raw in ["NaN", "nan", "inf", "-inf", "Infinity", "-Infinity"] {
        let why = reason("tidi.floor", raw);
        assert!(why.contains("is not a number (expected a number in 0.01..=1.0)"), "{raw}: {why}");
    }
    assert_eq!(reason("tidi.floor", "1e400"), "1e400 is out of range 0.01..=1.0");
    assert_eq!(reason("tidi.floor", "-1e400"), "-1e400 is out of range 0.01..=1.0");
    assert!(reason("tidi.floor", "1e300").contains("out of range"));
    assert!(reason("tidi.floor", "99999999999999999999999").contains("out of range"));
}

// ---- empty and non-JSON ------------------------------------------------------------------------------------

#[test]
fn empty_values() {
    for key in ["session.idle_timeout_s", "tidi.floor", "system.tick_ms.3"] {
        assert!(reason(key, "").starts_with("the value is empty"), "{key}");
        assert!(reason(key, "  \t\n").starts_with("the value is empty"), "{key}");
    }
    // An empty motd is simply no message of the day.
    assert_eq!(parse("motd", ""), Ok(Value::Text(String::new())));
    assert_eq!(parse("motd", "\"\""), Ok(Value::Text(String::new())));
}

// ---- text -------------------------------------------------------------------------------------------------

#[test]
fn motd_accepts_json_strings_and_bare_text() {
    assert_eq!(parse("motd", "\"Welcome\""), Ok(Value::Text("Welcome".into())));
    assert_eq!(parse("motd", "hello"), Ok(Value::Text("hello".into())));
    assert_eq!(parse("motd", "Fly safe, o7 \"pilots\""), Ok(Value::Text("Fly safe, o7 \"pilots\"".into())));
    assert_eq!(parse("motd", "\"line\\nbreak\""), Ok(Value::Text("line\nbreak".into())));
    assert_eq!(parse("motd", "\"unterminated"), Ok(Value::Text("\"unterminated".into())));
    assert_eq!(parse("motd", "Jita → Amarr ✈"), Ok(Value::Text("Jita → Amarr ✈".into())));
}

#[test]
fn motd_refuses_json_that_is_not_a_string() {
    let why = reason("motd", "42");
    assert_eq!(why, "expected text (a JSON string), got the number 42; to store it as text write \"42\"");
    assert!(reason("motd", "true").contains("write \"true\""));
    assert!(reason("motd", "null").contains("got null"));
    assert!(reason("motd", "[\"a\"]").contains("got an array"));
    assert!(reason("motd", "{}").contains("got an object"));
}

#[test]
fn overlong_motd() {
    let limit = "x".repeat(500);
    assert_eq!(parse("motd", &limit), Ok(Value::Text(limit.clone())));
    assert_eq!(parse("motd", &format!("\"{limit}\"")), Ok(Value::Text(limit.clone())));
    let over = "x".repeat(501);
    assert_eq!(reason("motd", &over), "the text is 501 bytes, longer than the limit of 500 bytes");
    assert!(reason("motd", &format!("\"{over}\"")).contains("501 bytes"));
    // The limit is in bytes: 167 three-byte characters are 501 bytes.
    assert!(reason("motd", &"→".repeat(167)).contains("501 bytes"));
    assert!(parse("motd", &"→".repeat(166)).is_ok());
}

// ---- keys -------------------------------------------------------------------------------------------------

#[test]
fn unknown_keys() {
    for key in ["", "motd ", "MOTD", "tidi", "tidi.floor.7", "session.idle_timeout", "system.max_players_7", "x.y.z"] {
        assert_eq!(reason(key, "1"), "unknown setting", "{key:?}");
        assert!(spec_for(key).is_none(), "{key:?}");
    }
    assert_eq!(parse("nope", "1").unwrap_err().to_string(), "setting `nope`: unknown setting");
}

#[test]
fn per_system_keys() {
    assert_eq!(parse("system.max_players.30000142", "0"), Ok(Value::Integer(0)));
    assert_eq!(parse("system.max_players.4294967295", "5"), Ok(Value::Integer(5)));
    assert!(reason("system.max_players.30000142", "-1").contains("out of range 0..=1000000"));
    assert!(reason("system.tick_ms.30000142", "9").contains("out of range 10..=60000"));
    assert_eq!(spec_for("system.max_players.0").unwrap().1, Some(0));

    assert!(reason("system.max_players.jita", "5").contains("`jita` is not a system id"));
    assert!(reason("system.max_players.", "5").contains("lacks a system id"));
    assert!(reason("system.max_players.-3", "5").contains("is not a system id"));
    assert!(reason("system.max_players.1.2", "5").contains("is not a system id"));
    assert!(reason("system.tick_ms.007", "50").contains("leading zeros (write `7`)"));
    assert_eq!(reason("system.tick_ms.4294967296", "50"), "system id `4294967296` is out of range 0..=4294967295");
    for key in ["system.max_players.jita", "system.tick_ms.4294967296", "system.tick_ms.007"] {
        assert!(spec_for(key).is_none(), "{key}");
    }
    // The key is checked before the value.
    assert!(reason("system.tick_ms.x", "oops").contains("not a system id"));
}

#[test]
fn messages_quote_long_input_briefly() {
    let why = reason("session.idle_timeout_s", &"z".repeat(10_000));
    assert!(why.len() < 200, "{why}");
    let why = reason(&format!("system.tick_ms.{}", "a".repeat(10_000)), "5");
    assert!(why.len() < 200, "{why}");
}

// ---- JSON from the admin API ------------------------------------------------------------------------------

#[test]
fn parse_json_values() {
    assert_eq!(parse_json("system.tick_ms", &json!(250)), Ok(Value::Integer(250)));
    assert_eq!(parse_json("tidi.floor", &json!(0.25)), Ok(Value::Float(0.25)));
    assert_eq!(parse_json("tidi.floor", &json!(1)), Ok(Value::Float(1.0)));
    assert_eq!(parse_json("motd", &json!("hi")), Ok(Value::Text("hi".into())));
    assert!(parse_json("motd", &json!(5)).is_err());
    assert!(parse_json("system.tick_ms", &json!(2.5)).is_err());
    assert!(parse_json("system.tick_ms", &json!("250")).is_err());
    assert!(parse_json("system.tick_ms", &json!(u64::MAX)).unwrap_err().reason.contains("out of range"));
    assert!(parse_json("tidi.floor", &json!(2)).unwrap_err().reason.contains("out of range"));
    assert_eq!(parse_json("bogus", &json!(1)).unwrap_err().reason, "unknown setting");
}

#[test]
fn values_serialize_as_plain_json_and_round_trip() {
    let cases = [
        (Value::Integer(300), "300"),
        (Value::Float(0.5), "0.5"),
        (Value::Float(1.0), "1.0"),
        (Value::Text("Welcome".into()), "\"Welcome\""),
        (Value::Text("say \"hi\"\n".into()), "\"say \\\"hi\\\"\\n\""),
    ];
    for (value, text) in cases {
        assert_eq!(value.to_json_text(), text);
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
        assert_eq!(value.to_string(), text);
    }
    assert_eq!(parse("motd", &Value::Text("42".into()).to_json_text()), Ok(Value::Text("42".into())));
    assert_eq!(Value::Float(f64::NAN).to_json_text(), "null");
}

// ---- Settings ---------------------------------------------------------------------------------------------

#[test]
fn per_system_lookups_and_entries() {
    let mut settings = Settings::default();
    settings.system_max_players.insert(30_000_142, 0);
    settings.system_tick_ms.insert(31_000_005, 100);
    settings.system_tick_ms.insert(9, 2000);
    assert_eq!(settings.max_players_for(30_000_142), 0);
    assert_eq!(settings.max_players_for(1), 1000);
    assert_eq!(settings.tick_ms_for(31_000_005), 100);
    assert_eq!(settings.tick_ms_for(30_000_142), 1000);
    let entries = settings.entries();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "motd",
            "net.max_frame_bytes",
            "session.idle_timeout_s",
            "session.rate_limit_per_s",
            "system.max_players",
            "system.max_players.30000142",
            "system.tick_ms",
            "system.tick_ms.31000005",
            "system.tick_ms.9",
            "tidi.floor",
        ]
    );
    // The listing, written back as rows, rebuilds the same settings.
    let rows: Vec<(String, String)> = entries.iter().map(|(k, v)| (k.clone(), v.to_json_text())).collect();
    let out = reconcile(&Settings::default(), &rows);
    assert!(out.rejected.is_empty());
    assert_eq!(out.settings, settings);
    assert_eq!(settings.get("unknown"), None);
    assert_eq!(settings.get("system.max_players.30000142"), Some(Value::Integer(0)));
}

// ---- reconcile --------------------------------------------------------------------------------------------

#[test]
fn no_rows_means_defaults_and_no_changes() {
    let out = reconcile(&Settings::default(), &[]);
    assert_eq!(out.settings, Settings::default());
    assert!(out.changes.is_empty());
    assert!(out.rejected.is_empty());
}

#[test]
fn a_change_is_reported_with_old_and_new() {
    let out = reconcile(&Settings::default(), &rows(&[("session.idle_timeout_s", "600"), ("motd", "hi")]));
    assert_eq!(out.settings.idle_timeout_s, 600);
    assert_eq!(out.settings.motd, "hi");
    assert_eq!(
        out.changes,
        [
            Change { key: "motd".into(), old: Value::Text(String::new()), new: Value::Text("hi".into()) },
            Change { key: "session.idle_timeout_s".into(), old: Value::Integer(300), new: Value::Integer(600) },
        ]
    );
    assert_eq!(out.changes[1].to_string(), "setting `session.idle_timeout_s`: 300 -> 600");
    // A row equal to the value in force is no change.
    let again = reconcile(&out.settings, &rows(&[("session.idle_timeout_s", "600"), ("motd", "\"hi\"")]));
    assert!(again.changes.is_empty());
}

#[test]
fn an_invalid_row_keeps_the_previous_value_and_the_others_apply() {
    let current = reconcile(&Settings::default(), &rows(&[("tidi.floor", "0.3"), ("system.tick_ms", "500")])).settings;
    let out = reconcile(
        &current,
        &rows(&[
            ("tidi.floor", "1.5"),
            ("system.tick_ms", "250"),
            ("bogus.key", "1"),
            ("net.max_frame_bytes", "lots"),
            ("session.rate_limit_per_s", "50"),
        ]),
    );
    assert_eq!(out.settings.tidi_floor, 0.3, "the previous value, not the default");
    assert_eq!(out.settings.max_frame_bytes, 65_536);
    assert_eq!(out.settings.tick_ms, 250);
    assert_eq!(out.settings.rate_limit_per_s, 50);
    let rejected: Vec<(&str, &str)> = out.rejected.iter().map(|r| (r.key.as_str(), r.raw.as_str())).collect();
    assert_eq!(rejected, [("tidi.floor", "1.5"), ("bogus.key", "1"), ("net.max_frame_bytes", "lots")]);
    assert_eq!(
        out.rejected[0],
        Rejection { key: "tidi.floor".into(), raw: "1.5".into(), reason: "1.5 is out of range 0.01..=1.0".into() }
    );
    assert_eq!(out.rejected[1].reason, "unknown setting");
    assert!(out.rejected[0].to_string().contains("previous value kept"));
    let keys: Vec<&str> = out.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["session.rate_limit_per_s", "system.tick_ms"]);
}

#[test]
fn deleting_a_row_returns_to_the_default() {
    let current = reconcile(&Settings::default(), &rows(&[("system.max_players", "50"), ("motd", "hi")])).settings;
    let out = reconcile(&current, &rows(&[("motd", "hi")]));
    assert_eq!(out.settings.max_players, 1000);
    assert_eq!(
        out.changes,
        [Change { key: "system.max_players".into(), old: Value::Integer(50), new: Value::Integer(1000) }]
    );
}

#[test]
fn per_system_override_and_removal() {
    let jita = "system.max_players.30000142";
    let added = reconcile(&Settings::default(), &rows(&[(jita, "0")]));
    assert_eq!(added.settings.max_players_for(30_000_142), 0);
    assert_eq!(added.settings.system_max_players.len(), 1);
    assert_eq!(added.changes, [Change { key: jita.into(), old: Value::Integer(1000), new: Value::Integer(0) }]);

    // Changing the system-wide cap leaves the override alone.
    let wide = reconcile(&added.settings, &rows(&[(jita, "0"), ("system.max_players", "200")]));
    assert_eq!(wide.settings.max_players_for(30_000_142), 0);
    assert_eq!(wide.settings.max_players_for(1), 200);
    assert_eq!(wide.changes.len(), 1);
    assert_eq!(wide.changes[0].key, "system.max_players");

    // Deleting the row removes the override: the system follows the system-wide cap in force now.
    let removed = reconcile(&wide.settings, &rows(&[("system.max_players", "200")]));
    assert!(removed.settings.system_max_players.is_empty());
    assert_eq!(removed.settings.max_players_for(30_000_142), 200);
    assert_eq!(removed.changes, [Change { key: jita.into(), old: Value::Integer(0), new: Value::Integer(200) }]);
}

#[test]
fn an_override_equal_to_the_system_wide_value_is_still_a_change() {
    // Otherwise `changes` could be empty while the settings differ.
    let out = reconcile(&Settings::default(), &rows(&[("system.tick_ms.5", "1000")]));
    assert_eq!(out.settings.system_tick_ms.get(&5), Some(&1000));
    assert_eq!(
        out.changes,
        [Change { key: "system.tick_ms.5".into(), old: Value::Integer(1000), new: Value::Integer(1000) }]
    );
}

#[test]
fn an_invalid_per_system_row_keeps_the_previous_override_or_its_absence() {
    let current = reconcile(&Settings::default(), &rows(&[("system.tick_ms.5", "100")])).settings;
    let out = reconcile(&current, &rows(&[("system.tick_ms.5", "5"), ("system.tick_ms.6", "fast")]));
    assert_eq!(out.settings.system_tick_ms.get(&5), Some(&100));
    assert_eq!(out.settings.system_tick_ms.get(&6), None);
    assert_eq!(out.rejected.len(), 2);
    assert!(out.changes.is_empty());
    // Bad suffixes are unknown keys.
    let out = reconcile(&current, &rows(&[("system.tick_ms.5", "100"), ("system.tick_ms.x", "100")]));
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0].reason.contains("not a system id"));
    assert_eq!(out.settings, current);
}

#[test]
fn reconcile_is_idempotent() {
    let table = rows(&[
        ("session.idle_timeout_s", "60"),
        ("system.max_players.30000142", "10"),
        ("system.tick_ms.30000144", "200"),
        ("tidi.floor", "2"),
        ("motd", "Welcome"),
        ("what", "ever"),
    ]);
    let first = reconcile(&Settings::default(), &table);
    assert_eq!(first.changes.len(), 4);
    let second = reconcile(&first.settings, &table);
    assert_eq!(second.settings, first.settings);
    assert!(second.changes.is_empty());
    assert_eq!(second.rejected, first.rejected, "a row stays rejected until it is fixed");
}

#[test]
fn duplicate_keys_the_last_row_counts() {
    let out = reconcile(&Settings::default(), &rows(&[("system.tick_ms", "100"), ("system.tick_ms", "200")]));
    assert_eq!(out.settings.tick_ms, 200);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].raw, "100");
}

#[test]
fn changes_are_in_key_order() {
    let out = reconcile(
        &Settings::default(),
        &rows(&[("tidi.floor", "0.5"), ("system.tick_ms.9", "20"), ("motd", "m"), ("system.tick_ms.10", "20")]),
    );
    let keys: Vec<&str> = out.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["motd", "system.tick_ms.10", "system.tick_ms.9", "tidi.floor"]);
}
