//! A seeded generator of a New-Eden-like universe, for tests, benchmarks and demos that cannot ship the EVE static
//! data, and for sizes the real map does not come in.
//!
//! The generator works top-down, and every step draws from one ChaCha8 stream seeded by
//! [`GeneratorConfig::seed`], so a configuration always yields the same universe:
//!
//! 1. **Hierarchy.** Constellation sizes are drawn from 6–16 systems until the requested count is reached
//!    exactly; about seven constellations make a region (so a region holds about 80 systems).
//! 2. **Layout.** Region centres sit on a jittered sunflower (Vogel) spiral over a disc in the x/z galactic plane,
//!    which spreads them evenly without overlap; each region lays its constellations out the same way inside its
//!    own disc, and each constellation scatters its systems with best-candidate sampling (evenly, never on top of
//!    each other). The disc has EVE's density: about ±45 light years for 5,000 systems, smaller for fewer systems,
//!    never larger for more. The y axis is kept thin.
//! 3. **Security.** Systems are ranked by a noisy, x-elongated distance from the galactic centre (noise per
//!    region, per constellation and per system): the innermost 30 % become high-sec (an empire band in the
//!    middle), the next 15 % low-sec around it and the rest null-sec towards the rim, with security falling
//!    with depth inside each class.
//! 4. **Stargates.** A Euclidean minimum spanning tree inside every constellation plus, for some systems, a gate
//!    to their nearest system not yet joined; a spanning tree over the constellation centres of each region and
//!    one over the region centres, each of whose edges becomes a gate between the closest pair of systems of the
//!    two groups, plus a few extra links between neighbouring groups. The trees make the graph connected; the
//!    extras bring the mean degree near EVE's 2.54.
//! 5. **Trade hubs.** Five high-sec regions far apart from each other each get a hub: their best-connected
//!    high-sec system gains 3–4 (or more) gates to its nearest systems, enough that [`crate::trade_hubs`] picks
//!    exactly these five.
//! 6. **Names.** Syllable names for regions and empire space, `XK-4T1`-style codes for null-sec, all unique.
//!
//! Cost is linear in the number of systems, apart from a quadratic step over region centres (about `n / 80`
//! points): 5,000 systems take about 15 ms in a release build, 200,000 under a second.

use std::collections::{BTreeSet, HashSet};
use std::f64::consts::{PI, TAU};
use std::ops::Range;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Constellation, ConstellationId, Region, RegionId, SolarSystem, SystemId, SystemKind, Universe, Vec3};

/// What to generate. Build it with struct-update syntax so that later fields keep their defaults:
/// `GeneratorConfig { systems: 300, ..GeneratorConfig::default() }`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// How many systems to generate. The generator makes exactly this many (0 gives an empty universe).
    pub systems: usize,
    /// The random seed: the same configuration always gives the same universe, another seed another one.
    pub seed: u64,
}

impl Default for GeneratorConfig {
    /// About the size of EVE's known space (5,432 systems), with seed 1.
    fn default() -> Self {
        GeneratorConfig { systems: 5000, seed: 1 }
    }
}

/// Generates a connected, New-Eden-like universe of `config.systems` k-space systems: regions of constellations
/// of systems with EVE-style ids, positions in metres, a high-sec core ringed by low-sec and null-sec, a stargate
/// graph of mostly short jumps, and five trade hubs. See the [module documentation](self) for the algorithm.
///
/// Deterministic in `config`. Panics only if the ids run out of `u32` (billions of systems).
pub fn generate(config: &GeneratorConfig) -> Universe {
    build(config).universe
}

/// First ids of each kind, as in the EVE static data (10000001 is Derelik, 20000001 San Matar, 30000001 Tanoo).
const FIRST_REGION_ID: u32 = 10_000_001;
const FIRST_CONSTELLATION_ID: u32 = 20_000_001;
const FIRST_SYSTEM_ID: u32 = 30_000_001;

/// Smallest and largest constellation (in systems). `MAX` must be at least `2 × MIN − 1` so that any remainder
/// above `MAX` can be split into parts of legal size.
const CONSTELLATION_MIN: usize = 6;
const CONSTELLATION_MAX: usize = 16;
/// Mean number of constellations per region.
const CONSTELLATIONS_PER_REGION: f64 = 7.0;

/// The universe size whose disc has [`DISC_RADIUS_M`]; smaller universes shrink to keep EVE's density.
const REFERENCE_SYSTEMS: usize = 5000;
/// Radius of the disc of region centres at the reference size (about 42 ly). With the regions' own extent the
/// systems stay inside [`PLANE_LIMIT_M`].
const DISC_RADIUS_M: f64 = 4.0e17;
/// No system lies further than this from the centre along x or z (about 53 ly).
const PLANE_LIMIT_M: f64 = 5.0e17;
/// No system lies further than this from the galactic plane (about 10.6 ly).
const HEIGHT_LIMIT_M: f64 = 1.0e17;
/// Security depth is measured in an ellipse whose z axis is this much shorter, so the empire is a band along x.
const EMPIRE_BAND_Z: f64 = 0.65;

/// Shares of high-sec and low-sec systems; the rest is null-sec (EVE: about 30 %, 15 %, 55 %).
const HIGH_SHARE: f64 = 0.30;
const LOW_SHARE: f64 = 0.15;
/// The lowest high-sec security (see [`SolarSystem::is_high_sec`]).
const HIGH_SEC_MIN: f64 = 0.45;

/// Chance that a system gets an extra gate to its nearest system in the constellation not yet joined to it.
const SYSTEM_EXTRA_CHANCE: f64 = 0.22;
/// Chance that a constellation gets an extra link to its nearest constellation of the region not yet joined.
const CONSTELLATION_EXTRA_CHANCE: f64 = 0.35;
/// Chance that a region gets an extra link to its nearest region not yet joined, if that one is a neighbour:
/// its centre within [`REGION_EXTRA_REACH`] region spacings.
const REGION_EXTRA_CHANCE: f64 = 0.5;
const REGION_EXTRA_REACH: f64 = 1.6;
/// Number of trade hubs, as in EVE (Jita, Amarr, Dodixie, Rens, Hek).
const HUB_COUNT: usize = 5;

/// The universe together with what the tests need to check about it.
#[cfg_attr(not(test), expect(dead_code, reason = "`hubs` and `gates` are read by the tests only"))]
struct Generated {
    universe: Universe,
    /// Dense indices of the trade hubs the generator made.
    hubs: Vec<usize>,
    /// Every gate once, as added (no duplicates, no self-loops by construction).
    gates: Vec<(usize, usize)>,
}

fn build(config: &GeneratorConfig) -> Generated {
    if config.systems == 0 {
        let universe = Universe::new(Vec::new(), &[], Vec::new(), Vec::new()).expect("an empty universe is valid");
        return Generated { universe, hubs: Vec::new(), gates: Vec::new() };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let plan = Plan::draw(config.systems, &mut rng);
    let layout = Layout::draw(&plan, &mut rng);
    let security = assign_security(&plan, &layout, &mut rng);
    let mut gates = Gates::new(plan.systems());
    join_constellations_inside(&plan, &layout, &mut gates, &mut rng);
    join_constellations_of_regions(&plan, &layout, &mut gates, &mut rng);
    join_regions(&plan, &layout, &mut gates, &mut rng);
    let hubs = add_trade_hubs(&plan, &layout, &security, &mut gates, &mut rng);
    let universe = assemble(&plan, &layout, &security, &gates, &mut rng);
    Generated { universe, hubs, gates: gates.list }
}

/// The hierarchy: which systems form which constellation, which constellations which region. Systems and
/// constellations are numbered so that every group is a contiguous range.
struct Plan {
    /// First system of each constellation, then the number of systems.
    constellation_start: Vec<usize>,
    /// First constellation of each region, then the number of constellations.
    region_start: Vec<usize>,
    /// The constellation of every system.
    constellation_of: Vec<usize>,
    /// The region of every constellation.
    region_of: Vec<usize>,
}

impl Plan {
    fn draw(systems: usize, rng: &mut ChaCha8Rng) -> Plan {
        let sizes = constellation_sizes(systems, rng);
        let mut constellation_start = Vec::with_capacity(sizes.len() + 1);
        let mut constellation_of = Vec::with_capacity(systems);
        let mut start = 0;
        for (c, &size) in sizes.iter().enumerate() {
            constellation_start.push(start);
            constellation_of.extend(std::iter::repeat_n(c, size));
            start += size;
        }
        constellation_start.push(start);

        let constellations = sizes.len();
        let regions = ((constellations as f64 / CONSTELLATIONS_PER_REGION).round() as usize).max(1);
        let mut per_region: Vec<usize> =
            (0..regions).map(|r| constellations / regions + usize::from(r < constellations % regions)).collect();
        per_region.shuffle(rng);
        let mut region_start = Vec::with_capacity(regions + 1);
        let mut region_of = Vec::with_capacity(constellations);
        let mut start = 0;
        for (r, &count) in per_region.iter().enumerate() {
            region_start.push(start);
            region_of.extend(std::iter::repeat_n(r, count));
            start += count;
        }
        region_start.push(start);
        Plan { constellation_start, region_start, constellation_of, region_of }
    }

    fn systems(&self) -> usize {
        self.constellation_of.len()
    }

    fn constellations(&self) -> usize {
        self.region_of.len()
    }

    fn regions(&self) -> usize {
        self.region_start.len() - 1
    }

    fn systems_of_constellation(&self, c: usize) -> Range<usize> {
        self.constellation_start[c]..self.constellation_start[c + 1]
    }

    fn constellations_of_region(&self, r: usize) -> Range<usize> {
        self.region_start[r]..self.region_start[r + 1]
    }

    fn systems_of_region(&self, r: usize) -> Range<usize> {
        let constellations = self.constellations_of_region(r);
        self.constellation_start[constellations.start]..self.constellation_start[constellations.end]
    }

    fn region_of_system(&self, system: usize) -> usize {
        self.region_of[self.constellation_of[system]]
    }
}

/// Sizes summing to exactly `total`, each within the constellation limits (a universe smaller than the minimum
/// is one constellation).
fn constellation_sizes(total: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    const { assert!(CONSTELLATION_MAX + 1 >= 2 * CONSTELLATION_MIN) };
    let mut sizes = Vec::with_capacity(total / CONSTELLATION_MIN + 1);
    let mut remaining = total;
    while remaining > CONSTELLATION_MAX {
        // Leave at least a minimum-sized constellation behind: remaining > MAX ≥ 2·MIN − 1, so the range is
        // never empty.
        let size = rng.random_range(CONSTELLATION_MIN..=CONSTELLATION_MAX.min(remaining - CONSTELLATION_MIN));
        sizes.push(size);
        remaining -= size;
    }
    if remaining > 0 {
        sizes.push(remaining);
    }
    sizes
}

/// Where everything is, in metres.
struct Layout {
    /// Radius of the disc the region centres are spread over; the unit of security depth.
    disc_radius: f64,
    /// Typical distance between neighbouring region centres.
    region_spacing: f64,
    region_centres: Vec<Vec3>,
    constellation_centres: Vec<Vec3>,
    positions: Vec<Vec3>,
}

impl Layout {
    fn draw(plan: &Plan, rng: &mut ChaCha8Rng) -> Layout {
        let n = plan.systems();
        let disc_radius = DISC_RADIUS_M * (n.min(REFERENCE_SYSTEMS) as f64 / REFERENCE_SYSTEMS as f64).sqrt();
        let regions = plan.regions();
        let region_spacing = disc_radius * (PI / regions as f64).sqrt();
        let region_radius = 0.45 * region_spacing;

        let mut region_centres = Vec::with_capacity(regions);
        for (x, z) in sunflower(regions, disc_radius, 0.2 * region_spacing, rng) {
            region_centres.push(Vec3::new(x, symmetric(rng, 0.05 * disc_radius), z));
        }

        let mut constellation_centres = Vec::with_capacity(plan.constellations());
        let mut positions = Vec::with_capacity(n);
        let mut taken = HashSet::with_capacity(n);
        for (r, &region_centre) in region_centres.iter().enumerate() {
            let constellations = plan.constellations_of_region(r);
            let count = constellations.len();
            let spacing = region_radius * (PI / count as f64).sqrt();
            let mean_size = plan.systems_of_region(r).len() as f64 / count as f64;
            for (c, (dx, dz)) in constellations.zip(sunflower(count, region_radius, 0.15 * spacing, rng)) {
                let centre = region_centre + Vec3::new(dx, symmetric(rng, 0.1 * region_radius), dz);
                constellation_centres.push(centre);
                let size = plan.systems_of_constellation(c).len();
                let radius = 0.45 * spacing * (size as f64 / mean_size).sqrt().clamp(0.8, 1.25);
                scatter(size, centre, radius, rng, &mut positions, &mut taken);
            }
        }
        Layout { disc_radius, region_spacing, region_centres, constellation_centres, positions }
    }
}

/// `count` points spread evenly over a disc of `radius` (a Vogel spiral: the first at the centre, then outwards),
/// each moved by up to `jitter` along x and z and the whole spiral turned by a random angle.
fn sunflower(count: usize, radius: f64, jitter: f64, rng: &mut ChaCha8Rng) -> Vec<(f64, f64)> {
    let golden_angle = PI * (3.0 - 5f64.sqrt());
    let phase = rng.random::<f64>() * TAU;
    let mut points = Vec::with_capacity(count);
    for i in 0..count {
        let distance = radius * (i as f64 / count as f64).sqrt();
        let angle = phase + golden_angle * i as f64;
        points.push((distance * angle.cos() + symmetric(rng, jitter), distance * angle.sin() + symmetric(rng, jitter)));
    }
    points
}

/// Places `count` systems around `centre` within `radius` in the plane (and a third of it up or down) by
/// best-candidate sampling: each new system is the candidate furthest from those already placed, which spreads
/// them evenly. A system that would land exactly on an earlier one anywhere is nudged by the smallest step.
fn scatter(
    count: usize,
    centre: Vec3,
    radius: f64,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Vec3>,
    taken: &mut HashSet<[u64; 3]>,
) {
    const CANDIDATES: usize = 10;
    let first = out.len();
    for _ in 0..count {
        let mut best = centre;
        let mut best_gap = f64::NEG_INFINITY;
        for _ in 0..CANDIDATES {
            let distance = radius * rng.random::<f64>().sqrt();
            let angle = rng.random::<f64>() * TAU;
            let candidate =
                centre + Vec3::new(distance * angle.cos(), symmetric(rng, 0.3 * radius), distance * angle.sin());
            let gap = out[first..].iter().map(|&p| distance2(p, candidate)).fold(f64::INFINITY, f64::min);
            if gap > best_gap {
                best_gap = gap;
                best = candidate;
            }
        }
        // A safety net: the layout's proportions keep systems well inside the limits.
        best.x = best.x.clamp(-PLANE_LIMIT_M, PLANE_LIMIT_M);
        best.y = best.y.clamp(-HEIGHT_LIMIT_M, HEIGHT_LIMIT_M);
        best.z = best.z.clamp(-PLANE_LIMIT_M, PLANE_LIMIT_M);
        // Step to the neighbouring float towards the centre (adding a metre would be lost to rounding this far out).
        while !taken.insert([best.x.to_bits(), best.y.to_bits(), best.z.to_bits()]) {
            best.x = if best.x > 0.0 { best.x.next_down() } else { best.x.next_up() };
        }
        out.push(best);
    }
}

/// Security per system: rank by noisy depth (x-elongated distance from the centre over the disc radius), then
/// the innermost [`HIGH_SHARE`] are high-sec, the next [`LOW_SHARE`] low-sec and the rest null-sec.
fn assign_security(plan: &Plan, layout: &Layout, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = plan.systems();
    let region_noise: Vec<f64> = (0..plan.regions()).map(|_| symmetric(rng, 0.05)).collect();
    let constellation_noise: Vec<f64> = (0..plan.constellations()).map(|_| symmetric(rng, 0.05)).collect();
    let depth: Vec<f64> = (0..n)
        .map(|i| {
            let p = layout.positions[i];
            let c = plan.constellation_of[i];
            let ellipse = (p.x * p.x + (p.z / EMPIRE_BAND_Z).powi(2)).sqrt() / layout.disc_radius;
            ellipse + region_noise[plan.region_of[c]] + constellation_noise[c] + symmetric(rng, 0.02)
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| depth[a].total_cmp(&depth[b]).then(a.cmp(&b)));
    let mut security = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        let share = (rank as f64 + 0.5) / n as f64;
        security[i] = security_at(share, symmetric(rng, 0.03));
    }
    security
}

/// The security of a system whose depth rank is `share` (0 = the core, 1 = the rim), plus `noise`, kept inside
/// its class: high-sec 1.0 down to 0.45, low-sec 0.44 down to 0.01, null-sec −0.01 down to −1.0 (mostly mild,
/// deepest at the rim).
fn security_at(share: f64, noise: f64) -> f64 {
    if share < HIGH_SHARE {
        let t = share / HIGH_SHARE;
        (1.0 - (1.0 - HIGH_SEC_MIN) * t + noise).clamp(HIGH_SEC_MIN, 1.0)
    } else if share < HIGH_SHARE + LOW_SHARE {
        let t = (share - HIGH_SHARE) / LOW_SHARE;
        (0.44 - 0.43 * t + noise).clamp(0.01, 0.44)
    } else {
        let t = (share - HIGH_SHARE - LOW_SHARE) / (1.0 - HIGH_SHARE - LOW_SHARE);
        (-0.01 - 0.99 * t * t + noise).clamp(-1.0, -0.01)
    }
}

/// The stargate graph under construction: adjacency lists for membership tests and degrees, and the gates in
/// the order they were added.
struct Gates {
    adjacency: Vec<Vec<usize>>,
    list: Vec<(usize, usize)>,
}

impl Gates {
    fn new(systems: usize) -> Gates {
        Gates { adjacency: vec![Vec::new(); systems], list: Vec::new() }
    }

    fn joined(&self, a: usize, b: usize) -> bool {
        self.adjacency[a].contains(&b)
    }

    fn degree(&self, a: usize) -> usize {
        self.adjacency[a].len()
    }

    /// Adds a gate unless it would be a self-loop or a duplicate; says whether it did.
    fn add(&mut self, a: usize, b: usize) -> bool {
        if a == b || self.joined(a, b) {
            return false;
        }
        self.adjacency[a].push(b);
        self.adjacency[b].push(a);
        self.list.push((a.min(b), a.max(b)));
        true
    }

    /// Adds a gate between the closest pair of systems of two groups that are not joined yet; says whether
    /// there was such a pair.
    fn link_closest(&mut self, a: Range<usize>, b: Range<usize>, positions: &[Vec3]) -> bool {
        let mut best = None;
        let mut best_d = f64::INFINITY;
        for i in a {
            for j in b.clone() {
                let d = distance2(positions[i], positions[j]);
                if d < best_d && i != j && !self.joined(i, j) {
                    best_d = d;
                    best = Some((i, j));
                }
            }
        }
        best.is_some_and(|(i, j)| self.add(i, j))
    }
}

/// Inside every constellation: a minimum spanning tree, then for some systems a gate to their nearest system
/// not yet joined to them.
fn join_constellations_inside(plan: &Plan, layout: &Layout, gates: &mut Gates, rng: &mut ChaCha8Rng) {
    let positions = &layout.positions;
    for c in 0..plan.constellations() {
        let systems = plan.systems_of_constellation(c);
        for (a, b) in spanning_tree(&positions[systems.clone()]) {
            gates.add(systems.start + a, systems.start + b);
        }
        for i in systems.clone() {
            if rng.random::<f64>() >= SYSTEM_EXTRA_CHANCE {
                continue;
            }
            let nearest =
                nearest(systems.clone(), |j| j != i && !gates.joined(i, j), |j| distance2(positions[i], positions[j]));
            if let Some(j) = nearest {
                gates.add(i, j);
            }
        }
    }
}

/// Inside every region: a minimum spanning tree over the constellation centres, then for some constellations a
/// link to their nearest constellation not yet linked; each link is a gate between the closest pair of systems.
fn join_constellations_of_regions(plan: &Plan, layout: &Layout, gates: &mut Gates, rng: &mut ChaCha8Rng) {
    for r in 0..plan.regions() {
        let constellations = plan.constellations_of_region(r);
        let centres = &layout.constellation_centres[constellations.clone()];
        join_groups(
            constellations.start,
            centres,
            f64::INFINITY,
            CONSTELLATION_EXTRA_CHANCE,
            |c| plan.systems_of_constellation(c),
            &layout.positions,
            gates,
            rng,
        );
    }
}

/// Between regions: a minimum spanning tree over the region centres, then for some regions a link to their
/// nearest neighbouring region not yet linked; each link is a gate between the closest pair of systems.
fn join_regions(plan: &Plan, layout: &Layout, gates: &mut Gates, rng: &mut ChaCha8Rng) {
    join_groups(
        0,
        &layout.region_centres,
        REGION_EXTRA_REACH * layout.region_spacing,
        REGION_EXTRA_CHANCE,
        |r| plan.systems_of_region(r),
        &layout.positions,
        gates,
        rng,
    );
}

/// Joins groups (numbered `first..first + centres.len()`) by a spanning tree over their centres plus, with
/// `extra_chance` per group, a link to the nearest group within `reach` that is not yet linked. A link is a gate
/// between the closest pair of the two groups' systems (`members` gives a group's systems).
#[expect(clippy::too_many_arguments, reason = "one helper for both levels; a struct would only rename them")]
fn join_groups(
    first: usize,
    centres: &[Vec3],
    reach: f64,
    extra_chance: f64,
    members: impl Fn(usize) -> Range<usize>,
    positions: &[Vec3],
    gates: &mut Gates,
    rng: &mut ChaCha8Rng,
) {
    let mut linked = BTreeSet::new();
    for (a, b) in spanning_tree(centres) {
        gates.link_closest(members(first + a), members(first + b), positions);
        linked.insert((a.min(b), a.max(b)));
    }
    let reach2 = reach * reach;
    for a in 0..centres.len() {
        if rng.random::<f64>() >= extra_chance {
            continue;
        }
        let other = nearest(
            0..centres.len(),
            |b| b != a && !linked.contains(&(a.min(b), a.max(b))) && distance2(centres[a], centres[b]) <= reach2,
            |b| distance2(centres[a], centres[b]),
        );
        if let Some(b) = other
            && gates.link_closest(members(first + a), members(first + b), positions)
        {
            linked.insert((a.min(b), a.max(b)));
        }
    }
}

/// Picks [`HUB_COUNT`] high-sec regions far apart (starting with the one with most high-sec systems, then each
/// time the candidate furthest from those chosen), makes the best-connected high-sec system of each a hub and
/// gives it 3–4 extra gates to its nearest systems in the region — more if needed to be strictly better connected
/// than every other high-sec system, so [`crate::trade_hubs`] finds exactly these hubs. Returns the hubs.
fn add_trade_hubs(
    plan: &Plan,
    layout: &Layout,
    security: &[f64],
    gates: &mut Gates,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let positions = &layout.positions;
    let high = |i: usize| security[i] >= HIGH_SEC_MIN;
    let high_count: Vec<usize> =
        (0..plan.regions()).map(|r| plan.systems_of_region(r).filter(|&i| high(i)).count()).collect();
    let mostly_high: Vec<usize> = (0..plan.regions())
        .filter(|&r| high_count[r] > 0 && 2 * high_count[r] >= plan.systems_of_region(r).len())
        .collect();
    let candidates = if mostly_high.len() >= HUB_COUNT {
        mostly_high
    } else {
        (0..plan.regions()).filter(|&r| high_count[r] > 0).collect()
    };

    let mut chosen: Vec<usize> = Vec::with_capacity(HUB_COUNT);
    // The first region is the one with most high-sec systems (the lowest index among equals).
    if let Some(&first) = candidates.iter().max_by_key(|&&r| (high_count[r], std::cmp::Reverse(r))) {
        chosen.push(first);
    }
    while chosen.len() < HUB_COUNT {
        let gap = |r: usize| {
            chosen
                .iter()
                .map(|&c| distance2(layout.region_centres[r], layout.region_centres[c]))
                .fold(f64::INFINITY, f64::min)
        };
        let mut best: Option<(usize, f64)> = None;
        for &r in candidates.iter().filter(|r| !chosen.contains(r)) {
            let g = gap(r);
            if best.is_none_or(|(_, best_gap)| g > best_gap) {
                best = Some((r, g));
            }
        }
        match best {
            Some((r, _)) => chosen.push(r),
            None => break,
        }
    }

    let hubs: Vec<usize> = chosen
        .iter()
        .map(|&r| {
            let members: Vec<usize> = plan.systems_of_region(r).filter(|&i| high(i)).collect();
            let centroid = members.iter().fold(Vec3::ZERO, |sum, &i| sum + positions[i]) * (1.0 / members.len() as f64);
            let mut best = members[0];
            for &i in &members[1..] {
                let better_degree = gates.degree(i) > gates.degree(best);
                let same_degree_closer = gates.degree(i) == gates.degree(best)
                    && distance2(positions[i], centroid) < distance2(positions[best], centroid);
                if better_degree || same_degree_closer {
                    best = i;
                }
            }
            best
        })
        .collect();

    let best_other =
        (0..plan.systems()).filter(|&i| high(i) && !hubs.contains(&i)).map(|i| gates.degree(i)).max().unwrap_or(0);
    for &hub in &hubs {
        let target = (gates.degree(hub) + rng.random_range(3..=4)).max(best_other + 1);
        let mut near: Vec<usize> =
            plan.systems_of_region(plan.region_of_system(hub)).filter(|&j| j != hub && !gates.joined(hub, j)).collect();
        near.sort_by(|&a, &b| {
            distance2(positions[hub], positions[a]).total_cmp(&distance2(positions[hub], positions[b])).then(a.cmp(&b))
        });
        for j in near {
            if gates.degree(hub) >= target {
                break;
            }
            // A high-sec neighbour must stay below the hub, or it could outrank it in its region.
            if high(j) && gates.degree(j) + 1 >= target {
                continue;
            }
            gates.add(hub, j);
        }
    }
    hubs
}

/// Names everything and builds the [`Universe`].
fn assemble(plan: &Plan, layout: &Layout, security: &[f64], gates: &Gates, rng: &mut ChaCha8Rng) -> Universe {
    let mut used = HashSet::new();
    let regions: Vec<Region> = (0..plan.regions())
        .map(|r| Region { id: region_id(r), name: unique_name(&mut used, rng, region_name) })
        .collect();
    let constellations: Vec<Constellation> = (0..plan.constellations())
        .map(|c| {
            let systems = plan.systems_of_constellation(c);
            let null = systems.clone().filter(|&i| security[i] < 0.0).count();
            let name = if 2 * null > systems.len() {
                unique_name(&mut used, rng, null_code)
            } else {
                unique_name(&mut used, rng, |rng| {
                    let syllables = rng.random_range(2..=3);
                    syllable_name(rng, syllables)
                })
            };
            Constellation { id: constellation_id(c), name, region: region_id(plan.region_of[c]) }
        })
        .collect();
    let systems: Vec<SolarSystem> = (0..plan.systems())
        .map(|i| {
            let name = if security[i] < 0.0 {
                unique_name(&mut used, rng, null_code)
            } else {
                unique_name(&mut used, rng, |rng| {
                    let syllables = rng.random_range(2..=3);
                    syllable_name(rng, syllables)
                })
            };
            let c = plan.constellation_of[i];
            SolarSystem {
                id: system_id(i),
                name,
                position: layout.positions[i],
                security: security[i],
                constellation: constellation_id(c),
                region: region_id(plan.region_of[c]),
                kind: SystemKind::KSpace,
            }
        })
        .collect();
    let gate_ids: Vec<(SystemId, SystemId)> = gates.list.iter().map(|&(a, b)| (system_id(a), system_id(b))).collect();
    Universe::new(systems, &gate_ids, constellations, regions).expect(
        "generated parts are consistent: dense unique ids, gates between distinct generated systems, finite positions",
    )
}

fn dense_id(first: u32, index: usize) -> u32 {
    u32::try_from(index)
        .ok()
        .and_then(|i| first.checked_add(i))
        .expect("fewer than about four billion items: ids fit in u32")
}

fn system_id(index: usize) -> SystemId {
    SystemId(dense_id(FIRST_SYSTEM_ID, index))
}

fn constellation_id(index: usize) -> ConstellationId {
    ConstellationId(dense_id(FIRST_CONSTELLATION_ID, index))
}

fn region_id(index: usize) -> RegionId {
    RegionId(dense_id(FIRST_REGION_ID, index))
}

/// A name not used yet: a few fresh draws, then the last draw with a number appended.
fn unique_name(
    used: &mut HashSet<String>,
    rng: &mut ChaCha8Rng,
    mut draw: impl FnMut(&mut ChaCha8Rng) -> String,
) -> String {
    for _ in 0..4 {
        let name = draw(rng);
        if used.insert(name.clone()) {
            return name;
        }
    }
    let base = draw(rng);
    (2..)
        .map(|n| format!("{base} {n}"))
        .find(|name| used.insert(name.clone()))
        .expect("the numbered names are endless, and only finitely many are used")
}

const ONSETS: &[&str] = &[
    "", "b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "th", "kr", "tr",
    "st", "br", "dr", "y",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou", "aa", "ia", "io"];
const CODAS: &[&str] = &["n", "r", "s", "l", "k", "m", "th", "x", "rr", "sh", "nd"];

/// A pronounceable name of `syllables` syllables (consonant cluster, vowel, sometimes a closing consonant), e.g.
/// "Koraneth".
fn syllable_name(rng: &mut ChaCha8Rng, syllables: usize) -> String {
    let mut name = String::new();
    for i in 0..syllables {
        let onsets = if i == 0 { ONSETS } else { &ONSETS[1..] };
        name.push_str(onsets[rng.random_range(0..onsets.len())]);
        name.push_str(VOWELS[rng.random_range(0..VOWELS.len())]);
        if rng.random::<f64>() < 0.3 {
            name.push_str(CODAS[rng.random_range(0..CODAS.len())]);
        }
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    }
}

/// A region name: two or three syllables, sometimes "The …" as in "The Forge".
fn region_name(rng: &mut ChaCha8Rng) -> String {
    let syllables = rng.random_range(2..=3);
    let name = syllable_name(rng, syllables);
    if rng.random::<f64>() < 0.15 { format!("The {name}") } else { name }
}

/// A null-sec code: five letters or digits split by a dash, as in "1DQ1-A", "M-OEE8" or "HED-GP".
fn null_code(rng: &mut ChaCha8Rng) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let before = rng.random_range(1..=4);
    let mut code = String::with_capacity(6);
    for k in 0..5 {
        if k == before {
            code.push('-');
        }
        code.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
    }
    code
}

/// A minimum spanning tree of points under Euclidean distance (Prim, quadratic: meant for a few dozen points),
/// as pairs of indices into `points`.
fn spanning_tree(points: &[Vec3]) -> Vec<(usize, usize)> {
    let n = points.len();
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    if n == 0 {
        return edges;
    }
    let mut in_tree = vec![false; n];
    let mut best: Vec<f64> = points.iter().map(|&p| distance2(points[0], p)).collect();
    let mut parent = vec![0; n];
    in_tree[0] = true;
    for _ in 1..n {
        let next = (0..n)
            .filter(|&j| !in_tree[j])
            .min_by(|&a, &b| best[a].total_cmp(&best[b]))
            .expect("fewer than n - 1 edges so far: some point is still outside the tree");
        in_tree[next] = true;
        edges.push((parent[next], next));
        for j in 0..n {
            if !in_tree[j] {
                let d = distance2(points[next], points[j]);
                if d < best[j] {
                    best[j] = d;
                    parent[j] = next;
                }
            }
        }
    }
    edges
}

/// The item of `items` that `allowed` accepts with the smallest `key` (the first among equals).
fn nearest(items: Range<usize>, allowed: impl Fn(usize) -> bool, key: impl Fn(usize) -> f64) -> Option<usize> {
    items.filter(|&j| allowed(j)).map(|j| (j, key(j))).min_by(|a, b| a.1.total_cmp(&b.1)).map(|(j, _)| j)
}

fn distance2(a: Vec3, b: Vec3) -> f64 {
    let d = a - b;
    d.dot(d)
}

/// A uniform draw from `-amplitude..amplitude` (zero when the amplitude is zero).
fn symmetric(rng: &mut ChaCha8Rng, amplitude: f64) -> f64 {
    (rng.random::<f64>() * 2.0 - 1.0) * amplitude
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LIGHT_YEAR_M;

    /// Light years, for messages.
    fn ly(metres: f64) -> f64 {
        metres / LIGHT_YEAR_M
    }

    fn config(systems: usize, seed: u64) -> GeneratorConfig {
        GeneratorConfig { systems, seed }
    }

    fn gate_lengths(u: &Universe) -> Vec<f64> {
        let mut lengths: Vec<f64> =
            u.gates().map(|(a, b)| u.system(a).position.distance(u.system(b).position)).collect();
        lengths.sort_by(f64::total_cmp);
        lengths
    }

    #[test]
    fn same_config_gives_the_same_universe() {
        for systems in [10, 300, 2000] {
            let a = generate(&config(systems, 7));
            let b = generate(&config(systems, 7));
            assert_eq!(a.systems(), b.systems());
            assert_eq!(a.gates().collect::<Vec<_>>(), b.gates().collect::<Vec<_>>());
            assert_eq!(a.constellations(), b.constellations());
            assert_eq!(a.regions(), b.regions());
        }
    }

    #[test]
    fn different_seeds_give_different_universes() {
        let a = generate(&config(500, 1));
        let b = generate(&config(500, 2));
        let positions = |u: &Universe| u.systems().iter().map(|s| s.position).collect::<Vec<_>>();
        assert_ne!(positions(&a), positions(&b));
        assert_ne!(a.gates().collect::<Vec<_>>(), b.gates().collect::<Vec<_>>());
        let names = |u: &Universe| u.systems().iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_ne!(names(&a), names(&b));
    }

    #[test]
    fn makes_the_requested_number_of_systems() {
        for systems in [1, 2, 5, 6, 10, 16, 17, 23, 100, 300, 1000, 5000] {
            let u = generate(&config(systems, 3));
            assert!(u.len() >= systems, "{systems} requested, {} made", u.len());
            assert!(u.len() <= systems + CONSTELLATION_MAX, "{systems} requested, {} made", u.len());
        }
    }

    #[test]
    fn the_stargate_graph_is_connected() {
        for seed in [1, 2, 3, 42, 1234] {
            for systems in [1, 2, 3, 7, 10, 17, 50, 120, 300, 1000, 5000] {
                let u = generate(&config(systems, seed));
                assert_eq!(u.components().len(), 1, "{systems} systems, seed {seed}");
            }
        }
    }

    #[test]
    fn tiny_universes_work() {
        let empty = generate(&config(0, 1));
        assert!(empty.is_empty());
        assert_eq!(empty.gate_count(), 0);
        assert!(empty.regions().is_empty() && empty.constellations().is_empty());

        let one = generate(&config(1, 1));
        assert_eq!(one.len(), 1);
        assert_eq!(one.gate_count(), 0);
        assert_eq!((one.regions().len(), one.constellations().len()), (1, 1));

        let two = generate(&config(2, 1));
        assert_eq!(two.len(), 2);
        assert_eq!(two.gates().collect::<Vec<_>>(), vec![(0, 1)]);

        let ten = generate(&config(10, 1));
        assert_eq!(ten.len(), 10);
        assert!(ten.gate_count() >= 9);
        assert_eq!(ten.components().len(), 1);
    }

    #[test]
    fn ids_and_names_are_unique_and_eve_style() {
        for seed in [1, 9] {
            let u = generate(&config(5000, seed));
            let ids: BTreeSet<u32> = u.systems().iter().map(|s| s.id.0).collect();
            assert_eq!(ids.len(), u.len());
            assert_eq!(ids.first(), Some(&30_000_001));
            assert_eq!(ids.last(), Some(&(30_000_000 + u.len() as u32)));
            let names: HashSet<&str> = u.systems().iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names.len(), u.len(), "system names repeat");
            assert!(u.systems().iter().all(|s| !s.name.is_empty()));

            let region_names: HashSet<&str> = u.regions().iter().map(|r| r.name.as_str()).collect();
            assert_eq!(region_names.len(), u.regions().len(), "region names repeat");
            assert!(u.regions().iter().all(|r| (10_000_001..20_000_000).contains(&r.id.0)));
            let constellation_names: HashSet<&str> = u.constellations().iter().map(|c| c.name.as_str()).collect();
            assert_eq!(constellation_names.len(), u.constellations().len(), "constellation names repeat");
            assert!(u.constellations().iter().all(|c| (20_000_001..30_000_000).contains(&c.id.0)));

            // Null-sec systems carry codes like "XK-4T1"; empire systems carry words.
            for s in u.systems() {
                let code_like = s.name.len() == 6 && s.name.chars().filter(|&ch| ch == '-').count() == 1;
                assert_eq!(code_like, s.security < 0.0, "{} at {:.2}", s.name, s.security);
            }
        }
    }

    #[test]
    fn hierarchy_has_eve_proportions() {
        let u = generate(&GeneratorConfig::default());
        let regions = u.regions().len();
        assert!((50..=80).contains(&regions), "{regions} regions for 5000 systems");
        let constellations = u.constellations().len();
        let per_region = constellations as f64 / regions as f64;
        assert!((6.0..=8.0).contains(&per_region), "{per_region} constellations per region");

        let mut sizes = std::collections::BTreeMap::new();
        for s in u.systems() {
            *sizes.entry(s.constellation).or_insert(0usize) += 1;
        }
        assert_eq!(sizes.len(), constellations);
        assert!(sizes.values().all(|&n| (CONSTELLATION_MIN..=CONSTELLATION_MAX).contains(&n)), "{sizes:?}");
        for s in u.systems() {
            let c = u.constellations().iter().find(|c| c.id == s.constellation).expect("listed constellation");
            assert_eq!(c.region, s.region, "system {} is in a constellation of another region", s.id);
        }
        // The placeholder names of Universe::new would mean the generator forgot a group.
        assert!(u.regions().iter().all(|r| !r.name.starts_with("Region ")));
    }

    #[test]
    fn positions_are_finite_distinct_and_within_bounds() {
        for (systems, seed) in [(1, 1), (10, 2), (300, 3), (5000, 4), (5000, 5), (20000, 6)] {
            let u = generate(&config(systems, seed));
            let mut seen = HashSet::new();
            for s in u.systems() {
                let p = s.position;
                assert!(p.is_finite());
                assert!(p.x.abs() <= PLANE_LIMIT_M && p.z.abs() <= PLANE_LIMIT_M, "{p:?} outside the plane limits");
                assert!(p.y.abs() <= HEIGHT_LIMIT_M, "{p:?} too far off the plane");
                assert!(seen.insert([p.x.to_bits(), p.y.to_bits(), p.z.to_bits()]), "two systems at {p:?}");
            }
        }
    }

    #[test]
    fn the_default_universe_spans_new_eden() {
        let u = generate(&GeneratorConfig::default());
        let extent = |axis: usize| {
            let values = u.systems().iter().map(|s| s.position.axis(axis));
            values.clone().fold(f64::NEG_INFINITY, f64::max) - values.fold(f64::INFINITY, f64::min)
        };
        assert!(ly(extent(0)) > 70.0 && ly(extent(2)) > 70.0, "the disc is {} × {} ly", ly(extent(0)), ly(extent(2)));
        assert!(extent(1) < extent(0) / 4.0, "the disc is not thin");
    }

    #[test]
    fn security_has_eve_shares_and_a_high_sec_core() {
        let u = generate(&GeneratorConfig::default());
        let n = u.len() as f64;
        assert!(u.systems().iter().all(|s| (-1.0..=1.0).contains(&s.security)));
        let high: Vec<&SolarSystem> = u.systems().iter().filter(|s| s.is_high_sec()).collect();
        let low: Vec<&SolarSystem> = u.systems().iter().filter(|s| !s.is_high_sec() && s.security >= 0.0).collect();
        let null: Vec<&SolarSystem> = u.systems().iter().filter(|s| s.security < 0.0).collect();
        let (h, l, z) = (high.len() as f64 / n, low.len() as f64 / n, null.len() as f64 / n);
        assert!((0.22..=0.38).contains(&h), "high-sec share {h}");
        assert!((0.08..=0.22).contains(&l), "low-sec share {l}");
        assert!((0.45..=0.65).contains(&z), "null-sec share {z}");

        let mean_radius = |class: &[&SolarSystem]| {
            class.iter().map(|s| s.position.x.hypot(s.position.z)).sum::<f64>() / class.len() as f64
        };
        assert!(mean_radius(&high) < mean_radius(&low), "high-sec is not inside low-sec");
        assert!(mean_radius(&low) < mean_radius(&null), "low-sec is not inside null-sec");
        // Security is coherent: most gates join systems of the same class.
        let class = |s: &SolarSystem| {
            if s.is_high_sec() {
                0
            } else if s.security >= 0.0 {
                1
            } else {
                2
            }
        };
        let same = u.gates().filter(|&(a, b)| class(u.system(a)) == class(u.system(b))).count();
        assert!(same as f64 > 0.8 * u.gate_count() as f64, "{same} of {} gates within one class", u.gate_count());
    }

    #[test]
    fn gates_are_short_and_degrees_eve_like() {
        for seed in [1, 2, 3] {
            let generated = build(&config(5000, seed));
            let u = &generated.universe;
            // The generator never proposes duplicates or self-loops, so nothing was merged away.
            assert_eq!(generated.gates.len(), u.gate_count());
            assert!(generated.gates.iter().all(|&(a, b)| a < b));

            let mean_degree = 2.0 * u.gate_count() as f64 / u.len() as f64;
            assert!((2.0..=3.5).contains(&mean_degree), "mean degree {mean_degree}");

            let (mut lo, mut hi) = (Vec3::new(f64::MAX, f64::MAX, f64::MAX), Vec3::new(f64::MIN, f64::MIN, f64::MIN));
            for s in u.systems() {
                let p = s.position;
                lo = Vec3::new(lo.x.min(p.x), lo.y.min(p.y), lo.z.min(p.z));
                hi = Vec3::new(hi.x.max(p.x), hi.y.max(p.y), hi.z.max(p.z));
            }
            let diameter = hi.distance(lo);
            let lengths = gate_lengths(u);
            let median = lengths[lengths.len() / 2];
            assert!(median < 0.1 * diameter, "median gate {} ly in a {} ly universe", ly(median), ly(diameter));
            let longest = lengths[lengths.len() - 1];
            assert!(longest < 0.35 * diameter, "a gate of {} ly in a {} ly universe", ly(longest), ly(diameter));

            let inside = u.gates().filter(|&(a, b)| u.system(a).constellation == u.system(b).constellation).count();
            assert!(inside as f64 > 0.7 * u.gate_count() as f64, "only {inside} of {} gates inside", u.gate_count());
        }
    }

    #[test]
    fn trade_hubs_are_the_generated_hubs() {
        for seed in [1, 2, 3, 4] {
            let generated = build(&config(5000, seed));
            let u = &generated.universe;
            let found = crate::trade_hubs(u);
            assert_eq!(found.len(), 5);
            let mut made = generated.hubs.clone();
            made.sort_unstable();
            let mut picked = found.clone();
            picked.sort_unstable();
            assert_eq!(made, picked, "seed {seed}");
            let regions: BTreeSet<RegionId> = found.iter().map(|&i| u.system(i).region).collect();
            assert_eq!(regions.len(), 5, "hubs share a region");
            for &hub in &found {
                assert!(u.system(hub).is_high_sec());
                assert!(u.neighbours(hub).len() >= 5, "hub {} has {} gates", hub, u.neighbours(hub).len());
            }
        }
    }

    #[test]
    fn small_universes_get_what_hubs_they_can() {
        for systems in [1, 2, 10, 300] {
            let generated = build(&config(systems, 1));
            assert!(generated.hubs.len() <= HUB_COUNT);
            for &hub in &generated.hubs {
                assert!(generated.universe.system(hub).is_high_sec());
            }
        }
    }

    #[test]
    fn constellation_sizes_add_up() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for total in 1..200 {
            let sizes = constellation_sizes(total, &mut rng);
            assert_eq!(sizes.iter().sum::<usize>(), total);
            if total >= CONSTELLATION_MIN {
                assert!(sizes.iter().all(|s| (CONSTELLATION_MIN..=CONSTELLATION_MAX).contains(s)), "{sizes:?}");
            }
        }
    }

    #[test]
    fn spanning_tree_is_minimal_on_a_line() {
        let points: Vec<Vec3> = [0.0, 5.0, 1.0, 3.0].iter().map(|&x| Vec3::new(x, 0.0, 0.0)).collect();
        let mut edges: Vec<(usize, usize)> =
            spanning_tree(&points).into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        edges.sort_unstable();
        assert_eq!(edges, vec![(0, 2), (1, 3), (2, 3)]);
    }

    #[test]
    fn scatter_never_stacks_systems_even_far_out() {
        // A zero radius makes every candidate the centre, so each system must be nudged off the earlier ones.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Vec::new();
        let mut taken = HashSet::new();
        let centre = Vec3::new(4.9e17, 0.0, -4.9e17);
        scatter(5, centre, 0.0, &mut rng, &mut out, &mut taken);
        scatter(5, Vec3::new(9e17, 2e17, 0.0), 0.0, &mut rng, &mut out, &mut taken);
        let distinct: HashSet<[u64; 3]> = out.iter().map(|p| [p.x.to_bits(), p.y.to_bits(), p.z.to_bits()]).collect();
        assert_eq!(distinct.len(), 10);
        assert!(out.iter().all(|p| p.x.abs() <= PLANE_LIMIT_M && p.y.abs() <= HEIGHT_LIMIT_M));
        assert!(out[..5].iter().all(|p| p.distance(centre) < 1e4), "nudges are tiny");
    }

    #[test]
    fn null_codes_look_like_eve() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let code = null_code(&mut rng);
            assert_eq!(code.len(), 6);
            let dash = code.find('-').expect("a dash");
            assert!((1..=4).contains(&dash), "{code}");
            assert!(code.chars().all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
        }
    }
}
