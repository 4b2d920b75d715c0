//! The dedicated-node rule shared by every strategy.

use std::cmp::Ordering;

/// The systems that get a node of their own, heaviest first.
///
/// Repeatedly: if the heaviest remaining system is heavier than the per-node share of the remaining load
/// (`remaining load / remaining nodes`), it gets a dedicated node and leaves the pool. No balancing can do
/// better for such a system — its node is loaded by it alone — and sharing its node would only overload the
/// quiet systems put next to it. At least one node is always left for the others.
pub fn dedicated_systems(load: &[f64], nodes: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..load.len()).collect();
    order.sort_by(|&a, &b| heavier_first(load, a, b));
    let mut remaining: f64 = load.iter().sum();
    let mut nodes_left = nodes;
    let mut dedicated = Vec::new();
    for &system in &order {
        if nodes_left <= 1 || load.len() - dedicated.len() <= nodes_left {
            break;
        }
        let share = remaining / nodes_left as f64;
        if load[system] > share {
            dedicated.push(system);
            remaining -= load[system];
            nodes_left -= 1;
        } else {
            break;
        }
    }
    dedicated
}

/// Orders systems by load, heaviest first, ties by index: the deterministic order every strategy uses.
pub(crate) fn heavier_first(load: &[f64], a: usize, b: usize) -> Ordering {
    load[b].total_cmp(&load[a]).then(a.cmp(&b))
}
