//! Fixtures shared by the integration tests: a hand-made universe whose geometry is easy to reason about, and
//! helpers to fly ships in it.
#![allow(dead_code, reason = "each test file uses a different part of the fixtures")]

use orrery_sim::{Celestial, Motion, Ship, ShipId, SystemLayout, SystemSim, Vec3};
use orrery_universe::{
    Constellation, ConstellationId, LIGHT_YEAR_M, Region, RegionId, SolarSystem, SystemId, SystemKind, Universe,
};

pub const ALPHA: u32 = 1;
pub const BETA: u32 = 2;
pub const GAMMA: u32 = 3;
/// A system with no stargates.
pub const DELTA: u32 = 4;

/// Alpha at the origin, Beta one light year along +x, Gamma one along +z, Delta far away and unconnected;
/// gates Alpha–Beta and Alpha–Gamma.
pub fn tiny_universe() -> Universe {
    let system = |id: u32, name: &str, position: Vec3| SolarSystem {
        id: SystemId(id),
        name: name.into(),
        position,
        security: 0.9,
        constellation: ConstellationId(20_000_001),
        region: RegionId(10_000_001),
        kind: SystemKind::KSpace,
    };
    let ly = LIGHT_YEAR_M;
    Universe::new(
        vec![
            system(ALPHA, "Alpha", Vec3::ZERO),
            system(BETA, "Beta", Vec3::new(ly, 0.0, 0.0)),
            system(GAMMA, "Gamma", Vec3::new(0.0, 0.0, ly)),
            system(DELTA, "Delta", Vec3::new(-5.0 * ly, 0.0, 0.0)),
        ],
        &[(SystemId(ALPHA), SystemId(BETA)), (SystemId(ALPHA), SystemId(GAMMA))],
        vec![Constellation { id: ConstellationId(20_000_001), name: "Home".into(), region: RegionId(10_000_001) }],
        vec![Region { id: RegionId(10_000_001), name: "Core".into() }],
    )
    .expect("a valid universe")
}

/// An empty sim of one system of the tiny universe.
pub fn sim(system: u32) -> SystemSim {
    let universe = tiny_universe();
    let index = universe.index_of(SystemId(system)).expect("a tiny-universe system");
    SystemSim::new(SystemLayout::generate(&universe, index).expect("a valid index"))
}

/// A ship at rest at `position`.
pub fn ship(id: ShipId, position: Vec3) -> Ship {
    Ship::new(id, id + 1_000, format!("Pilot {id}"), position, Vec3::ZERO, 0)
}

/// The gate of the sim's system leading to `destination`.
pub fn gate(sim: &SystemSim, destination: u32) -> Celestial {
    sim.layout().gate_to(destination).cloned().expect("a gate to the destination")
}

/// Steps `dt_ms` at a time until the ship is idle again; returns the simulation time that took.
pub fn fly_until_idle(sim: &mut SystemSim, id: ShipId, dt_ms: u64, limit_ms: u64) -> u64 {
    let start = sim.sim_time_ms();
    while sim.ship(id).map(Ship::motion) != Some(Motion::Idle) {
        assert!(sim.sim_time_ms() - start < limit_ms, "ship {id} still not idle after {limit_ms} ms");
        sim.step(dt_ms);
    }
    sim.sim_time_ms() - start
}

pub fn position(sim: &SystemSim, id: ShipId) -> Vec3 {
    sim.ship(id).expect("the ship is in the system").position
}
