//! A tour of live settings: the known keys, validating values, and what a watcher sees as an operator edits the
//! `settings` table between two polls.
//!
//! `cargo run -p orrery-settings --example settings_tour`

use orrery_settings::{Settings, parse, parse_json, reconcile, specs};

fn main() {
    println!("Known settings:");
    for spec in specs() {
        println!("  {:<32} {:<10} default {:<6} {}", spec.key, spec.unit, spec.default, spec.description);
    }

    println!("\nValidating values:");
    for (key, raw) in [
        ("session.idle_timeout_s", "600"),
        ("session.idle_timeout_s", "1.5"),
        ("tidi.floor", "1.5"),
        ("motd", "Fly safe"),
        ("motd", "42"),
        ("system.max_players.30000142", "0"),
        ("system.max_players.jita", "0"),
        ("sesion.idle_timeout_s", "600"),
    ] {
        match parse(key, raw) {
            Ok(value) => println!("  {:<40} ok, {value}", format!("{key} = {raw}")),
            Err(error) => println!("  {:<40} refused: {}", format!("{key} = {raw}"), error.reason),
        }
    }
    match parse_json("system.tick_ms", &serde_json::json!(250)) {
        Ok(value) => println!("  PUT system.tick_ms {{\"value\": 250}} stores {}", value.to_json_text()),
        Err(error) => println!("  PUT refused: {error}"),
    }

    // The watcher's loop: all rows in, settings in force out, changes to act on, rows refused.
    let mut settings = Settings::default();
    let polls: [&[(&str, &str)]; 3] = [
        &[("system.tick_ms", "500"), ("system.max_players.30000142", "0"), ("motd", "Downtime at 11:00")],
        &[("system.tick_ms", "fast"), ("system.max_players.30000142", "0"), ("tidi.floor", "0.2")],
        &[("tidi.floor", "0.2")],
    ];
    for (n, table) in polls.iter().enumerate() {
        let rows: Vec<(String, String)> = table.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let out = reconcile(&settings, &rows);
        println!("\nPoll {}: {} rows", n + 1, rows.len());
        for change in &out.changes {
            println!("  changed  {change}");
        }
        for rejection in &out.rejected {
            println!("  refused  {rejection}");
        }
        settings = out.settings;
        println!(
            "  in force: tick {} ms, Jita cap {}, tidi floor {}, motd {:?}",
            settings.tick_ms,
            settings.max_players_for(30_000_142),
            settings.tidi_floor,
            settings.motd
        );
    }
}
