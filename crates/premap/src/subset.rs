//! The systems a strategy partitions (all but the dedicated ones), renumbered densely with their induced
//! stargate graph, so strategies work on small local arrays.

use orrery_universe::{Universe, Vec3};

/// What [`Subset::integer_weights`] add up to: large enough that rounding hardly matters, small enough for
/// the 32-bit weights of METIS and KaHIP.
const INTEGER_WEIGHT_TOTAL: f64 = 1.0e8;

pub(crate) struct Subset<'a> {
    pub universe: &'a Universe,
    /// Local index → universe index, ascending.
    pub global: Vec<usize>,
    pub load: Vec<f64>,
    pub position: Vec<Vec3>,
    adjacency_start: Vec<usize>,
    adjacency: Vec<usize>,
}

impl<'a> Subset<'a> {
    pub fn new(universe: &'a Universe, load: &[f64], keep: &[bool]) -> Self {
        let global: Vec<usize> = (0..universe.len()).filter(|&i| keep[i]).collect();
        let mut local = vec![usize::MAX; universe.len()];
        for (l, &g) in global.iter().enumerate() {
            local[g] = l;
        }
        let mut adjacency_start = Vec::with_capacity(global.len() + 1);
        let mut adjacency = Vec::new();
        adjacency_start.push(0);
        for &g in &global {
            adjacency.extend(universe.neighbours(g).iter().map(|&n| local[n]).filter(|&n| n != usize::MAX));
            adjacency_start.push(adjacency.len());
        }
        Subset {
            universe,
            load: global.iter().map(|&g| load[g]).collect(),
            position: global.iter().map(|&g| universe.system(g).position).collect(),
            global,
            adjacency_start,
            adjacency,
        }
    }

    pub fn len(&self) -> usize {
        self.global.len()
    }

    pub fn neighbours(&self, v: usize) -> &[usize] {
        &self.adjacency[self.adjacency_start[v]..self.adjacency_start[v + 1]]
    }

    /// Compressed adjacency, for handing to graph partitioners.
    pub fn csr(&self) -> (&[usize], &[usize]) {
        (&self.adjacency_start, &self.adjacency)
    }

    /// The loads as the whole numbers graph partitioners take: scaled so that they add up to about
    /// [`INTEGER_WEIGHT_TOTAL`], each at least 1. The relative rounding error stays below one in a million.
    pub fn integer_weights(&self) -> Vec<i64> {
        let total: f64 = self.load.iter().sum();
        let scale = if total > 0.0 { INTEGER_WEIGHT_TOTAL / total } else { 1.0 };
        self.load.iter().map(|&l| ((l * scale).round() as i64).max(1)).collect()
    }

    /// The gates whose two systems `part` puts in different parts.
    pub fn cut(&self, part: &[u32]) -> usize {
        (0..self.len()).map(|v| self.neighbours(v).iter().filter(|&&w| w > v && part[w] != part[v]).count()).sum()
    }

    /// The loads by universe index (0 for systems outside the subset), for making subsets of this one's
    /// systems, and each universe system's local index (`usize::MAX` outside).
    pub fn by_universe_index(&self) -> (Vec<f64>, Vec<usize>) {
        let mut load = vec![0.0; self.universe.len()];
        let mut local_of = vec![usize::MAX; self.universe.len()];
        for (local, &global) in self.global.iter().enumerate() {
            load[global] = self.load[local];
            local_of[global] = local;
        }
        (load, local_of)
    }

    /// Connected-component label of every local system in the induced graph.
    pub fn component_labels(&self) -> Vec<usize> {
        orrery_universe::component_labels(self.len(), |v| self.neighbours(v))
    }
}
