//! METIS k-way partitioning (the vendored C library through the `metis` crate), the reference graph
//! partitioner that `best` is measured against.

use metis::{Graph, Idx};

use crate::subset::Subset;

/// METIS `PartGraphKway` with vertex weights from the loads, imbalance tolerance `imbalance` (METIS's default
/// is 3%), otherwise default options and a fixed seed, so the result is deterministic.
pub(crate) fn partition(subset: &Subset<'_>, k: usize, imbalance: f64) -> Vec<u32> {
    kway(subset, k, imbalance).unwrap_or_else(|| super::rcb::partition(subset, k))
}

/// METIS keeps its random-number state in process-wide globals, so two calls on different threads disturb each
/// other and the result stops being deterministic (found by a test calling `premap` from four threads). Every
/// call therefore holds this lock (`parking_lot`'s, which does not poison: a call that panicked leaves nothing
/// for the next to distrust, since every call sets the globals afresh).
static METIS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// The subset as METIS input: compressed adjacency and integer vertex weights.
struct Input {
    xadj: Vec<Idx>,
    adjncy: Vec<Idx>,
    vwgt: Vec<Idx>,
}

fn input(subset: &Subset<'_>) -> Input {
    let (start, adjacency) = subset.csr();
    Input {
        xadj: start.iter().map(|&s| s as Idx).collect(),
        adjncy: adjacency.iter().map(|&a| a as Idx).collect(),
        vwgt: subset.integer_weights().into_iter().map(|w| w as Idx).collect(),
    }
}

/// Runs METIS; `None` if it refuses the input (it should not for a valid graph), so the caller can fall back.
fn kway(subset: &Subset<'_>, k: usize, imbalance: f64) -> Option<Vec<u32>> {
    let n = subset.len();
    if k <= 1 || n == 0 {
        return Some(vec![0; n]);
    }
    let input = input(subset);
    let mut part = vec![0 as Idx; n];
    let graph = Graph::new(1, k as Idx, &input.xadj, &input.adjncy).ok()?;
    let _one_at_a_time = METIS.lock();
    let ubvec = [(1.0 + imbalance) as metis::Real];
    graph.set_vwgt(&input.vwgt).set_ubvec(&ubvec).set_option(metis::option::Seed(1)).part_kway(&mut part).ok()?;
    Some(part.into_iter().map(|p| p.max(0) as u32).collect())
}

/// A two-way split by METIS's multilevel bisection, the near side (0) aiming at `near_share` of the load with
/// METIS's tightest tolerance; `None` if METIS refuses. `best` uses it as the start of each bisection.
pub(crate) fn bisect(subset: &Subset<'_>, near_share: f64, tolerance: f64) -> Option<Vec<u32>> {
    let n = subset.len();
    if n < 2 {
        return Some(vec![0; n]);
    }
    let input = input(subset);
    let tpwgts = [near_share as metis::Real, (1.0 - near_share) as metis::Real];
    let ubvec = [(1.0 + tolerance) as metis::Real];
    let mut part = vec![0 as Idx; n];
    let graph = Graph::new(1, 2, &input.xadj, &input.adjncy).ok()?;
    let _one_at_a_time = METIS.lock();
    graph
        .set_vwgt(&input.vwgt)
        .set_tpwgts(&tpwgts)
        .set_ubvec(&ubvec)
        .set_option(metis::option::Seed(1))
        .part_recursive(&mut part)
        .ok()?;
    Some(part.into_iter().map(|p| p.clamp(0, 1) as u32).collect())
}
