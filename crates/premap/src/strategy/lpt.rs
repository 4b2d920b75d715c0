//! Longest processing time first (Graham's LPT rule).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::dedicated::heavier_first;

/// Heaviest system first, each to the node with the least load so far (ties: fewer systems, then the lower
/// node number, so empty nodes fill first even when loads are zero). Balance within 4/3 of optimal; no
/// locality.
pub(crate) fn partition(load: &[f64], k: usize) -> Vec<u32> {
    let mut order: Vec<usize> = (0..load.len()).collect();
    order.sort_by(|&a, &b| heavier_first(load, a, b));
    let mut heap: BinaryHeap<Reverse<(TotalF64, usize, u32)>> =
        (0..k as u32).map(|node| Reverse((TotalF64(0.0), 0, node))).collect();
    let mut part = vec![0u32; load.len()];
    for system in order {
        let Reverse((TotalF64(node_load), count, node)) = heap.pop().expect("k ≥ 1 nodes are always in the heap");
        part[system] = node;
        heap.push(Reverse((TotalF64(node_load + load[system]), count + 1, node)));
    }
    part
}

/// The maximum node load LPT reaches: the balance yardstick `best` must meet.
pub(crate) fn max_load(load: &[f64], k: usize) -> f64 {
    let part = partition(load, k);
    let mut loads = vec![0.0; k];
    for (system, &node) in part.iter().enumerate() {
        loads[node as usize] += load[system];
    }
    loads.into_iter().fold(0.0, f64::max)
}

/// An `f64` ordered by `total_cmp`, for heaps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TotalF64(f64);

impl Eq for TotalF64 {}

impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
