//! The result of premapping.

/// Which node hosts each system: `node_of(i)` for the system at index `i` of the universe it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    nodes: usize,
    node_of: Vec<u32>,
}

impl Mapping {
    /// A mapping from a node per system index. Returns `None` if a node is out of `0..nodes`.
    pub fn new(nodes: usize, node_of: Vec<u32>) -> Option<Self> {
        node_of.iter().all(|&n| (n as usize) < nodes).then_some(Mapping { nodes, node_of })
    }

    /// How many nodes the mapping was made for (some may be empty in a hand-made mapping).
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The node of the system at `index`.
    pub fn node_of(&self, index: usize) -> usize {
        self.node_of[index] as usize
    }

    /// The node of every system, in index order.
    pub fn assignment(&self) -> &[u32] {
        &self.node_of
    }

    /// The system indices of every node, each list sorted.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut members = vec![Vec::new(); self.nodes];
        for (system, &node) in self.node_of.iter().enumerate() {
            members[node as usize].push(system);
        }
        members
    }
}
