//! One pilot's trip: undock in a generated system, warp to a stargate, jump, and arrive on the other side.
//!
//! `cargo run -p orrery-sim --example one_system`

use std::error::Error;

use orrery_sim::{Command, Motion, Outcome, Ship, SystemLayout, SystemSim, Vec3, tidi};
use orrery_universe::{GeneratorConfig, generate};

const TICK_MS: u64 = 1_000;

fn main() -> Result<(), Box<dyn Error>> {
    let universe = generate(&GeneratorConfig { systems: 300, ..GeneratorConfig::default() });
    let layout = SystemLayout::generate(&universe, 0)?;
    println!("{} ({}): {} celestials", layout.name, layout.system_id, layout.celestials.len());
    for celestial in &layout.celestials {
        let p = celestial.position;
        println!(
            "  {:<28} {:?} at ({:.2}, {:.2}, {:.2}) AU",
            celestial.name,
            celestial.kind,
            au(p.x),
            au(p.y),
            au(p.z)
        );
    }
    let gate = layout.gates().next().ok_or("the first system has no stargate")?.clone();
    let mut sim = SystemSim::new(layout);

    // A brand-new ship (stored at the origin) undocks 50 km from the star.
    sim.add_ship(Ship::new(1, 100, "Aura", Vec3::ZERO, Vec3::ZERO, 0))?;
    sim.step(TICK_MS);
    sim.apply(1, Command::WarpTo { object: gate.id, range_m: 0.0 })?;
    println!("\nwarping to {}", gate.name);
    let mut last = None;
    while sim.ship(1).map(Ship::motion) != Some(Motion::Idle) || last.is_none() {
        let out = sim.step(TICK_MS);
        for view in &out.moved {
            if last != Some(view.motion) {
                println!("  t={:>5.1} s  {:?}", out.sim_time_ms as f64 / 1000.0, view.motion);
                last = Some(view.motion);
            }
        }
    }
    let ship = sim.ship(1).ok_or("the ship is gone")?;
    println!("  landed {:.0} m from the gate", ship.position.distance(gate.position));

    let Outcome::JumpedOut { ship, destination_system } = sim.apply(1, Command::Jump { gate: gate.id })? else {
        return Err("the jump was accepted but the ship stayed".into());
    };
    println!("\njumped: departed {:?}, handoff #{}", sim.step(TICK_MS).departed, ship.handoff_seq);

    let index = universe.index_of(orrery_universe::SystemId(destination_system)).ok_or("unknown destination")?;
    let mut there = SystemSim::new(SystemLayout::generate(&universe, index)?);
    let source = sim.layout().system_id;
    there.arrive(*ship, source)?;
    let arrived = there.step(TICK_MS).arrived;
    let back = there.layout().gate_to(source).ok_or("no gate back")?;
    for view in arrived {
        println!(
            "arrived in {}: {} is {:.0} m from {}",
            there.layout().name,
            view.pilot,
            view.position.distance(back.position),
            back.name
        );
    }

    // The node's Time Dilation controller: a fleet fight needs 1.6 cores, two quiet systems a little each.
    let mut controller = tidi::TidiController::default();
    for _ in 0..20 {
        controller.observe(source, 1.6, 1.0);
        controller.observe(destination_system, 0.05, 1.0);
    }
    controller.update();
    for (system, factor) in controller.factors() {
        println!("tidi: system {system} runs at {}‰", tidi::permille(factor));
    }
    Ok(())
}

fn au(metres: f64) -> f64 {
    metres / orrery_sim::AU_M
}
