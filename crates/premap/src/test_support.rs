//! Hand-made universes for the unit tests.

use orrery_universe::{ConstellationId, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3};

/// A universe of systems at `positions` joined by `gates` (pairs of indices).
pub(crate) fn universe(positions: impl Iterator<Item = Vec3>, gates: &[(usize, usize)]) -> Universe {
    let systems = positions
        .enumerate()
        .map(|(i, position)| SolarSystem {
            id: SystemId(i as u32 + 1),
            name: format!("S{i}"),
            position,
            security: 0.5,
            constellation: ConstellationId(0),
            region: RegionId(0),
            kind: SystemKind::KSpace,
        })
        .collect();
    let gates: Vec<(SystemId, SystemId)> =
        gates.iter().map(|&(a, b)| (SystemId(a as u32 + 1), SystemId(b as u32 + 1))).collect();
    Universe::new(systems, &gates, Vec::new(), Vec::new()).expect("a valid hand-made universe")
}
