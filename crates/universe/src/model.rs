//! The universe value: systems in dense order, the stargate graph as adjacency lists, and the groupings.

use std::collections::HashMap;

use crate::{ConstellationId, RegionId, SystemId, Vec3};

/// Which part of the map a system belongs to. Only k-space is joined by stargates in the EVE map; the others sit
/// far away in space, so a spatial partitioner should usually leave them out (see [`Universe::select`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemKind {
    /// Known space: the stargate-connected empires and null-sec.
    KSpace,
    /// Wormhole space: no stargates.
    WSpace,
    /// Anything else (abyssal pockets, placeholders).
    Other,
}

impl SystemKind {
    /// The spelling used in the `kind` column of systems.csv and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemKind::KSpace => "kspace",
            SystemKind::WSpace => "wspace",
            SystemKind::Other => "other",
        }
    }

    /// Parses the spelling of [`SystemKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "kspace" => Some(SystemKind::KSpace),
            "wspace" => Some(SystemKind::WSpace),
            "other" => Some(SystemKind::Other),
            _ => None,
        }
    }
}

/// One solar system: the unit the premapper places and a sol node ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct SolarSystem {
    /// The EVE system id: what files, mappings and clients use to name the system across runs.
    pub id: SystemId,
    /// The display name, for operators and reports (not unique in generated universes, so never a key).
    pub name: String,
    /// Position of the sun, in metres.
    pub position: Vec3,
    /// Security status from -1.0 (lawless) to 1.0 (safest); 0.45 and above counts as high-sec.
    pub security: f64,
    /// The constellation it belongs to: the historic unit of placement, kept together by some strategies.
    pub constellation: ConstellationId,
    /// The region it belongs to, for grouping in reports and region-aware strategies.
    pub region: RegionId,
    /// Which part of the map it is in, so spatial work can leave wormhole and other space out.
    pub kind: SystemKind,
}

impl SolarSystem {
    /// True for high-security space (security ≥ 0.45, the EVE convention after rounding to one decimal).
    pub fn is_high_sec(&self) -> bool {
        self.security >= 0.45
    }
}

/// A group of neighbouring systems; the historic unit of placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Constellation {
    /// The id systems refer to it by.
    pub id: ConstellationId,
    /// The display name (a placeholder when the input had no constellations file).
    pub name: String,
    /// The region it lies in.
    pub region: RegionId,
}

/// A group of constellations.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The id systems and constellations refer to it by.
    pub id: RegionId,
    /// The display name (a placeholder when the input had no regions file).
    pub name: String,
}

/// Why a set of parts does not make a universe.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UniverseError {
    /// Two systems share an id, so lookups by id would be ambiguous.
    #[error("system {0} appears more than once")]
    DuplicateSystem(SystemId),
    /// A stargate (its two ends as given) leads to a system not in the universe.
    #[error("stargate {0} – {1} names a system that does not exist")]
    UnknownGateEnd(SystemId, SystemId),
    /// A stargate from a system to itself: meaningless, and it would break the graph's invariants.
    #[error("stargate {0} – {0} joins a system to itself")]
    SelfGate(SystemId),
    /// A system whose position is NaN or infinite, which would poison every distance computed from it.
    #[error("system {0} has a position that is not a finite number")]
    BadPosition(SystemId),
}

/// The whole map: systems, stargates, constellations and regions.
///
/// Systems live in a dense vector; their position in it (the *index*) is what the premapper and metrics work
/// with, because it makes per-system arrays cheap. The stargate graph is undirected and stored as adjacency
/// lists of indices, sorted and free of duplicates. Constellations or regions named by a system but absent from
/// the inputs are added with a placeholder name, so every lookup succeeds.
#[derive(Debug, Clone)]
pub struct Universe {
    systems: Vec<SolarSystem>,
    by_id: HashMap<SystemId, usize>,
    adjacency_start: Vec<usize>,
    adjacency: Vec<usize>,
    constellations: Vec<Constellation>,
    regions: Vec<Region>,
}

impl Universe {
    /// Builds a universe from its parts, checking that ids are unique, gates join known systems and positions
    /// are finite. Duplicate gates are merged.
    pub fn new(
        systems: Vec<SolarSystem>,
        gates: &[(SystemId, SystemId)],
        constellations: Vec<Constellation>,
        regions: Vec<Region>,
    ) -> Result<Self, UniverseError> {
        let mut by_id = HashMap::with_capacity(systems.len());
        for (index, system) in systems.iter().enumerate() {
            if !system.position.is_finite() {
                return Err(UniverseError::BadPosition(system.id));
            }
            if by_id.insert(system.id, index).is_some() {
                return Err(UniverseError::DuplicateSystem(system.id));
            }
        }
        let mut edges = Vec::with_capacity(gates.len());
        for &(a, b) in gates {
            if a == b {
                return Err(UniverseError::SelfGate(a));
            }
            match (by_id.get(&a), by_id.get(&b)) {
                (Some(&ia), Some(&ib)) => edges.push((ia, ib)),
                _ => return Err(UniverseError::UnknownGateEnd(a, b)),
            }
        }
        let (adjacency_start, adjacency) = adjacency_lists(systems.len(), &edges);
        let (constellations, regions) = complete_groups(&systems, constellations, regions);
        Ok(Universe { systems, by_id, adjacency_start, adjacency, constellations, regions })
    }

    /// Number of systems.
    pub fn len(&self) -> usize {
        self.systems.len()
    }

    /// True when there are no systems (a selection can leave none), so callers can refuse to map nothing.
    pub fn is_empty(&self) -> bool {
        self.systems.is_empty()
    }

    /// All systems, in index order.
    pub fn systems(&self) -> &[SolarSystem] {
        &self.systems
    }

    /// The system at a dense index. Panics if the index is out of range, like slice indexing.
    pub fn system(&self, index: usize) -> &SolarSystem {
        &self.systems[index]
    }

    /// The dense index of a system id, if the system is in this universe.
    pub fn index_of(&self, id: SystemId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Looks a system up by id.
    pub fn by_id(&self, id: SystemId) -> Option<&SolarSystem> {
        self.index_of(id).map(|i| &self.systems[i])
    }

    /// The indices of the systems one stargate jump away, sorted.
    pub fn neighbours(&self, index: usize) -> &[usize] {
        &self.adjacency[self.adjacency_start[index]..self.adjacency_start[index + 1]]
    }

    /// Every stargate once, as a pair of indices with the smaller first.
    pub fn gates(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.len()).flat_map(move |a| self.neighbours(a).iter().filter(move |&&b| a < b).map(move |&b| (a, b)))
    }

    /// Number of (undirected) stargates.
    pub fn gate_count(&self) -> usize {
        self.adjacency.len() / 2
    }

    /// Every constellation, including placeholders for those named by a system but absent from the inputs.
    pub fn constellations(&self) -> &[Constellation] {
        &self.constellations
    }

    /// Every region, including placeholders for those named by a system but absent from the inputs.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The connected pieces of the stargate graph, each a sorted list of indices, ordered by their smallest
    /// index. A system with no gates is a piece of its own.
    pub fn components(&self) -> Vec<Vec<usize>> {
        let label = component_labels(self.len(), |v| self.neighbours(v));
        let count = label.iter().copied().max().map_or(0, |m| m + 1);
        let mut pieces = vec![Vec::new(); count];
        for (v, &l) in label.iter().enumerate() {
            pieces[l].push(v);
        }
        pieces
    }

    /// A new universe holding only the systems `keep` accepts, with the stargates among them. Used to choose
    /// which systems are mapped, e.g. only k-space.
    pub fn select(&self, keep: impl Fn(&SolarSystem) -> bool) -> Universe {
        let systems: Vec<SolarSystem> = self.systems.iter().filter(|s| keep(s)).cloned().collect();
        let gates: Vec<(SystemId, SystemId)> = self
            .gates()
            .map(|(a, b)| (self.systems[a].id, self.systems[b].id))
            .filter(|(a, b)| self.by_id(*a).is_some_and(&keep) && self.by_id(*b).is_some_and(&keep))
            .collect();
        let used_regions: std::collections::BTreeSet<RegionId> = systems.iter().map(|s| s.region).collect();
        let used_constellations: std::collections::BTreeSet<ConstellationId> =
            systems.iter().map(|s| s.constellation).collect();
        let constellations =
            self.constellations.iter().filter(|c| used_constellations.contains(&c.id)).cloned().collect();
        let regions = self.regions.iter().filter(|r| used_regions.contains(&r.id)).cloned().collect();
        Universe::new(systems, &gates, constellations, regions)
            .expect("a subset of a valid universe is valid: ids stay unique and gates join kept systems")
    }
}

/// Labels the connected pieces of any graph given as adjacency lists: piece numbers count from 0 in the order
/// of each piece's smallest vertex. Shared by the universe and by the premapper's sub-graphs.
pub fn component_labels<'g>(len: usize, neighbours: impl Fn(usize) -> &'g [usize]) -> Vec<usize> {
    let mut label = vec![usize::MAX; len];
    let mut next = 0;
    let mut stack = Vec::new();
    for start in 0..len {
        if label[start] != usize::MAX {
            continue;
        }
        label[start] = next;
        stack.push(start);
        while let Some(v) = stack.pop() {
            for &w in neighbours(v) {
                if label[w] == usize::MAX {
                    label[w] = next;
                    stack.push(w);
                }
            }
        }
        next += 1;
    }
    label
}

/// Builds sorted, de-duplicated adjacency lists (compressed rows) from undirected index pairs.
fn adjacency_lists(n: usize, edges: &[(usize, usize)]) -> (Vec<usize>, Vec<usize>) {
    let mut lists: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        lists[a].push(b);
        lists[b].push(a);
    }
    let mut start = Vec::with_capacity(n + 1);
    let mut flat = Vec::with_capacity(edges.len() * 2);
    start.push(0);
    for list in &mut lists {
        list.sort_unstable();
        list.dedup();
        flat.extend_from_slice(list);
        start.push(flat.len());
    }
    (start, flat)
}

/// Adds placeholder constellations and regions for ids that systems name but the inputs did not list, and
/// sorts both by id.
fn complete_groups(
    systems: &[SolarSystem],
    mut constellations: Vec<Constellation>,
    mut regions: Vec<Region>,
) -> (Vec<Constellation>, Vec<Region>) {
    let known_c: std::collections::HashSet<ConstellationId> = constellations.iter().map(|c| c.id).collect();
    let known_r: std::collections::HashSet<RegionId> = regions.iter().map(|r| r.id).collect();
    let mut missing_c = std::collections::BTreeMap::new();
    let mut missing_r = std::collections::BTreeSet::new();
    for s in systems {
        if !known_c.contains(&s.constellation) {
            missing_c.entry(s.constellation).or_insert(s.region);
        }
        if !known_r.contains(&s.region) {
            missing_r.insert(s.region);
        }
    }
    constellations.extend(missing_c.into_iter().map(|(id, region)| Constellation {
        id,
        name: format!("Constellation {id}"),
        region,
    }));
    regions.extend(missing_r.into_iter().map(|id| Region { id, name: format!("Region {id}") }));
    constellations.sort_by_key(|c| c.id);
    constellations.dedup_by_key(|c| c.id);
    regions.sort_by_key(|r| r.id);
    regions.dedup_by_key(|r| r.id);
    (constellations, regions)
}
