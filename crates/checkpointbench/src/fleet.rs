//! The ships of the benchmark: created in the store as real characters (so that every checkpoint row is
//! written, not skipped as an unknown ship), spread over a few systems, each on a circle round its system's
//! star, and the bus messages that put them in space and keep them moving.

use std::sync::Arc;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use orrery_proto::v1;
use orrery_sim::{Celestial, CelestialKind, Vec3, celestial_id};
use orrery_store::{NewShip, ShipRow, Store};

/// The first benchmark system's id; the others follow.
const FIRST_SYSTEM: u32 = 1;
/// The innermost orbit, metres from the star.
const INNER_ORBIT_M: f64 = 20_000.0;
/// Ships per ring of orbits, and the gap between rings (metres).
const SHIPS_PER_RING: usize = 100;
const RING_GAP_M: f64 = 1_000.0;
/// Characters created at once while setting up (PostgreSQL takes them in parallel; SQLite queues them).
const CREATE_AT_ONCE: usize = 16;

/// One benchmark system: its id and its ships as the store has them.
pub struct BenchSystem {
    /// The system's id.
    pub system_id: u32,
    /// Its ships as created (in space here, not moved yet).
    pub ships: Vec<ShipRow>,
}

/// Every benchmark ship, by system.
pub struct Fleet {
    /// The systems, each with its share of the ships.
    pub systems: Vec<BenchSystem>,
}

impl Fleet {
    /// Create `ships` characters (with their ships) in `store`, dealt round-robin over `systems` systems, each
    /// ship on the circle it will orbit. `created` is told after each character.
    pub async fn create(
        store: &Arc<dyn Store>,
        ships: usize,
        systems: u32,
        created: impl Fn() + Sync,
    ) -> anyhow::Result<Fleet> {
        anyhow::ensure!(systems > 0, "--systems must be at least 1");
        // A run of its own: names that cannot clash with an earlier run's in the same store.
        let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let account = store
            .create_account(&format!("ckptbench-{run}"), "$argon2id$checkpoint-bench")
            .await
            .context("creating the benchmark's account")?;
        let created = &created;
        let mut rows: Vec<(usize, ShipRow)> = futures::stream::iter(0..ships)
            .map(|index| async move {
                let system_id = FIRST_SYSTEM + (index as u32 % systems);
                let ship =
                    NewShip { system_id, position: start_position(index), velocity: [0.0; 3], ship_type_id: None };
                let character = store
                    .create_character(account, &format!("ckpt-{run}-{index}"), ship)
                    .await
                    .with_context(|| format!("creating character {index} of {ships}"))?;
                created();
                anyhow::Ok((index, ShipRow { in_space: true, ..character.ship }))
            })
            .buffer_unordered(CREATE_AT_ONCE)
            .try_collect()
            .await?;
        rows.sort_unstable_by_key(|(index, _)| *index);
        let mut fleet = Fleet {
            systems: (0..systems)
                .map(|offset| BenchSystem { system_id: FIRST_SYSTEM + offset, ships: Vec::new() })
                .collect(),
        };
        for (index, row) in rows {
            fleet.systems[index % systems as usize].ships.push(row);
        }
        Ok(fleet)
    }

    /// Ships in all systems.
    pub fn ship_count(&self) -> usize {
        self.systems.iter().map(|system| system.ships.len()).sum()
    }
}

/// Where ship `index` starts: on its orbit round the star, spread by the golden angle so that no two ships
/// share a spot.
fn start_position(index: usize) -> [f64; 3] {
    let radius = orbit_radius(index);
    let angle = index as f64 * 2.399_963_229_728_653;
    [radius * angle.cos(), radius * angle.sin(), 0.0]
}

/// The radius ship `index` orbits at, metres.
fn orbit_radius(index: usize) -> f64 {
    INNER_ORBIT_M + (index / SHIPS_PER_RING) as f64 * RING_GAP_M
}

/// The star every ship of `system_id` orbits.
pub fn star_id(system_id: u32) -> u64 {
    celestial_id(system_id, 0)
}

impl BenchSystem {
    /// The message giving this system, with its ships, to a node: the cluster's failover message (a node
    /// that takes over a dead node's system restores the ships the store has in space there).
    pub fn host_message(&self) -> v1::NodeInbox {
        let star = Celestial {
            id: star_id(self.system_id),
            kind: CelestialKind::Star,
            name: format!("Bench {} star", self.system_id),
            position: Vec3::ZERO,
            destination: None,
        };
        let ships = self
            .ships
            .iter()
            .map(|row| v1::ShipRecord {
                ship_id: row.ship_id,
                character_id: row.character_id,
                pilot: format!("pilot {}", row.character_id),
                system_id: self.system_id,
                position: Some(vec3d(row.position)),
                velocity: Some(vec3d(row.velocity)),
                handoff_seq: row.handoff_seq,
                // The starter frigate, undamaged: the node fills in an untyped ship.
                ship_type_id: 0,
                hit_points: None,
            })
            .collect();
        v1::NodeInbox {
            body: Some(v1::node_inbox::Body::Host(v1::HostSystem {
                system_id: self.system_id,
                name: format!("Bench {}", self.system_id),
                celestials: vec![orrery_node::celestial_message(&star)],
                ships,
                epoch: 1,
                failover: false,
            })),
        }
    }

    /// For each ship, the session command that sets it orbiting the star on the circle it starts on: every
    /// ship moves every tick, so every checkpoint has every ship to write. The sessions are those of proxy
    /// `proxy_id`, one per ship.
    pub fn orbit_commands(&self, proxy_id: u32) -> Vec<v1::system_inbox::Body> {
        self.ships
            .iter()
            .map(|row| {
                let [x, y, _] = row.position;
                v1::system_inbox::Body::Command(v1::SessionCommand {
                    route: Some(v1::SessionRoute { proxy_id, session_id: row.ship_id }),
                    ship_id: row.ship_id,
                    envelope: Some(v1::ClientEnvelope {
                        request_id: 1,
                        body: Some(v1::client_envelope::Body::Orbit(v1::Orbit {
                            object_id: star_id(self.system_id),
                            radius_m: x.hypot(y).round() as u32,
                        })),
                    }),
                })
            })
            .collect()
    }
}

fn vec3d([x, y, z]: [f64; 3]) -> v1::Vec3d {
    v1::Vec3d { x, y, z }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_start_on_distinct_spots_on_their_orbit() {
        let spots: Vec<[f64; 3]> = (0..1_000).map(start_position).collect();
        for (index, spot) in spots.iter().enumerate() {
            let radius = spot[0].hypot(spot[1]);
            assert!((radius - orbit_radius(index)).abs() < 1e-6, "ship {index} starts off its orbit");
        }
        for (a, first) in spots.iter().enumerate() {
            for second in &spots[a + 1..] {
                let gap = (first[0] - second[0]).hypot(first[1] - second[1]);
                assert!(gap > 1.0, "two ships start within a metre of each other");
            }
        }
    }
}
