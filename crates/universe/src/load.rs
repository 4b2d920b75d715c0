//! Load fingerprints: how much work each system is expected to cost a sol node.
//!
//! Loads are in *load units*: 1.0 is the cost of a quiet, empty system (its tick, its timers, its NPCs). The
//! premapper balances the `cpu` figure; `mem` is carried for operators and later placement rules.
//!
//! A fingerprint comes from one of three places:
//! - a CSV file `system_id,cpu[,mem]` ([`LoadProfile::from_csv`]): what a live cluster measured;
//! - an activity snapshot (jumps and kills per system, as in `shared/data/eve/activity.csv`)
//!   ([`LoadProfile::from_activity`]);
//! - a synthesis ([`LoadProfile::synthesise`]): trade hubs heavy, high-sec busier than low and null, a long tail.
//!
//! Systems a fingerprint does not mention get [`DEFAULT_LOAD`].

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::csv_table::{CsvTable, Input, open_file as open};
use crate::{LoadError, SystemId, Universe};

/// The estimated cost of one system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// CPU cost in load units (1.0 = a quiet system).
    pub cpu: f64,
    /// Memory cost in load units (1.0 = a quiet system).
    pub mem: f64,
}

/// The load of a system that a fingerprint does not mention: one quiet system's worth of CPU and memory.
pub const DEFAULT_LOAD: Load = Load { cpu: 1.0, mem: 1.0 };

/// How an activity snapshot turns into CPU load: `cpu = base + Σ weight × count`.
///
/// The defaults reflect what costs a sol node: every jump brings a ship that is ticked for a while, a ship kill
/// is a fight (many ships, many modules), a pod kill follows one; NPC kills are mostly one pilot ratting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityWeights {
    /// The CPU load of a system with no activity at all: what ticking it costs regardless of who is there.
    pub base: f64,
    /// Load added per ship jump in the snapshot (`ship_jumps`): each brings a ship ticked for a while.
    pub per_ship_jump: f64,
    /// Load added per ship kill (`ship_kills`): a kill stands for a fight, many ships and modules at once.
    pub per_ship_kill: f64,
    /// Load added per pod kill (`pod_kills`): the end of a fight, about as costly as the ship kill before it.
    pub per_pod_kill: f64,
    /// Load added per NPC kill (`npc_kills`): mostly one pilot ratting, so cheap each.
    pub per_npc_kill: f64,
}

impl Default for ActivityWeights {
    fn default() -> Self {
        ActivityWeights { base: 1.0, per_ship_jump: 0.05, per_ship_kill: 0.5, per_pod_kill: 0.5, per_npc_kill: 0.01 }
    }
}

/// Per-system load estimates, keyed by system id, with [`DEFAULT_LOAD`] for the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadProfile {
    loads: BTreeMap<SystemId, Load>,
}

impl LoadProfile {
    /// Every system at [`DEFAULT_LOAD`].
    pub fn uniform() -> Self {
        LoadProfile::default()
    }

    /// A profile from explicit per-system loads.
    pub fn from_loads(loads: impl IntoIterator<Item = (SystemId, Load)>) -> Self {
        LoadProfile { loads: loads.into_iter().collect() }
    }

    /// The load of one system.
    pub fn get(&self, id: SystemId) -> Load {
        self.loads.get(&id).copied().unwrap_or(DEFAULT_LOAD)
    }

    /// Number of systems the profile names explicitly.
    pub fn explicit_len(&self) -> usize {
        self.loads.len()
    }

    /// CPU load per system of `universe`, in index order: the vector the premapper balances.
    pub fn cpu(&self, universe: &Universe) -> Vec<f64> {
        universe.systems().iter().map(|s| self.get(s.id).cpu).collect()
    }

    /// Reads `system_id,cpu[,mem]`. Every id must be a system of `universe`; values must be finite and ≥ 0;
    /// an id may appear once. A missing `mem` column means [`DEFAULT_LOAD`]'s memory.
    pub fn from_csv(input: Input<'_>, universe: &Universe) -> Result<Self, LoadError> {
        let mut table = CsvTable::open(input)?;
        let id_col = table.column("system_id")?;
        let cpu_col = table.column("cpu")?;
        let mem_col = table.optional_column("mem");
        let mut loads = BTreeMap::new();
        let mut lines = std::collections::HashMap::new();
        table.for_each_row(|row| {
            let id = row.system(id_col, universe)?;
            row.first_time(&mut lines, id_col, "system", id)?;
            let cpu = row.non_negative(cpu_col)?;
            let mem = match mem_col {
                Some(col) if !row.text(col).is_empty() => row.non_negative(col)?,
                _ => DEFAULT_LOAD.mem,
            };
            loads.insert(id, Load { cpu, mem });
            Ok(())
        })?;
        Ok(LoadProfile { loads })
    }

    /// Opens a file and calls [`LoadProfile::from_csv`].
    pub fn from_csv_path(path: &Path, universe: &Universe) -> Result<Self, LoadError> {
        let name = path.display().to_string();
        let mut reader = open(path, &name)?;
        LoadProfile::from_csv(Input::new(&name, &mut reader), universe)
    }

    /// Derives CPU load from an activity snapshot with columns `system_id,ship_jumps,ship_kills,npc_kills,pod_kills`
    /// (other columns ignored). Systems absent from the snapshot had no activity and get `weights.base`.
    pub fn from_activity(input: Input<'_>, universe: &Universe, weights: &ActivityWeights) -> Result<Self, LoadError> {
        let mut table = CsvTable::open(input)?;
        let id_col = table.column("system_id")?;
        let columns = [
            (table.column("ship_jumps")?, weights.per_ship_jump),
            (table.column("ship_kills")?, weights.per_ship_kill),
            (table.column("npc_kills")?, weights.per_npc_kill),
            (table.column("pod_kills")?, weights.per_pod_kill),
        ];
        let mut loads: BTreeMap<SystemId, Load> =
            universe.systems().iter().map(|s| (s.id, Load { cpu: weights.base, mem: DEFAULT_LOAD.mem })).collect();
        let mut lines = std::collections::HashMap::new();
        table.for_each_row(|row| {
            let id = row.system(id_col, universe)?;
            row.first_time(&mut lines, id_col, "system", id)?;
            let mut cpu = weights.base;
            for &(col, weight) in &columns {
                cpu += weight * row.non_negative(col)?;
            }
            if !cpu.is_finite() {
                return Err(LoadError::invalid(
                    row.at(id_col),
                    format!("the activity of system {id} adds up to a load too large to represent"),
                ));
            }
            loads.insert(id, Load { cpu, mem: DEFAULT_LOAD.mem });
            Ok(())
        })?;
        Ok(LoadProfile { loads })
    }

    /// Opens a file and calls [`LoadProfile::from_activity`].
    pub fn from_activity_path(path: &Path, universe: &Universe, weights: &ActivityWeights) -> Result<Self, LoadError> {
        let name = path.display().to_string();
        let mut reader = open(path, &name)?;
        LoadProfile::from_activity(Input::new(&name, &mut reader), universe, weights)
    }

    /// A plausible fingerprint for any universe, deterministic in `seed`:
    /// - a base by security: high-sec 2.0, low-sec 1.3, null-sec 1.0 (empires are busier);
    /// - times a long-tailed factor (Pareto, shape 2, capped at 40): most systems quiet, a few busy;
    /// - trade hubs: the best-connected high-sec system of each of the five regions with the best-connected
    ///   high-sec systems gets 150, 60, 40, 30 and 25 load units.
    pub fn synthesise(universe: &Universe, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut loads = BTreeMap::new();
        for system in universe.systems() {
            let base = if system.is_high_sec() {
                2.0
            } else if system.security > 0.0 {
                1.3
            } else {
                1.0
            };
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let tail = (1.0 / u.sqrt()).min(40.0);
            loads.insert(system.id, Load { cpu: base * tail, mem: base });
        }
        for (index, hub_load) in trade_hubs(universe).into_iter().zip([150.0, 60.0, 40.0, 30.0, 25.0]) {
            let id = universe.system(index).id;
            loads.insert(id, Load { cpu: hub_load, mem: hub_load / 4.0 });
        }
        LoadProfile { loads }
    }

    /// Writes `system_id,cpu,mem` for every system of `universe`, in index order.
    pub fn write_csv(&self, universe: &Universe, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "system_id,cpu,mem")?;
        for system in universe.systems() {
            let load = self.get(system.id);
            writeln!(out, "{},{},{}", system.id, load.cpu, load.mem)?;
        }
        Ok(())
    }
}

/// The indices of up to five trade hubs: per region, its best-connected high-sec system (most gates, then lowest
/// id); the regions whose candidate is best connected win.
pub fn trade_hubs(universe: &Universe) -> Vec<usize> {
    let mut best_per_region: BTreeMap<crate::RegionId, usize> = BTreeMap::new();
    let rank = |i: usize| (std::cmp::Reverse(universe.neighbours(i).len()), universe.system(i).id);
    for (index, system) in universe.systems().iter().enumerate() {
        if !system.is_high_sec() || universe.neighbours(index).is_empty() {
            continue;
        }
        best_per_region
            .entry(system.region)
            .and_modify(|best| {
                if rank(index) < rank(*best) {
                    *best = index;
                }
            })
            .or_insert(index);
    }
    let mut hubs: Vec<usize> = best_per_region.into_values().collect();
    hubs.sort_by_key(|&i| rank(i));
    hubs.truncate(5);
    hubs
}
