//! The way to the hub: for every system, the neighbour one jump closer to the hub system.
//!
//! Clients are never sent the map (a snapshot names only the gates of the current system), so a bot that
//! wants to reach a distant hub needs the map from elsewhere. The load generator builds the same universe the
//! server does (the same files, or the same generator and seed) and plans once, with a breadth-first search out
//! of the hub, a next hop for every system: one table shared by all bots, O(systems) memory, O(1) per decision.
//! A bot standing in a system the table does not know (a different universe on the server) falls back to
//! jumping straight to the hub when one of its gates leads there, and to a random walk otherwise.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use orrery_universe::{SystemId, Universe, trade_hubs};

use crate::error::RouteError;

/// A hub system and, for every system that can reach it, the next system on a shortest route to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRoute {
    hub: u32,
    /// `system id → (next system id, jumps left to the hub)`; the hub itself is absent.
    next_hop: Arc<HashMap<u32, (u32, u32)>>,
}

impl HubRoute {
    /// Plans shortest routes (in jumps) from every system of `universe` to `hub`. Systems with no path to the
    /// hub (another component, wormhole space) are left out. Ties between equally short routes go to the
    /// neighbour with the lowest index, so the plan is deterministic.
    pub fn plan(universe: &Universe, hub: SystemId) -> Result<HubRoute, RouteError> {
        let start = universe.index_of(hub).ok_or(RouteError::UnknownSystem(hub.0))?;
        let mut hops = vec![u32::MAX; universe.len()];
        let mut next_hop = HashMap::new();
        let mut frontier = VecDeque::from([start]);
        hops[start] = 0;
        while let Some(index) = frontier.pop_front() {
            for &neighbour in universe.neighbours(index) {
                if hops[neighbour] == u32::MAX {
                    hops[neighbour] = hops[index] + 1;
                    next_hop.insert(universe.system(neighbour).id.0, (universe.system(index).id.0, hops[neighbour]));
                    frontier.push_back(neighbour);
                }
            }
        }
        Ok(HubRoute { hub: hub.0, next_hop: Arc::new(next_hop) })
    }

    /// A hub without a map: bots jump to it when one of their gates leads there and random-walk otherwise.
    /// Useful when the server's universe is unknown (and in tests).
    pub fn without_map(hub: u32) -> HubRoute {
        HubRoute { hub, next_hop: Arc::new(HashMap::new()) }
    }

    /// The busiest trade hub of `universe`: the first of [`orrery_universe::trade_hubs`], the system the
    /// synthesised load profile makes heaviest — where players would crowd.
    pub fn busiest_trade_hub(universe: &Universe) -> Result<SystemId, RouteError> {
        trade_hubs(universe).first().map(|&index| universe.system(index).id).ok_or(RouteError::NoTradeHub)
    }

    /// The hub system's id.
    pub fn hub(&self) -> u32 {
        self.hub
    }

    /// The system to jump to from `from` to get one jump closer to the hub, if the plan knows `from` (`None`
    /// at the hub itself, in an unknown system, or without a map).
    pub fn next_hop(&self, from: u32) -> Option<u32> {
        self.next_hop.get(&from).map(|&(next, _)| next)
    }

    /// Jumps from `from` to the hub on a shortest route (0 at the hub), if the plan knows `from`.
    pub fn jumps_to_hub(&self, from: u32) -> Option<u32> {
        if from == self.hub { Some(0) } else { self.next_hop.get(&from).map(|&(_, hops)| hops) }
    }

    /// How many systems the plan can route from (the hub excluded).
    pub fn len(&self) -> usize {
        self.next_hop.len()
    }

    /// Whether the plan has no map (see [`HubRoute::without_map`]).
    pub fn is_empty(&self) -> bool {
        self.next_hop.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use orrery_universe::{ConstellationId, GeneratorConfig, RegionId, SolarSystem, SystemKind, Vec3, generate};

    use super::*;

    fn system(id: u32) -> SolarSystem {
        SolarSystem {
            id: SystemId(id),
            name: format!("S{id}"),
            position: Vec3 { x: f64::from(id), y: 0.0, z: 0.0 },
            security: 0.9,
            constellation: ConstellationId(20_000_001),
            region: RegionId(10_000_001),
            kind: SystemKind::KSpace,
        }
    }

    /// 1 - 2 - 3 - 4, with a shortcut 1 - 5 - 4, and an island 6 - 7.
    fn small() -> Universe {
        let systems = (1..=7).map(system).collect();
        let gates: Vec<_> =
            [(1, 2), (2, 3), (3, 4), (1, 5), (5, 4), (6, 7)].iter().map(|&(a, b)| (SystemId(a), SystemId(b))).collect();
        Universe::new(systems, &gates, Vec::new(), Vec::new()).expect("a valid universe")
    }

    #[test]
    fn next_hops_follow_shortest_routes() {
        let route = HubRoute::plan(&small(), SystemId(4)).expect("hub exists");
        assert_eq!(route.hub(), 4);
        assert_eq!(route.next_hop(3), Some(4));
        assert_eq!(route.next_hop(5), Some(4));
        assert_eq!(route.next_hop(1), Some(5), "1-5-4 is shorter than 1-2-3-4");
        assert_eq!(route.next_hop(2), Some(3));
        assert_eq!(route.jumps_to_hub(1), Some(2));
        assert_eq!(route.jumps_to_hub(4), Some(0));
        assert_eq!(route.next_hop(4), None, "no hop from the hub itself");
    }

    #[test]
    fn unreachable_and_unknown_systems_have_no_route() {
        let route = HubRoute::plan(&small(), SystemId(4)).expect("hub exists");
        assert_eq!(route.next_hop(6), None);
        assert_eq!(route.next_hop(99), None);
        assert_eq!(route.len(), 4);
        assert_eq!(HubRoute::plan(&small(), SystemId(99)), Err(RouteError::UnknownSystem(99)));
    }

    #[test]
    fn every_generated_system_reaches_the_busiest_hub_by_following_next_hops() {
        let universe = generate(&GeneratorConfig { systems: 400, ..GeneratorConfig::default() });
        let hub = HubRoute::busiest_trade_hub(&universe).expect("the generator makes trade hubs");
        let route = HubRoute::plan(&universe, hub).expect("hub exists");
        assert_eq!(route.len(), universe.len() - 1, "the generated graph is connected");
        for system in universe.systems() {
            let mut at = system.id.0;
            let mut jumps = 0;
            while at != hub.0 {
                let next = route.next_hop(at).expect("a route from every system");
                let (from, to) = (universe.index_of(SystemId(at)), universe.index_of(SystemId(next)));
                let (Some(from), Some(to)) = (from, to) else { panic!("route leaves the universe") };
                assert!(universe.neighbours(from).contains(&to), "each hop is a stargate");
                at = next;
                jumps += 1;
            }
            assert_eq!(Some(jumps), route.jumps_to_hub(system.id.0));
        }
    }

    #[test]
    fn a_route_without_map_knows_only_the_hub() {
        let route = HubRoute::without_map(30_000_142);
        assert!(route.is_empty());
        assert_eq!(route.next_hop(30_000_001), None);
        assert_eq!(route.jumps_to_hub(30_000_142), Some(0));
    }
}
