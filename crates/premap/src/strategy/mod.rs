//! The strategies and the common frame around them: validation, dedicated nodes, and the guarantee that no
//! node is left empty.

mod best;
mod constellation;
mod lpt;
#[cfg(feature = "metis")]
mod metis;
mod rcb;
mod recombine;
mod refine;
mod regions;

use std::fmt;
use std::str::FromStr;

use orrery_universe::{Universe, Vec3};

use crate::dedicated::{dedicated_systems, heavier_first};
use crate::subset::Subset;
use crate::{Mapping, PremapError};

/// How to place systems on nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// The historic one: whole constellations, each on its preferred node unless that node is more than 20%
    /// above the least loaded one. Keeps constellations whole but balances poorly and scatters a node's
    /// constellations over the map.
    Constellation,
    /// Longest processing time first: the heaviest unplaced system goes to the least loaded node. The best
    /// balance, no locality at all.
    Lpt,
    /// Recursive coordinate bisection: cut space with a plane across its widest axis where each side carries
    /// load in proportion to its nodes, and recurse. Compact in space, blind to stargates.
    Rcb,
    /// The default: recursive bisection on the stargate graph (each split started by METIS's bisection or the
    /// coordinate one), repaired, balanced and refined so that nodes are single connected pieces with few gates
    /// cut, aiming at LPT's balance. See docs/premap.md for the steps and where it falls short.
    Best,
    /// METIS k-way (the reference graph partitioner), as a yardstick for locality.
    Metis,
}

impl Strategy {
    /// Every strategy, in the order tables list them.
    pub const ALL: [Strategy; 5] =
        [Strategy::Constellation, Strategy::Lpt, Strategy::Rcb, Strategy::Metis, Strategy::Best];

    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Constellation => "constellation",
            Strategy::Lpt => "lpt",
            Strategy::Rcb => "rcb",
            Strategy::Best => "best",
            Strategy::Metis => "metis",
        }
    }

    /// Whether this binary can run the strategy (METIS is an optional feature).
    pub fn is_available(self) -> bool {
        self != Strategy::Metis || cfg!(feature = "metis")
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
            format!("unknown strategy `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// Choices a mapping can be made with beyond the strategy; the default is what [`premap`] uses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Options {
    /// How far above the ideal load of a shared node (their total load divided among them, after dedicated
    /// nodes) a node may go, as a fraction (`0.02` for 2%): the operator's trade of balance for locality. `best`
    /// aims at the larger of this and LPT's heaviest node, which it aims at by default; `metis` takes it as
    /// its imbalance tolerance (default 3%). The other strategies ignore it.
    pub imbalance: Option<f64>,
    /// How many *kicks* per node `best` spends on cutting fewer gates once balance is settled (docs/premap.md,
    /// step 10): each redraws a node's borders with a few of its neighbours and is kept only if the whole cuts
    /// fewer gates, so more kicks never cut more gates, they only take longer. By default 8 per node up to 64
    /// nodes of at most 256 systems each and none beyond, which keeps 250 nodes within the 100 ms target; an
    /// operator planning a large cluster once may spend a second or two more. The other strategies ignore it.
    pub kicks_per_node: Option<usize>,
    /// Region re-solving, `best`'s step 11 (docs/premap.md): each node with up to this many nodes in all — it
    /// and the nodes it shares the most gates with — mapped again by `best` itself, the new borders kept where
    /// they cut fewer gates (then where they make nodes more compact without cutting more) without passing the
    /// cap or putting more nodes in pieces, in rounds while a round keeps something. By default regions of 5
    /// nodes wherever the kicks run by default and none beyond; they take most of the time where they run (up
    /// to half a minute). `Some(0)` turns it off; `Some(1)` is refused. The other strategies ignore it.
    pub region_nodes: Option<usize>,
}

/// METIS's own default imbalance tolerance, used by `metis` when [`Options::imbalance`] is not set.
pub const METIS_DEFAULT_IMBALANCE: f64 = 0.03;

/// Maps every system of `universe` to one of `nodes` nodes, balancing `load` (one entry per system index).
///
/// Nodes `0..k` hold the partitioned systems; the dedicated systems (see [`dedicated_systems`]) follow on nodes
/// `k..nodes`, heaviest first. No node is empty.
pub fn premap(universe: &Universe, load: &[f64], nodes: usize, strategy: Strategy) -> Result<Mapping, PremapError> {
    premap_with(universe, load, nodes, strategy, &Options::default())
}

/// [`premap`] with [`Options`]: for an operator who accepts some imbalance for fewer gates cut between nodes.
///
/// ```
/// use orrery_premap::{Options, Strategy, evaluate, premap, premap_with};
/// use orrery_universe::{GeneratorConfig, LoadProfile, generate};
///
/// let universe = generate(&GeneratorConfig { systems: 600, ..GeneratorConfig::default() });
/// let load = LoadProfile::synthesise(&universe, 7).cpu(&universe);
/// let tight = evaluate(&universe, &load, &premap(&universe, &load, 12, Strategy::Best)?);
/// let allowed = Options { imbalance: Some(0.10), ..Options::default() };
/// let loose = evaluate(&universe, &load, &premap_with(&universe, &load, 12, Strategy::Best, &allowed)?);
/// println!("LPT's balance: {} gates cut; 10% allowed: {} gates cut", tight.cut_gates, loose.cut_gates);
/// // An allowance must be a finite fraction ≥ 0.
/// let negative = Options { imbalance: Some(-0.1), ..Options::default() };
/// assert!(premap_with(&universe, &load, 12, Strategy::Best, &negative).is_err());
/// // More kicks (step 10 of docs/premap.md) take longer and never cut more gates.
/// let kicked = Options { kicks_per_node: Some(16), ..Options::default() };
/// let kicked = evaluate(&universe, &load, &premap_with(&universe, &load, 12, Strategy::Best, &kicked)?);
/// assert!(kicked.cut_gates <= tight.cut_gates);
/// # Ok::<(), orrery_premap::PremapError>(())
/// ```
pub fn premap_with(
    universe: &Universe,
    load: &[f64],
    nodes: usize,
    strategy: Strategy,
    options: &Options,
) -> Result<Mapping, PremapError> {
    premap_with_progress(universe, load, nodes, strategy, options, &mut |_| {})
}

/// [`premap_with`] that reports where `best` is through `progress` (the other strategies report nothing): for a
/// caller that shows a long premap's progress. The callback is called from this thread, between steps; the
/// mapping is the same as [`premap_with`]'s.
///
/// ```
/// use orrery_premap::{Options, Progress, Strategy, premap_with, premap_with_progress};
/// use orrery_universe::{GeneratorConfig, LoadProfile, generate};
///
/// let universe = generate(&GeneratorConfig { systems: 300, ..GeneratorConfig::default() });
/// let load = LoadProfile::synthesise(&universe, 7).cpu(&universe);
/// let mut heard = Vec::new();
/// let mapping = premap_with_progress(&universe, &load, 6, Strategy::Best, &Options::default(), &mut |p| heard.push(p))?;
/// assert_eq!(heard.first(), Some(&Progress::Placing));
/// assert!(heard.iter().any(|p| matches!(p, Progress::Regions { .. })));
/// assert_eq!(mapping, premap_with(&universe, &load, 6, Strategy::Best, &Options::default())?);
/// # Ok::<(), orrery_premap::PremapError>(())
/// ```
pub fn premap_with_progress(
    universe: &Universe,
    load: &[f64],
    nodes: usize,
    strategy: Strategy,
    options: &Options,
    progress: &mut dyn FnMut(crate::Progress),
) -> Result<Mapping, PremapError> {
    validate(universe, load, nodes)?;
    if let Some(imbalance) = options.imbalance
        && !(imbalance.is_finite() && imbalance >= 0.0)
    {
        return Err(PremapError::BadImbalance(imbalance));
    }
    if options.region_nodes == Some(1) {
        return Err(PremapError::BadRegionNodes(1));
    }
    if !strategy.is_available() {
        return Err(PremapError::Unavailable(strategy.name()));
    }
    let (dedicated, subset) = shared_systems(universe, load, nodes);
    let k = nodes - dedicated.len();
    let parts = match strategy {
        Strategy::Constellation => constellation::partition(&subset, k),
        Strategy::Lpt => lpt::partition(&subset.load, k),
        Strategy::Rcb => rcb::partition(&subset, k),
        Strategy::Best => best::partition(&subset, k, options, progress),
        #[cfg(feature = "metis")]
        Strategy::Metis => metis::partition(&subset, k, options.imbalance.unwrap_or(METIS_DEFAULT_IMBALANCE)),
        #[cfg(not(feature = "metis"))]
        Strategy::Metis => unreachable!("checked by is_available above"),
    };
    let mut node_of = vec![0u32; universe.len()];
    for (local, &part) in parts.iter().enumerate() {
        node_of[subset.global[local]] = part;
    }
    for (offset, &d) in dedicated.iter().enumerate() {
        node_of[d] = (k + offset) as u32;
    }
    fill_empty_nodes(&mut node_of, load, nodes);
    Ok(Mapping::new(nodes, node_of).expect("every strategy returns parts in 0..k and dedicated nodes are k.."))
}

/// The systems that get a node of their own, and the rest, which share the other nodes.
pub(crate) fn shared_systems<'a>(universe: &'a Universe, load: &[f64], nodes: usize) -> (Vec<usize>, Subset<'a>) {
    let dedicated = dedicated_systems(load, nodes);
    let mut keep = vec![true; universe.len()];
    for &d in &dedicated {
        keep[d] = false;
    }
    (dedicated, Subset::new(universe, load, &keep))
}

pub(crate) fn validate(universe: &Universe, load: &[f64], nodes: usize) -> Result<(), PremapError> {
    if nodes == 0 {
        return Err(PremapError::NoNodes);
    }
    if load.len() != universe.len() {
        return Err(PremapError::LoadLength { loads: load.len(), systems: universe.len() });
    }
    if nodes > universe.len() {
        return Err(PremapError::MoreNodesThanSystems { nodes, systems: universe.len() });
    }
    if let Some((i, &value)) = load.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
        return Err(PremapError::BadLoad { system: universe.system(i).id.0, value });
    }
    Ok(())
}

/// A strategy may leave a node empty (e.g. fewer constellations than nodes). Each empty node takes the
/// lightest system of the node with the most systems, until none is empty.
fn fill_empty_nodes(node_of: &mut [u32], load: &[f64], nodes: usize) {
    let mut members = crate::mapping::members_of(node_of, nodes);
    for empty in 0..nodes {
        if !members[empty].is_empty() {
            continue;
        }
        let Some(donor) = (0..nodes).filter(|&n| members[n].len() > 1).max_by_key(|&n| (members[n].len(), nodes - n))
        else {
            return;
        };
        let (position, &system) = members[donor]
            .iter()
            .enumerate()
            .min_by(|a, b| heavier_first(load, *b.1, *a.1))
            .expect("the donor has more than one system");
        members[donor].remove(position);
        members[empty].push(system);
        node_of[system] = empty as u32;
    }
}

/// The mean position of each part's systems, and how many systems each part has (a part with none gets the
/// origin): where "near a node" is judged from when a piece of the universe looks for a node to join.
pub(crate) fn part_centres(position: &[Vec3], part: &[u32], k: usize) -> (Vec<Vec3>, Vec<usize>) {
    let mut centre = vec![Vec3::ZERO; k];
    let mut count = vec![0usize; k];
    for (&p, &at) in part.iter().zip(position) {
        centre[p as usize] = centre[p as usize] + at;
        count[p as usize] += 1;
    }
    for (c, &n) in centre.iter_mut().zip(&count) {
        *c = *c * (1.0 / n.max(1) as f64);
    }
    (centre, count)
}

/// The `count` parts among `candidates` whose centres lie nearest to `here`, nearest first (ties to the lower
/// part, so the answer is deterministic).
pub(crate) fn nearest_parts(
    centre: &[Vec3],
    here: Vec3,
    candidates: impl Iterator<Item = usize>,
    count: usize,
) -> Vec<usize> {
    let order = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let mut by_distance: Vec<(f64, usize)> = candidates.map(|p| (centre[p].distance(here), p)).collect();
    if count < by_distance.len() {
        by_distance.select_nth_unstable_by(count, order);
        by_distance.truncate(count);
    }
    by_distance.sort_by(order);
    by_distance.into_iter().map(|(_, p)| p).collect()
}
