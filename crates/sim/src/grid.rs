//! A uniform spatial grid over a system's ships, rebuilt once per step, for "who is within R of here" without
//! looking at every ship: the question behind target selection and (later) interest management in a fight of
//! thousands.
//!
//! The grid is a sorted list of (cell key, ship) pairs rather than a hash map of lists, so rebuilding it reuses
//! one buffer and allocates nothing in the steady state. Cell keys are hashes of the cell coordinates; two cells
//! sharing a key only cost extra distance checks, never a wrong answer.

use crate::ids::ShipId;
use crate::space::Vec3;

/// Edge of a grid cell, metres: about the range of a fleet fight's guns, so a typical query touches few cells.
pub const CELL_M: f64 = 20_000.0;
/// A query spanning more cells than this per axis scans the whole list instead (cheaper for huge radii).
const MAX_CELLS_PER_AXIS: i64 = 8;
/// The most cells a query visits one by one.
const CELLS_PER_QUERY: usize =
    ((MAX_CELLS_PER_AXIS + 1) * (MAX_CELLS_PER_AXIS + 1) * (MAX_CELLS_PER_AXIS + 1)) as usize;

/// Ships binned by cell; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpatialGrid {
    /// (cell key, ship, position), sorted by key then ship id.
    entries: Vec<(u64, ShipId, Vec3)>,
}

fn cell_of(p: Vec3) -> [i64; 3] {
    [(p.x / CELL_M).floor() as i64, (p.y / CELL_M).floor() as i64, (p.z / CELL_M).floor() as i64]
}

fn key(cell: [i64; 3]) -> u64 {
    let h = (cell[0] as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (cell[1] as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (cell[2] as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^ (h >> 29)
}

impl SpatialGrid {
    /// Rebuilds the grid from every ship's position, reusing the buffer.
    pub fn rebuild(&mut self, ships: impl Iterator<Item = (ShipId, Vec3)>) {
        self.entries.clear();
        self.entries.extend(ships.map(|(id, p)| (key(cell_of(p)), id, p)));
        self.entries.sort_unstable_by_key(|&(k, id, _)| (k, id));
    }

    /// How many ships the grid holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Calls `each` with every ship within `radius_m` of `centre` (as of the last rebuild), with its position and
    /// distance. Order: by cell, then id (deterministic, not by distance).
    pub fn for_each_within(&self, centre: Vec3, radius_m: f64, mut each: impl FnMut(ShipId, Vec3, f64)) {
        if !(radius_m >= 0.0 && centre.is_finite()) {
            return;
        }
        let reach = Vec3::new(radius_m, radius_m, radius_m);
        let (low, high) = (cell_of(centre - reach), cell_of(centre + reach));
        let span = (0..3).map(|a| high[a].saturating_sub(low[a])).max().unwrap_or(0);
        let mut visit = |entries: &[(u64, ShipId, Vec3)]| {
            for &(_, id, p) in entries {
                let d = p.distance(centre);
                if d <= radius_m {
                    each(id, p, d);
                }
            }
        };
        if span > MAX_CELLS_PER_AXIS {
            visit(&self.entries);
            return;
        }
        // Cells of one query that share a key must be visited once: collect, sort and skip repeats (on the stack,
        // so a query allocates nothing).
        let mut keys = [0u64; CELLS_PER_QUERY];
        let mut n = 0;
        for x in low[0]..=high[0] {
            for y in low[1]..=high[1] {
                for z in low[2]..=high[2] {
                    keys[n] = key([x, y, z]);
                    n += 1;
                }
            }
        }
        let keys = &mut keys[..n];
        keys.sort_unstable();
        for (i, &k) in keys.iter().enumerate() {
            if i > 0 && keys[i - 1] == k {
                continue;
            }
            let start = self.entries.partition_point(|e| e.0 < k);
            let end = start + self.entries[start..].partition_point(|e| e.0 == k);
            visit(&self.entries[start..end]);
        }
    }

    /// The nearest ship within `radius_m` of `centre` for which `wanted(id, position)` holds, ties broken by the
    /// lower id. `wanted` is only asked about ships nearer than the best so far.
    pub fn nearest(&self, centre: Vec3, radius_m: f64, mut wanted: impl FnMut(ShipId, Vec3) -> bool) -> Option<ShipId> {
        let mut best: Option<(f64, ShipId)> = None;
        self.for_each_within(centre, radius_m, |id, p, d| {
            if best.is_none_or(|(bd, bid)| d < bd || (d == bd && id < bid)) && wanted(id, p) {
                best = Some((d, id));
            }
        });
        best.map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The grid finds exactly the ships a linear scan finds.
        #[test]
        fn grid_agrees_with_a_linear_scan(
            ships in prop::collection::vec((-1e5f64..1e5, -1e4f64..1e4, -1e5f64..1e5), 0..200),
            centre in (-1e5f64..1e5, -1e4f64..1e4, -1e5f64..1e5),
            radius in 0f64..3e5,
        ) {
            let ships: Vec<(ShipId, Vec3)> =
                ships.into_iter().enumerate().map(|(i, (x, y, z))| (i as ShipId, Vec3::new(x, y, z))).collect();
            let mut grid = SpatialGrid::default();
            grid.rebuild(ships.iter().copied());
            let centre = Vec3::new(centre.0, centre.1, centre.2);
            let mut found = Vec::new();
            grid.for_each_within(centre, radius, |id, _, _| found.push(id));
            found.sort_unstable();
            let expected: Vec<ShipId> =
                ships.iter().filter(|(_, p)| p.distance(centre) <= radius).map(|&(id, _)| id).collect();
            prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn nearest_skips_unwanted_ships() {
        let mut grid = SpatialGrid::default();
        grid.rebuild([(1, Vec3::new(100.0, 0.0, 0.0)), (2, Vec3::new(200.0, 0.0, 0.0))].into_iter());
        assert_eq!(grid.nearest(Vec3::ZERO, 1_000.0, |_, _| true), Some(1));
        assert_eq!(grid.nearest(Vec3::ZERO, 1_000.0, |id, _| id != 1), Some(2));
        assert_eq!(grid.nearest(Vec3::ZERO, 1_000.0, |_, p| p.x > 150.0), Some(2));
        assert_eq!(grid.nearest(Vec3::ZERO, 50.0, |_, _| true), None);
        assert_eq!(grid.len(), 2);
    }
}
