//! The result of premapping, and mapping files: the CSV `--out` writes, read back to judge a mapping made
//! earlier or by another tool.

use orrery_universe::{CsvTable, Input, LoadError, Location, Universe};

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
        members_of(&self.node_of, self.nodes)
    }

    /// Reads a mapping file (`system_id,node`, extra columns ignored) for `universe` and `nodes` nodes: the
    /// file `orrery premap --out` writes, the mapping a running cluster stored, or one from another
    /// partitioner, so that [`evaluate`](crate::evaluate) can judge it beside the strategies.
    ///
    /// Every system of the universe must appear exactly once with a node in `0..nodes`; anything else — an
    /// unknown or repeated system, a node out of range, a system left out — is an error naming the file, and
    /// the line and column where there is one.
    ///
    /// ```
    /// use orrery_premap::Mapping;
    /// use orrery_universe::{GeneratorConfig, Input, generate};
    ///
    /// let universe = generate(&GeneratorConfig { systems: 3, ..GeneratorConfig::default() });
    /// let ids: Vec<u32> = universe.systems().iter().map(|s| s.id.0).collect();
    /// let text = format!("system_id,node\n{},0\n{},1\n{},1\n", ids[0], ids[1], ids[2]);
    /// let mapping = Mapping::from_csv(Input::new("m.csv", &mut text.as_bytes()), &universe, 2)?;
    /// assert_eq!(mapping.assignment(), &[0, 1, 1]);
    ///
    /// let out_of_range = format!("system_id,node\n{},0\n{},2\n{},1\n", ids[0], ids[1], ids[2]);
    /// let error = Mapping::from_csv(Input::new("m.csv", &mut out_of_range.as_bytes()), &universe, 2).unwrap_err();
    /// assert_eq!(error.to_string(), "m.csv, line 3, column `node`: node 2 is out of range: 2 nodes are 0..=1");
    /// # Ok::<(), orrery_universe::LoadError>(())
    /// ```
    pub fn from_csv(input: Input<'_>, universe: &Universe, nodes: usize) -> Result<Mapping, LoadError> {
        let mut table = CsvTable::open(input)?;
        let file = table.file();
        let id_col = table.column("system_id")?;
        let node_col = table.column("node")?;
        // The line each system was mapped on, and its node.
        let mut line_of = std::collections::HashMap::new();
        let mut node_of = vec![0u32; universe.len()];
        table.for_each_row(|row| {
            let id = row.system(id_col, universe)?;
            let index = universe.index_of(id).unwrap_or_default(); // `system` checked that it is there
            row.first_time(&mut line_of, id_col, "system", id)?;
            let node: u64 = row.parse(node_col, "a node number (a whole number ≥ 0)")?;
            if node >= nodes as u64 {
                let problem = match nodes {
                    0 => format!("node {node} is out of range: there are no nodes"),
                    _ => format!("node {node} is out of range: {nodes} nodes are 0..={}", nodes - 1),
                };
                return Err(LoadError::invalid(row.at(node_col), problem));
            }
            node_of[index] = node as u32;
            Ok(())
        })?;
        let missing: Vec<usize> =
            (0..universe.len()).filter(|&i| !line_of.contains_key(&universe.system(i).id)).collect();
        if let Some(&first) = missing.first() {
            let problem = format!(
                "{} of the {} mapped systems have no node, the first of them system {} ({})",
                missing.len(),
                universe.len(),
                universe.system(first).id,
                universe.system(first).name
            );
            return Err(LoadError::invalid(Location::file(file), problem));
        }
        Ok(Mapping { nodes, node_of })
    }
}

/// The systems of each of `nodes` nodes, given the node of every system (each list sorted): what a mapping's
/// [`Mapping::members`] gives, for the strategies' own assignments while they work.
pub(crate) fn members_of(node_of: &[u32], nodes: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); nodes];
    for (system, &node) in node_of.iter().enumerate() {
        members[node as usize].push(system);
    }
    members
}
