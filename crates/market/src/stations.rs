//! Where trading happens: the stations of a universe, derived from its layout so that every process (market
//! role, proxies, bots, tests) computes the same stations without a table to share. A system has one to three
//! stations (picked by a hash of its id), a trade hub [`HUB_STATIONS`]; a station's id is
//! `system id × 100 + k` (k from 1), so the system is the id divided by 100.

use orrery_universe::{RegionId, SystemId, Universe};

use crate::ids::StationId;

/// Stations at each trade hub (EVE's hubs are crowded with them).
pub const HUB_STATIONS: u64 = 8;

/// Ids per system: a station id is `system × STATION_ID_STRIDE + k`.
pub const STATION_ID_STRIDE: u64 = 100;

/// One station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// Its id (`system × 100 + k`).
    pub id: StationId,
    /// The system it orbits in.
    pub system: SystemId,
    /// The region whose order books its orders join.
    pub region: RegionId,
    /// Whether its system is a trade hub (NPC traders have desks at a hub's first station).
    pub hub: bool,
    /// A display name: the system's name and the station's number.
    pub name: String,
}

/// The system a station id belongs to.
pub fn station_system(station: StationId) -> Option<SystemId> {
    u32::try_from(station.0 / STATION_ID_STRIDE)
        .ok()
        .filter(|_| !station.0.is_multiple_of(STATION_ID_STRIDE))
        .map(SystemId)
}

/// The stations of a universe, by system then number.
pub fn stations(universe: &Universe) -> Vec<Station> {
    let hubs = orrery_universe::trade_hubs(universe);
    let mut out = Vec::new();
    for (index, system) in universe.systems().iter().enumerate() {
        let hub = hubs.contains(&index);
        let count = if hub { HUB_STATIONS } else { 1 + splitmix(u64::from(system.id.0)) % 3 };
        for k in 1..=count {
            out.push(Station {
                id: StationId(u64::from(system.id.0) * STATION_ID_STRIDE + k),
                system: system.id,
                region: system.region,
                hub,
                name: format!("{} {k}", system.name),
            });
        }
    }
    out
}

/// A well-mixed hash (splitmix64's finaliser): deterministic on every machine.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_has_stations_and_hubs_have_more() {
        let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig { systems: 300, seed: 1 });
        let all = stations(&universe);
        let hubs = orrery_universe::trade_hubs(&universe);
        assert!(!hubs.is_empty());
        for (index, system) in universe.systems().iter().enumerate() {
            let here: Vec<&Station> = all.iter().filter(|s| s.system == system.id).collect();
            let expected = if hubs.contains(&index) { HUB_STATIONS as usize } else { here.len().clamp(1, 3) };
            assert_eq!(here.len(), expected, "system {}", system.id);
            for s in here {
                assert_eq!(station_system(s.id), Some(system.id));
                assert_eq!(s.region, system.region);
            }
        }
        assert_eq!(stations(&universe), all, "deterministic");
        assert_eq!(station_system(StationId(3_000_014_200)), None, "k = 0 is no station");
    }
}
