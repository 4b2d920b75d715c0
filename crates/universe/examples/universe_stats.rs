//! Generates the default universe (about the size of EVE's known space) and prints what it is made of: systems,
//! stargates, constellations and regions, the security mix, and the five trade hubs with their synthesised load.
//!
//! Run with `cargo run -p orrery-universe --example universe_stats --release`.

use orrery_universe::{GeneratorConfig, LIGHT_YEAR_M, LoadProfile, generate, trade_hubs};

fn main() {
    let config = GeneratorConfig::default();
    let universe = generate(&config);

    // Size of the map and of its stargate graph.
    let systems = universe.len();
    let gates = universe.gate_count();
    println!("generated universe (seed {}): {systems} systems, {gates} stargates", config.seed);
    println!("  mean gates per system: {:.2}", 2.0 * gates as f64 / systems as f64);
    println!("  constellations: {}, regions: {}", universe.constellations().len(), universe.regions().len());
    println!("  connected pieces of the stargate graph: {}", universe.components().len());

    // Security mix: high-sec (≥ 0.45), low-sec (above 0) and null-sec.
    let high = universe.systems().iter().filter(|s| s.is_high_sec()).count();
    let low = universe.systems().iter().filter(|s| !s.is_high_sec() && s.security > 0.0).count();
    let null = systems - high - low;
    let share = |count: usize| 100.0 * count as f64 / systems as f64;
    println!(
        "security: high {high} ({:.1}%), low {low} ({:.1}%), null {null} ({:.1}%)",
        share(high),
        share(low),
        share(null)
    );

    // Extent of the map in light years, along the galactic plane (x, z) and across it (y).
    let extent = |axis: usize| {
        let values = universe.systems().iter().map(|s| s.position.axis(axis));
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        (hi - lo) / LIGHT_YEAR_M
    };
    println!("extent: x {:.1} ly, y {:.1} ly, z {:.1} ly", extent(0), extent(1), extent(2));

    // The trade hubs (the generator's Jita, Amarr, Dodixie, Rens and Hek) and the load a synthesis gives them.
    let load = LoadProfile::synthesise(&universe, config.seed);
    let total: f64 = load.cpu(&universe).iter().sum();
    println!("trade hubs (total synthesised load {total:.0}):");
    for (rank, index) in trade_hubs(&universe).into_iter().enumerate() {
        let hub = universe.system(index);
        let region = universe.regions().iter().find(|r| r.id == hub.region).map_or("?", |r| r.name.as_str());
        println!(
            "  {}. {} ({}) in {region}: security {:.2}, {} gates, load {:.0}",
            rank + 1,
            hub.name,
            hub.id,
            hub.security,
            universe.neighbours(index).len(),
            load.get(hub.id).cpu
        );
    }
}
