//! The historic strategy: constellations as the unit of placement.

use std::collections::BTreeMap;

use orrery_universe::ConstellationId;

use crate::subset::Subset;

/// How far above the least loaded node a preferred node may be before its constellation goes elsewhere.
const SPILL_OVER: f64 = 1.20;

/// Constellations in id order; constellation number `c` prefers node `c mod k` (a static table, as the old
/// cluster configuration had). It goes there unless that node is more than 20% above the least loaded node,
/// in which case it goes to the least loaded node. Whole constellations stay together.
pub(crate) fn partition(subset: &Subset<'_>, k: usize) -> Vec<u32> {
    let mut constellations: BTreeMap<ConstellationId, Vec<usize>> = BTreeMap::new();
    for (local, &global) in subset.global.iter().enumerate() {
        constellations.entry(subset.universe.system(global).constellation).or_default().push(local);
    }
    let mut node_load = vec![0.0f64; k];
    let mut part = vec![0u32; subset.len()];
    for (number, members) in constellations.values().enumerate() {
        let preferred = number % k;
        let least = (0..k).min_by(|&a, &b| node_load[a].total_cmp(&node_load[b]).then(a.cmp(&b))).unwrap_or(0);
        let node = if node_load[preferred] > node_load[least] * SPILL_OVER { least } else { preferred };
        for &local in members {
            part[local] = node as u32;
            node_load[node] += subset.load[local];
        }
    }
    part
}
