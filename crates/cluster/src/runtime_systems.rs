//! Solar systems added while the cluster runs. An operator inserts a row into `added_systems` (and its
//! stargates into `added_stargates`) with any SQL client; this watcher notices it, places the system on the
//! least-loaded sol node (fewest players, then fewest systems), sends that node the system's scenery, gives
//! every existing neighbour its new stargate, and tells the proxies — no restart. An arena is a system with
//! no stargates, entered by invitation (`arena_invites`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orrery_bus::Bus;
use orrery_node::NodeReport;
use orrery_node::celestial_message;
use orrery_proto::v1;
use orrery_sim::SystemLayout;
use orrery_store::{AddedSystem, Store};
use orrery_universe::{ConstellationId, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3};
use parking_lot::RwLock;
use prost::Message;
use tokio_util::sync::CancellationToken;

/// The universe in force, systems added at runtime included. Readers clone the inner `Arc` and let go of the
/// lock; the watcher swaps in a whole new universe, so no reader ever sees one half-extended.
pub type SharedUniverse = Arc<RwLock<Arc<Universe>>>;
/// Which sol node hosts each system (system id to node id), grown by the watcher as it places added systems.
pub type SharedMapping = Arc<RwLock<HashMap<u32, u32>>>;

/// The watcher of the `added_systems` table, with what it needs to bring a new system online.
pub struct Watcher {
    /// Where operators add systems and stargates.
    pub store: Arc<dyn Store>,
    /// Where it tells the chosen node to host a system, neighbours of their new gates, and proxies of the
    /// system.
    pub bus: Arc<dyn Bus>,
    /// The universe it extends (shared with the admin API).
    pub universe: SharedUniverse,
    /// The mapping it adds each placed system to (shared with the admin API and the cluster).
    pub node_of: SharedMapping,
    /// The nodes' latest reports, to place a system on the least-loaded node.
    pub reports: Arc<dyn Fn() -> Vec<NodeReport> + Send + Sync>,
    /// How often the table is read.
    pub every: Duration,
    /// Stamps the stargates it sends to systems (see [`orrery_proto::Stamper`]).
    pub stamper: orrery_proto::Stamper,
}

impl Watcher {
    /// Poll until `stop`, bringing each new system online once; a problem (a bad row, an arena with gates)
    /// is logged once, and the watcher keeps going.
    pub async fn run(self, stop: CancellationToken) {
        let mut reported: HashSet<String> = HashSet::new();
        loop {
            if let Err(problem) = self.poll(&mut reported).await
                && reported.insert(problem.clone())
            {
                tracing::error!(%problem, "added systems not brought online");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// One look at the tables: bring every new system online, or refuse the lot with the reason.
    async fn poll(&self, reported: &mut HashSet<String>) -> Result<(), String> {
        let current = self.universe.read().clone();
        let fresh = self.fresh_systems(&current, reported).await?;
        if fresh.is_empty() {
            return Ok(());
        }
        let fresh_ids: HashSet<u32> = fresh.iter().map(|s| s.system_id).collect();
        let added_gates = self.gates_of(&current, &fresh_ids).await?;
        refuse_arenas_with_gates(&fresh, &added_gates)?;
        let extended = extend(&current, &fresh, &added_gates)?;
        self.place(&extended, &fresh).await?;
        self.give_neighbours_their_gates(&extended, &added_gates, &fresh_ids).await?;
        *self.universe.write() = Arc::new(extended);
        for system in &fresh {
            let event = v1::ClusterEvent { body: Some(v1::cluster_event::Body::SystemAdded(system.system_id)) };
            self.publish(orrery_proto::CLUSTER_SUBJECT, event.encode_to_vec()).await;
        }
        Ok(())
    }

    /// The added systems `current` does not have yet; a row that cannot be decoded is logged (once) and left
    /// out, so one operator's typo does not hold back the others.
    async fn fresh_systems(
        &self,
        current: &Universe,
        reported: &mut HashSet<String>,
    ) -> Result<Vec<AddedSystem>, String> {
        let rows = self.store.added_systems().await.map_err(|e| e.to_string())?;
        let mut fresh: Vec<AddedSystem> = Vec::new();
        for row in rows {
            match row {
                Ok(system) if current.index_of(SystemId(system.system_id)).is_none() => fresh.push(system),
                Ok(_) => {}
                Err(problem) => {
                    if reported.insert(problem.to_string()) {
                        tracing::error!(%problem, "added system refused");
                    }
                }
            }
        }
        Ok(fresh)
    }

    /// The added stargates that touch a fresh system and join two systems that will exist, each once as
    /// (lower id, higher id).
    async fn gates_of(&self, current: &Universe, fresh_ids: &HashSet<u32>) -> Result<BTreeSet<(u32, u32)>, String> {
        let known = |id: u32| current.index_of(SystemId(id)).is_some() || fresh_ids.contains(&id);
        Ok(self
            .store
            .added_stargates()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|&(a, b)| a != b && known(a) && known(b) && (fresh_ids.contains(&a) || fresh_ids.contains(&b)))
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect())
    }

    /// Place each fresh system on the least-loaded node (fewest players, then fewest systems, then lowest id),
    /// send that node the system's scenery, and record the placement in the shared mapping.
    async fn place(&self, extended: &Universe, fresh: &[AddedSystem]) -> Result<(), String> {
        let mut load: HashMap<u32, (u64, usize)> = HashMap::new();
        for report in (self.reports)() {
            load.insert(report.node_id, (report.systems.iter().map(|s| s.ships as u64).sum(), report.systems.len()));
        }
        for system in fresh {
            let index = extended.index_of(SystemId(system.system_id)).ok_or("added system vanished")?;
            let layout = SystemLayout::generate(extended, index).map_err(|e| e.to_string())?;
            let Some((&node, entry)) =
                load.iter_mut().min_by_key(|(node, (players, count))| (*players, *count, **node))
            else {
                return Err("no sol node to host the system".into());
            };
            entry.1 += 1;
            let host = v1::NodeInbox {
                body: Some(v1::node_inbox::Body::Host(v1::HostSystem {
                    system_id: system.system_id,
                    name: system.name.clone(),
                    celestials: layout.celestials.iter().map(celestial_message).collect(),
                    ..v1::HostSystem::default()
                })),
            };
            self.publish(&orrery_proto::node_subject(node), host.encode_to_vec()).await;
            self.node_of.write().insert(system.system_id, node);
            tracing::info!(system = system.system_id, name = %system.name, node, arena = system.arena, "added system placed");
        }
        Ok(())
    }

    /// Send each existing system joined to a fresh one its new stargate.
    async fn give_neighbours_their_gates(
        &self,
        extended: &Universe,
        added_gates: &BTreeSet<(u32, u32)>,
        fresh_ids: &HashSet<u32>,
    ) -> Result<(), String> {
        for &(a, b) in added_gates {
            for (existing, new) in [(a, b), (b, a)] {
                if fresh_ids.contains(&existing) || !fresh_ids.contains(&new) {
                    continue;
                }
                let index = extended.index_of(SystemId(existing)).ok_or("neighbour vanished")?;
                let layout = SystemLayout::generate(extended, index).map_err(|e| e.to_string())?;
                if let Some(gate) = layout.gate_to(new) {
                    let message = self.stamper.encode(v1::system_inbox::Body::AddCelestial(celestial_message(gate)));
                    self.publish(&orrery_proto::system_subject(existing), message.to_vec()).await;
                }
            }
        }
        Ok(())
    }

    async fn publish(&self, subject: &str, payload: Vec<u8>) {
        if let Err(problem) = self.bus.publish(subject, Bytes::from(payload)).await {
            tracing::error!(subject, %problem, "publish failed");
        }
    }
}

/// An arena is entered by invitation only, so one with a stargate is refused (with the first such id).
fn refuse_arenas_with_gates(fresh: &[AddedSystem], added_gates: &BTreeSet<(u32, u32)>) -> Result<(), String> {
    match fresh.iter().find(|s| s.arena && added_gates.iter().any(|&(a, b)| a == s.system_id || b == s.system_id)) {
        Some(arena) => Err(format!("arena {} has stargates: an arena is entered by invitation only", arena.system_id)),
        None => Ok(()),
    }
}

/// The universe with the fresh systems appended: existing systems keep their indices, so their existing gates
/// keep their ids and a new gate takes the next one. A fresh system joins the constellation and region of the
/// existing system its first gate leads to, or has its own.
fn extend(current: &Universe, fresh: &[AddedSystem], added_gates: &BTreeSet<(u32, u32)>) -> Result<Universe, String> {
    let mut systems: Vec<SolarSystem> = current.systems().to_vec();
    for system in fresh {
        let neighbour = added_gates
            .iter()
            .find_map(|&(a, b)| {
                if a == system.system_id {
                    Some(b)
                } else if b == system.system_id {
                    Some(a)
                } else {
                    None
                }
            })
            .and_then(|n| current.by_id(SystemId(n)));
        systems.push(SolarSystem {
            id: SystemId(system.system_id),
            name: system.name.clone(),
            position: Vec3::new(system.position[0], system.position[1], system.position[2]),
            security: system.security,
            constellation: neighbour.map_or(ConstellationId(system.system_id), |n| n.constellation),
            region: neighbour.map_or(RegionId(system.system_id), |n| n.region),
            kind: if system.arena { SystemKind::Other } else { SystemKind::KSpace },
        });
    }
    let mut gates: Vec<(SystemId, SystemId)> =
        current.gates().map(|(a, b)| (current.system(a).id, current.system(b).id)).collect();
    gates.extend(added_gates.iter().map(|&(a, b)| (SystemId(a), SystemId(b))));
    Universe::new(systems, &gates, current.constellations().to_vec(), current.regions().to_vec())
        .map_err(|e| e.to_string())
}
