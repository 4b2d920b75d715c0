//! Recursive coordinate bisection, weighted by load.

use crate::subset::Subset;

/// Splits the systems with a plane across the widest axis of their bounding box so that each side carries load
/// in proportion to the nodes it gets (`k → ⌊k/2⌋ + ⌈k/2⌉`, so any node count works), then recurses on both
/// sides.
///
/// The plane is found by a binary search (halving steps) over the systems sorted along the axis: the candidate
/// planes lie between consecutive systems, and the search finds the first one at which the load on the near
/// side reaches its share, then keeps whichever of it and its predecessor is closer to the share. Systems at
/// the same coordinate are ordered by index, so identical positions still split. Each side keeps at least as
/// many systems as it has nodes.
pub(crate) fn partition(subset: &Subset<'_>, k: usize) -> Vec<u32> {
    let mut part = vec![0u32; subset.len()];
    let mut items: Vec<usize> = (0..subset.len()).collect();
    bisect(subset, &mut items, k, 0, &mut part);
    part
}

fn bisect(subset: &Subset<'_>, items: &mut [usize], k: usize, first_node: u32, part: &mut [u32]) {
    if k <= 1 || items.len() <= 1 {
        for &i in items.iter() {
            part[i] = first_node;
        }
        return;
    }
    let axis = widest_axis(subset, items);
    items.sort_by(|&a, &b| subset.position[a].axis(axis).total_cmp(&subset.position[b].axis(axis)).then(a.cmp(&b)));
    let left_nodes = k / 2;
    let right_nodes = k - left_nodes;
    let split = split_point(&subset.load, items, left_nodes, right_nodes);
    let (left, right) = items.split_at_mut(split);
    bisect(subset, left, left_nodes, first_node, part);
    bisect(subset, right, right_nodes, first_node + left_nodes as u32, part);
}

/// The axis (0 = x, 1 = y, 2 = z) along which the items spread the most.
pub(crate) fn widest_axis(subset: &Subset<'_>, items: &[usize]) -> usize {
    (0..3)
        .map(|axis| {
            let (lo, hi) = items.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                let c = subset.position[i].axis(axis);
                (lo.min(c), hi.max(c))
            });
            (axis, hi - lo)
        })
        .fold((0, f64::NEG_INFINITY), |best, (axis, extent)| if extent > best.1 { (axis, extent) } else { best })
        .0
}

/// How many of the sorted `items` go to the near side: the binary search described on [`partition`], clamped
/// so both sides keep at least as many systems as they have nodes.
pub(crate) fn split_point(load: &[f64], items: &[usize], left_nodes: usize, right_nodes: usize) -> usize {
    let mut prefix = Vec::with_capacity(items.len() + 1);
    prefix.push(0.0f64);
    for &i in items {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + load[i]);
    }
    let total = prefix[items.len()];
    let target = total * left_nodes as f64 / (left_nodes + right_nodes) as f64;
    // Halving steps: the smallest count whose near-side load reaches the target.
    let (mut lo, mut hi) = (0usize, items.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if prefix[mid] >= target {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut split = lo;
    if split > 0 && (target - prefix[split - 1]).abs() <= (prefix[split] - target).abs() {
        split -= 1;
    }
    // With fewer items than nodes (possible inside `best`), the clamp must still be a valid range.
    let lo = left_nodes.min(items.len());
    let hi = items.len().saturating_sub(right_nodes).max(lo);
    split.clamp(lo, hi)
}
