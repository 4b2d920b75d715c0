//! Improving a partition on the stargate graph: the machinery behind `best`.
//!
//! A [`Refiner`] holds a partition of a [`Subset`] into parts, each with a cap on its load. Its operations and
//! the invariants they keep (tested through the strategy's tests):
//! - no operation empties a part;
//! - no operation splits a part into more pieces of the stargate graph: a system leaves a part only together
//!   with whatever would otherwise be cut off behind it, and joins only a part it touches (or, having no
//!   stargates at all, any part); an exchange is checked and undone if it splits either side. The one
//!   exceptions are the last resorts that give up wholeness for balance: *spills*, which
//!   [`Refiner::allow_pieces`] switches on (see `Refiner::spill`), on at most [`Refiner::spill_budget`] more
//!   parts, and [`Refiner::repack`], whose caller judges the parts it leaves in pieces;
//! - [`Refiner::balance`] only takes steps that lower the *overload* (the sum of squared excess over the
//!   caps), so it cannot cycle;
//! - [`Refiner::refine`] only takes steps that cut fewer stargates and keep every part within its cap.

use crate::subset::Subset;

mod kicks;
mod repack;

pub(crate) use kicks::Kick;

/// Relative slack when comparing loads against a cap, so that float summation order never decides.
const CAP_TOLERANCE: f64 = 1e-9;
/// How many systems the quick connectivity check may visit before falling back to a full search.
const LOCAL_SEARCH_LIMIT: usize = 256;
/// The largest ball (systems grown from one border system) an exchange considers.
const BALL_SIZE: usize = 24;
/// How many of the best exchanges are checked for connectivity before giving up on a pair of parts.
const EXCHANGE_TRIES: usize = 24;
/// Kicks tried per stuck part, and the descent steps that follow each through.
const KICKS_PER_PART: usize = 6;
const KICK_DESCENT_STEPS: usize = 64;
/// Kicks tried in one balance, per part: a bound on time, past which balance was found to improve no more.
const KICK_ATTEMPTS_PER_PART: usize = 2;
/// Kicking stops when this many overloaded parts in a row found no kick that helps: past that point kicks cost
/// time without improving anything.
const GIVE_UP_AFTER_STUCK_PARTS: usize = 8;
/// How many parts nearest in space a spill (see `Refiner::spill`) may send systems to besides those touching:
/// fewer balance worse, more cut more gates and leave more pieces.
const SPILL_NEAREST: usize = 8;

pub(crate) struct Refiner<'s, 'a> {
    subset: &'s Subset<'a>,
    pub part: Vec<u32>,
    pub part_load: Vec<f64>,
    /// The systems of each part, in no particular order, and each system's position in its part's list.
    members: Vec<Vec<usize>>,
    slot: Vec<usize>,
    /// The most load each part may carry.
    cap: Vec<f64>,
    /// Whether a balancing move that keeps its target within the cap beats one that lowers the overload more
    /// by overloading the target (set for bisections, where overshooting a side with a big pocket can leave
    /// the split stuck on the other side).
    pub avoid_overshoot: bool,
    /// Whether a balancing move was ever offered that would take its target above its cap: until one is,
    /// `avoid_overshoot` has changed nothing.
    pub overshoot_seen: bool,
    /// Whether balancing may, as a last resort, leave a part in more pieces (see [`Refiner::spill`]): set only
    /// when keeping every part whole was found not to meet the caps.
    pub allow_pieces: bool,
    /// How many more parts spills may leave in pieces (a part already in pieces may take more).
    pub spill_budget: usize,
    /// Each part's version: a new value of `clock` whenever a system leaves or joins it, so a version names
    /// one state of the part's membership.
    version: Vec<u64>,
    clock: u64,
    /// Per part, the state in which its last exchange found nothing: the closed part and the versions of the
    /// part and the parts touching it. An exchange depends on nothing else but the caps, whose change forgets
    /// every such state, so in the same state it would find nothing again.
    exchange_failed: Vec<Option<PartsState>>,
    /// Per pair of parts, their versions when a recombination for the cut last looked at them.
    recombined: std::collections::HashMap<(u32, u32), (u64, u64)>,
    /// While a kick is followed through: each part's excess before the kick; only parts above it may act.
    focus: Option<Vec<f64>>,
    /// A part nothing may move into (while a kick is being followed through).
    closed: Option<u32>,
    /// The parts touching each part, computed on demand and forgotten when a move may change them.
    touching_cache: Vec<Vec<u32>>,
    touching_known: Vec<bool>,
    /// Connected-component label of every system, computed when first needed (by [`Refiner::spill`]).
    component: Vec<usize>,
    /// Each part's centre in space when spills started: where "nearest in space" is judged from (a spill moves
    /// a few systems, which hardly moves a centre).
    centre: Vec<orrery_universe::Vec3>,
    /// Scratch for searches: `visited[v] == epoch` means seen in the current search.
    visited: Vec<u32>,
    epoch: u32,
    /// Scratch marks for judging an exchange before making it (0 outside it).
    mark: Vec<u8>,
    /// Scratch queue for searches.
    queue: Vec<usize>,
}

/// A candidate exchange with the touching part of offer `offer`: ball `ours` leaves, ball `theirs` comes back;
/// `change` is the overload change and `size` the number of systems moved.
struct Exchange {
    change: f64,
    size: usize,
    offer: usize,
    ours: usize,
    theirs: usize,
}

/// Balls grown from the border of a part (see `Refiner::balls`): each is a prefix of one breadth-first order,
/// listed as (load, start of the order in `order`, length).
#[derive(Default)]
struct Balls {
    order: Vec<usize>,
    list: Vec<(f64, u32, u32)>,
}

impl Balls {
    fn ball(&self, i: usize) -> &[usize] {
        let (_, start, len) = self.list[i];
        &self.order[start as usize..(start + len) as usize]
    }
}

/// The closed part and the versions of some parts: what an exchange out of a part depends on.
type PartsState = (Option<u32>, Vec<(u32, u64)>);

/// A candidate spill (see `Refiner::spill`): `set` (load `load`) to part `to`, keyed (not a full fix, parts
/// newly in pieces, new pieces, rank of the receiver by distance, load moved or overload change, system,
/// receiver) — smaller first.
struct Spill {
    key: (bool, usize, usize, usize, f64, usize, u32),
    set: Vec<usize>,
    to: u32,
    load: f64,
}

impl Spill {
    fn before(&self, other: &Spill) -> bool {
        let (a, b) = (&self.key, &other.key);
        (a.0, a.1, a.2, a.3)
            .cmp(&(b.0, b.1, b.2, b.3))
            .then(a.4.total_cmp(&b.4))
            .then((a.5, a.6).cmp(&(b.5, b.6)))
            .is_lt()
    }
}

/// What [`Refiner::kept_since`] compares with: the cut and each part's extra pieces at a moment.
pub(crate) struct Checkpoint {
    cut: usize,
    extra_pieces: Vec<usize>,
}

/// Pieces of parts grouped by (part, component), each with its load.
type PiecesByPart = std::collections::BTreeMap<(u32, usize), Vec<(f64, Vec<usize>)>>;

/// A candidate move of a bundle of systems, scored so that the larger score is preferred.
struct Move {
    bundle: Vec<usize>,
    to: u32,
    /// (the target stays within its cap, overload removed, gates no longer cut, lighter first)
    score: (bool, f64, i64, f64),
}

impl<'s, 'a> Refiner<'s, 'a> {
    /// A refiner for `part` (values in `0..cap.len()`), where part `p` may carry at most `cap[p]`.
    pub fn new(subset: &'s Subset<'a>, part: Vec<u32>, cap: Vec<f64>) -> Self {
        let k = cap.len();
        let mut part_load = vec![0.0; k];
        let mut members = vec![Vec::new(); k];
        let mut slot = vec![0; part.len()];
        for (v, &p) in part.iter().enumerate() {
            part_load[p as usize] += subset.load[v];
            slot[v] = members[p as usize].len();
            members[p as usize].push(v);
        }
        Refiner {
            subset,
            part,
            part_load,
            members,
            slot,
            cap,
            closed: None,
            focus: None,
            avoid_overshoot: false,
            overshoot_seen: false,
            allow_pieces: false,
            spill_budget: 0,
            version: vec![0; k],
            clock: 0,
            exchange_failed: vec![None; k],
            recombined: std::collections::HashMap::new(),
            touching_cache: vec![Vec::new(); k],
            touching_known: vec![false; k],
            component: Vec::new(),
            centre: Vec::new(),
            visited: vec![0; subset.len()],
            epoch: 0,
            mark: vec![0; subset.len()],
            queue: Vec::new(),
        }
    }

    /// Adds a part with cap `cap` (no systems yet), numbered after the others.
    fn push_part(&mut self, cap: f64) {
        self.part_load.push(0.0);
        self.members.push(Vec::new());
        self.cap.push(cap);
        self.version.push(0);
        self.exchange_failed.push(None);
        self.touching_cache.push(Vec::new());
        self.touching_known.push(false);
        if !self.centre.is_empty() {
            self.centre.push(orrery_universe::Vec3::ZERO);
        }
    }

    /// Removes the last part, which must have no systems left.
    fn pop_part(&mut self) {
        debug_assert!(self.members.last().is_some_and(Vec::is_empty), "the part removed still has systems");
        self.part_load.pop();
        self.members.pop();
        self.cap.pop();
        self.version.pop();
        self.exchange_failed.pop();
        self.touching_cache.pop();
        self.touching_known.pop();
        if self.centre.len() > self.part_load.len() {
            self.centre.pop();
        }
        self.touching_known.fill(false);
    }

    /// Which parts lie in more than one piece (see [`Self::fragmented`]).
    pub fn fragmented_parts(&mut self) -> Vec<bool> {
        (0..self.parts()).map(|p| self.fragmented(p)).collect()
    }

    /// How many parts lie in more than one piece (see [`Self::fragmented`]).
    pub fn parts_in_pieces(&mut self) -> usize {
        self.fragmented_parts().into_iter().filter(|&f| f).count()
    }

    /// What the steps that redraw borders for the cut (recombination, kicks, refinement) promise to keep, as it
    /// stands now: see [`Self::kept_since`].
    pub fn checkpoint(&mut self) -> Checkpoint {
        Checkpoint { cut: self.subset.cut(&self.part), extra_pieces: self.extra_pieces() }
    }

    /// Whether, since `before`, the cut has not grown, every part is still within its cap and no part has more
    /// pieces that could have been joined: the invariant of recombination, kicks and refinement.
    pub fn kept_since(&mut self, before: &Checkpoint) -> bool {
        let extra_pieces = self.extra_pieces();
        self.subset.cut(&self.part) <= before.cut
            && self.all_fit()
            && extra_pieces.iter().zip(&before.extra_pieces).all(|(now, then)| now <= then)
    }

    /// Per part, its pieces beyond one per connected part of the stargate graph it reaches.
    fn extra_pieces(&mut self) -> Vec<usize> {
        (0..self.parts()).map(|part| self.extra_pieces_of(part, usize::MAX)).collect()
    }

    /// The connected-component label of every system (computed on first use).
    pub fn components(&mut self) -> &[usize] {
        if self.component.is_empty() {
            self.component = self.subset.component_labels();
        }
        &self.component
    }

    /// Takes the component labels another refiner of the same subset computed, so they are not computed again.
    pub fn with_components(mut self, component: Vec<usize>) -> Self {
        self.component = component;
        self
    }

    fn parts(&self) -> u32 {
        self.part_load.len() as u32
    }

    fn size(&self, part: u32) -> usize {
        self.members[part as usize].len()
    }

    fn fits(&self, part: u32, extra: f64) -> bool {
        self.part_load[part as usize] + extra <= self.cap[part as usize] * (1.0 + CAP_TOLERANCE)
    }

    /// How far `part` is above its cap (negative: room left).
    fn excess(&self, part: u32) -> f64 {
        self.part_load[part as usize] - self.cap[part as usize]
    }

    /// Whether every part is within its cap.
    pub fn all_fit(&self) -> bool {
        (0..self.parts()).all(|p| self.fits(p, 0.0))
    }

    /// Sets every part's cap to `cap`.
    pub fn set_caps(&mut self, cap: f64) {
        self.cap.fill(cap);
        self.caps_changed();
    }

    /// What an exchange can do depends on the caps: failures found under the old ones say nothing now.
    fn caps_changed(&mut self) {
        self.exchange_failed.fill(None);
    }

    /// Raises every cap that a part is above to its current load, so that later refinement never makes an
    /// overloaded part worse.
    pub fn cap_at_current_load(&mut self) {
        for (cap, &load) in self.cap.iter_mut().zip(&self.part_load) {
            *cap = cap.max(load);
        }
        self.caps_changed();
    }

    fn load_of(&self, systems: &[usize]) -> f64 {
        systems.iter().map(|&x| self.subset.load[x]).sum()
    }

    fn links(&self, v: usize, part: u32) -> i64 {
        self.subset.neighbours(v).iter().filter(|&&w| self.part[w] == part).count() as i64
    }

    /// The parts next to `v` other than its own, each once, ascending.
    fn adjacent_parts(&self, v: usize) -> Vec<u32> {
        let own = self.part[v];
        let mut parts: Vec<u32> = self
            .subset
            .neighbours(v)
            .iter()
            .map(|&w| self.part[w])
            .filter(|&p| p != own && Some(p) != self.closed)
            .collect();
        parts.sort_unstable();
        parts.dedup();
        parts
    }

    /// The systems of `part` that touch another part, ascending.
    fn border(&self, part: u32) -> Vec<usize> {
        let mut border: Vec<usize> = self.members[part as usize]
            .iter()
            .copied()
            .filter(|&v| self.subset.neighbours(v).iter().any(|&w| self.part[w] != part))
            .collect();
        border.sort_unstable();
        border
    }

    /// The parts that touch `part`, ascending.
    ///
    /// With two parts, the other one is listed without looking: every use of the list (exchanges, chains of
    /// touching parts) finds nothing to do with a part that does not touch, and in a bisection finding out
    /// would mean scanning half the set after every move.
    fn touching(&mut self, part: u32) -> Vec<u32> {
        if self.parts() == 2 {
            let other = 1 - part;
            return if Some(other) == self.closed { Vec::new() } else { vec![other] };
        }
        if !self.touching_known[part as usize] {
            let mut parts = std::mem::take(&mut self.touching_cache[part as usize]);
            parts.clear();
            for &v in &self.members[part as usize] {
                parts.extend(self.subset.neighbours(v).iter().map(|&w| self.part[w]).filter(|&p| p != part));
            }
            parts.sort_unstable();
            parts.dedup();
            self.touching_cache[part as usize] = parts;
            self.touching_known[part as usize] = true;
        }
        let mut parts = self.touching_cache[part as usize].clone();
        parts.retain(|&p| Some(p) != self.closed);
        parts
    }

    fn move_to(&mut self, v: usize, to: u32) {
        let from = self.part[v] as usize;
        self.touching_known[from] = false;
        self.touching_known[to as usize] = false;
        for &w in self.subset.neighbours(v) {
            if let Some(known) = self.touching_known.get_mut(self.part[w] as usize) {
                *known = false;
            }
        }
        self.clock += 1;
        self.version[from] = self.clock;
        self.version[to as usize] = self.clock;
        let w = self.subset.load[v];
        self.part_load[from] -= w;
        let at = self.slot[v];
        self.members[from].swap_remove(at);
        if let Some(&moved) = self.members[from].get(at) {
            self.slot[moved] = at;
        }
        self.part_load[to as usize] += w;
        self.slot[v] = self.members[to as usize].len();
        self.members[to as usize].push(v);
        self.part[v] = to;
    }

    fn move_all(&mut self, systems: &[usize], to: u32) {
        for &x in systems {
            self.move_to(x, to);
        }
    }

    fn next_epoch(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
        self.epoch
    }

    /// Connected pieces of `part` (within the subset's stargate graph).
    fn piece_count(&mut self, part: u32) -> usize {
        let epoch = self.next_epoch();
        let mut pieces = 0;
        let mut stack = Vec::new();
        for i in 0..self.members[part as usize].len() {
            let start = self.members[part as usize][i];
            if self.visited[start] == epoch {
                continue;
            }
            pieces += 1;
            self.visited[start] = epoch;
            stack.push(start);
            while let Some(x) = stack.pop() {
                for &y in self.subset.neighbours(x) {
                    if self.part[y] == part && self.visited[y] != epoch {
                        self.visited[y] = epoch;
                        stack.push(y);
                    }
                }
            }
        }
        pieces
    }

    /// What must go with `v` so that its part stays one piece: `v` and the pieces of the part that hang off `v`
    /// alone (a dead-end pocket behind a border system), all but the heaviest. `None` if that would empty the
    /// part or take more than half of it.
    fn bundle(&mut self, v: usize) -> Option<Vec<usize>> {
        let size = self.size(self.part[v]);
        if size <= 1 {
            return None;
        }
        let mut pieces = self.pieces_without(v);
        if pieces.len() <= 1 {
            return Some(vec![v]);
        }
        let main = (0..pieces.len())
            .max_by(|&a, &b| {
                self.load_of(&pieces[a])
                    .total_cmp(&self.load_of(&pieces[b]))
                    .then(pieces[a].len().cmp(&pieces[b].len()))
            })
            .expect("at least two pieces");
        pieces.swap_remove(main);
        let mut bundle: Vec<usize> = pieces.concat();
        bundle.push(v);
        (2 * bundle.len() <= size).then_some(bundle)
    }

    /// The piece of `start`'s part that holds `start`: everything reachable from it through systems of the
    /// same part not yet marked with `epoch` (which it marks). Callers mark what must not be crossed first.
    fn grow_piece(&mut self, start: usize, epoch: u32) -> Vec<usize> {
        let own = self.part[start];
        self.visited[start] = epoch;
        let mut piece = vec![start];
        let mut i = 0;
        while i < piece.len() {
            let x = piece[i];
            i += 1;
            for &y in self.subset.neighbours(x) {
                if self.part[y] == own && self.visited[y] != epoch {
                    self.visited[y] = epoch;
                    piece.push(y);
                }
            }
        }
        piece
    }

    /// The pieces `v`'s part falls into around `v` if `v` left: one list per piece holding a part neighbour of
    /// `v`. A first search bounded to a few hundred systems answers the common case (the neighbours stay
    /// joined) without exploring a large part; only otherwise are the pieces explored in full.
    fn pieces_without(&mut self, v: usize) -> Vec<Vec<usize>> {
        let same = self.neighbours_in_own_part(v);
        if same.len() <= 1 || self.joined_without(v, &same, LOCAL_SEARCH_LIMIT) == Some(true) {
            return vec![same];
        }
        let mut pieces: Vec<Vec<usize>> = Vec::new();
        let epoch = self.next_epoch();
        self.visited[v] = epoch;
        for &s in &same {
            if self.visited[s] == epoch {
                continue;
            }
            pieces.push(self.grow_piece(s, epoch));
        }
        pieces
    }

    /// The stargate neighbours of `v` in its own part.
    fn neighbours_in_own_part(&self, v: usize) -> Vec<usize> {
        let own = self.part[v];
        self.subset.neighbours(v).iter().copied().filter(|&w| self.part[w] == own).collect()
    }

    /// Whether `v` can leave its part without splitting the piece it is in (what `pieces_without` tells, without
    /// listing the pieces).
    fn leaves_whole(&mut self, v: usize) -> bool {
        let same = self.neighbours_in_own_part(v);
        if same.len() <= 1 {
            return true;
        }
        match self.joined_without(v, &same, LOCAL_SEARCH_LIMIT) {
            Some(joined) => joined,
            None => self.joined_without(v, &same, usize::MAX) == Some(true),
        }
    }

    /// Whether all of `same` are connected within `v`'s part without passing through `v`; `None` if the search
    /// hit `limit` visited systems before it could tell.
    fn joined_without(&mut self, v: usize, same: &[usize], limit: usize) -> Option<bool> {
        let own = self.part[v];
        let epoch = self.next_epoch();
        self.visited[v] = epoch;
        self.visited[same[0]] = epoch;
        // The scratch queue, handed back before returning.
        let mut queue = std::mem::take(&mut self.queue);
        queue.clear();
        queue.push(same[0]);
        let mut missing = same.len() - 1;
        let mut head = 0;
        let joined = 'search: {
            while head < queue.len() {
                if head >= limit {
                    break 'search None;
                }
                let x = queue[head];
                head += 1;
                for &y in self.subset.neighbours(x) {
                    if self.part[y] == own && self.visited[y] != epoch {
                        self.visited[y] = epoch;
                        if same[1..].contains(&y) {
                            missing -= 1;
                            if missing == 0 {
                                break 'search Some(true);
                            }
                        }
                        queue.push(y);
                    }
                }
            }
            Some(false)
        };
        self.queue = queue;
        joined
    }

    /// Gates no longer cut after moving `bundle` (all in one part) to part `to`.
    fn bundle_gain(&self, bundle: &[usize], to: u32) -> i64 {
        let from = self.part[bundle[0]];
        let mut gain = 0;
        for &x in bundle {
            for &y in self.subset.neighbours(x) {
                if bundle.contains(&y) {
                    continue;
                }
                if self.part[y] == to {
                    gain += 1;
                } else if self.part[y] == from {
                    gain -= 1;
                }
            }
        }
        gain
    }

    /// Gives every part's stray pieces to the parts around them: within each connected piece of the stargate
    /// graph a part keeps its heaviest piece; the systems of its other pieces are handed out by growing the
    /// neighbouring parts into them, the least loaded part first, one touching system at a time. A large stray
    /// piece is thus shared among its neighbours instead of doubling one of them, and every part stays one
    /// piece, since each system joins a part it touches. Systems no part can reach stay where they were.
    pub fn dissolve_stray_pieces(&mut self, component: &[usize]) {
        let strays: Vec<usize> = self.stray_pieces(component).concat();
        if strays.is_empty() {
            return;
        }
        const UNASSIGNED: u32 = u32::MAX;
        let original: Vec<u32> = strays.iter().map(|&v| self.part[v]).collect();
        let mut pending: Vec<usize> = Vec::with_capacity(strays.len());
        for &v in &strays {
            // Parked outside every part while unassigned.
            let from = self.part[v] as usize;
            self.part_load[from] -= self.subset.load[v];
            let at = self.slot[v];
            self.members[from].swap_remove(at);
            if let Some(&moved) = self.members[from].get(at) {
                self.slot[moved] = at;
            }
            self.part[v] = UNASSIGNED;
            pending.push(v);
        }
        let place = |refiner: &mut Self, v: usize, p: u32| {
            refiner.part[v] = p;
            refiner.part_load[p as usize] += refiner.subset.load[v];
            refiner.slot[v] = refiner.members[p as usize].len();
            refiner.members[p as usize].push(v);
        };
        loop {
            // The least loaded part that touches an unassigned system, and its best-linked such system.
            let mut best: Option<(f64, u32, i64, usize)> = None;
            for &v in &pending {
                for &w in self.subset.neighbours(v) {
                    let p = self.part[w];
                    if p == UNASSIGNED {
                        continue;
                    }
                    let key = (self.part_load[p as usize], p, -self.links(v, p), v);
                    if best.is_none_or(|b| {
                        key.0.total_cmp(&b.0).then((key.1, key.2, key.3).cmp(&(b.1, -b.2, b.3))).is_lt()
                    }) {
                        best = Some((key.0, p, -key.2, v));
                    }
                }
            }
            let Some((_, p, _, v)) = best else { break };
            place(self, v, p);
            pending.retain(|&x| x != v);
        }
        for (&v, &p) in strays.iter().zip(&original) {
            if self.part[v] == UNASSIGNED {
                place(self, v, p);
            }
        }
    }

    /// The pieces of each part that are not its main piece within their component, lightest first.
    fn stray_pieces(&mut self, component: &[usize]) -> Vec<Vec<usize>> {
        let epoch = self.next_epoch();
        // (part, component) → pieces of that part in that component, with their loads.
        let mut groups: PiecesByPart = Default::default();
        for (start, &start_component) in component.iter().enumerate() {
            if self.visited[start] == epoch {
                continue;
            }
            let own = self.part[start];
            let piece = self.grow_piece(start, epoch);
            groups.entry((own, start_component)).or_default().push((self.load_of(&piece), piece));
        }
        let mut strays: Vec<(f64, Vec<usize>)> = Vec::new();
        for (_, mut pieces) in groups {
            if pieces.len() < 2 {
                continue;
            }
            // Main piece: heaviest, then largest, then the one found first (lowest system index).
            let main = (0..pieces.len())
                .max_by(|&a, &b| {
                    pieces[a].0.total_cmp(&pieces[b].0).then(pieces[a].1.len().cmp(&pieces[b].1.len())).then(b.cmp(&a))
                })
                .expect("at least two pieces");
            pieces.swap_remove(main);
            strays.extend(pieces);
        }
        strays.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1[0].cmp(&b.1[0])));
        strays.into_iter().map(|(_, piece)| piece).collect()
    }

    /// Moves load off parts above their caps until none is, no step helps, or `max_steps` steps were taken.
    ///
    /// Progress is measured by the *overload*, the sum over parts of the squared excess above the cap: a step is
    /// taken only if it lowers the overload, so balancing never cycles, and excess flows from more overloaded
    /// parts to less overloaded ones until it reaches parts with room. Each step takes the most overloaded part
    /// not yet found stuck and tries, in order: moving one border system (with any dead-end pocket behind it)
    /// to a touching part; exchanging a ball of systems grown from its border for a ball of a touching part,
    /// which finds fine differences of load even across a border of a few gates; a transfer along the shortest
    /// chain of touching parts to the nearest part with room. Returns whether every part fits.
    pub fn balance(&mut self, max_steps: usize) -> bool {
        self.descend(max_steps);
        let mut steps = 0;
        // Kicks: an overloaded part stuck in a local minimum pushes a bundle into a touching part even though
        // that raises the overload, and the descent follows it through with the pushing part closed; kept only
        // if the overload ends lower.
        let k = self.parts();
        let mut tried = vec![false; k as usize];
        let mut kicks_left = KICK_ATTEMPTS_PER_PART * k as usize;
        let mut parts_failed_in_a_row = 0;
        // With two parts, closing one leaves the other nowhere to pass load on to.
        while k > 2 && steps < max_steps && kicks_left > 0 && parts_failed_in_a_row < GIVE_UP_AFTER_STUCK_PARTS {
            let Some(over) = (0..k)
                .filter(|&p| !tried[p as usize] && !self.fits(p, 0.0))
                .max_by(|&a, &b| self.excess(a).total_cmp(&self.excess(b)).then(b.cmp(&a)))
            else {
                break;
            };
            tried[over as usize] = true;
            let before = self.overload();
            parts_failed_in_a_row += 1;
            for (bundle, to) in self.kicks(over) {
                if kicks_left == 0 {
                    break;
                }
                kicks_left -= 1;
                let snapshot = (self.part.clone(), self.version.clone(), self.spill_budget);
                // The descent after a kick works only on parts the kick has made worse.
                self.focus = Some((0..k).map(|p| self.excess(p).max(0.0)).collect());
                self.move_all(&bundle, to);
                self.closed = Some(over);
                steps += self.descend(KICK_DESCENT_STEPS.min(max_steps.saturating_sub(steps)));
                self.closed = None;
                self.focus = None;
                steps += 1;
                if self.overload() < before {
                    steps += self.descend(max_steps.saturating_sub(steps));
                    tried.fill(false);
                    parts_failed_in_a_row = 0;
                    break;
                }
                self.restore(snapshot.0, snapshot.1);
                self.spill_budget = snapshot.2;
            }
        }
        self.all_fit()
    }

    /// Greedy descent of the overload: the most overloaded part not found stuck takes the first step that lowers
    /// the overload among a bundle move, a ball exchange and a chain transfer. Returns the steps taken.
    fn descend(&mut self, max_steps: usize) -> usize {
        let k = self.parts();
        let mut stuck = vec![false; k as usize];
        let mut steps = 0;
        while steps < max_steps {
            let Some(over) = (0..k)
                .filter(|&p| !stuck[p as usize] && !self.fits(p, 0.0) && Some(p) != self.closed)
                .filter(|&p| self.focus.as_ref().is_none_or(|before| self.excess(p) > before[p as usize] + 1e-9))
                .max_by(|&a, &b| self.excess(a).total_cmp(&self.excess(b)).then(b.cmp(&a)))
            else {
                break;
            };
            steps += 1;
            if self.step(over) {
                stuck.fill(false);
            } else {
                stuck[over as usize] = true;
            }
        }
        steps
    }

    /// One balancing step out of `over`: a bundle move, else a ball exchange, else a chain transfer.
    fn step(&mut self, over: u32) -> bool {
        if let Some(m) = self.best_move_out(over) {
            self.move_all(&m.bundle, m.to);
            true
        } else {
            self.exchange_unless_known_to_fail(over)
                || self.transfer_along_chain(over)
                || (self.allow_pieces && self.spill(over))
        }
    }

    /// Balance before wholeness: moves systems out of `over` even where that leaves `over` or the receiving
    /// part in more pieces, because no move keeping every part whole lowers the overload any more (see
    /// [`Self::spill_candidates`] for what may move where). The move made is the first by: it brings `over`
    /// within its cap and keeps the receiver within its own; it puts the fewest parts newly in pieces; it
    /// creates the fewest new pieces; the receiver is nearest (a touching part counts as nearest); then the
    /// lightest load moved (a fit as exact as possible, so that the rooms left stay large). If no move fits both
    /// parts, the one lowering the overload most by the same order. Returns whether a move was made (only moves
    /// that lower the overload are).
    fn spill(&mut self, over: u32) -> bool {
        let excess = self.excess(over);
        let mut best: Option<Spill> = None;
        for c in self.spill_candidates(over) {
            let change = self.overload_change(over, c.to, c.load);
            if change >= 0.0 {
                continue;
            }
            let full = c.load >= excess * (1.0 - CAP_TOLERANCE) && self.fits(c.to, c.load);
            let c = Spill {
                key: (!full, c.key.1, c.key.2, c.key.3, if full { c.load } else { change }, c.key.5, c.to),
                ..c
            };
            if best.as_ref().is_none_or(|b| c.before(b)) {
                best = Some(c);
            }
        }
        let Some(c) = best else { return false };
        self.move_all(&c.set, c.to);
        self.spill_budget -= c.key.1;
        true
    }

    /// What may spill out of `from`: every system of it, alone or with the pocket behind it (the bundle that
    /// keeps `from` whole), to a part the set touches or to one of the [`SPILL_NEAREST`] parts with room
    /// nearest to `from` in space; none that would put more parts newly in pieces than
    /// [`Self::spill_budget`] allows. Each is keyed for [`Spill::before`] with the parts
    /// newly in pieces and the new pieces it makes and the receiver's rank by distance (0 if touching).
    fn spill_candidates(&mut self, from: u32) -> Vec<Spill> {
        let mut out = Vec::new();
        if self.size(from) <= 1 {
            return out;
        }
        let near = self.nearest_parts(from, SPILL_NEAREST);
        let mut members = self.members[from as usize].clone();
        members.sort_unstable();
        let from_whole = !self.fragmented(from);
        let mut whole_cache: Vec<(u32, bool)> = Vec::new();
        for v in members {
            let whole = self.bundle(v);
            let mut sets: Vec<(Vec<usize>, usize)> = Vec::new();
            if let Some(bundle) = &whole {
                sets.push((bundle.clone(), 0));
            }
            if whole.as_deref() != Some(&[v][..]) {
                let pieces = self.pieces_without(v).len();
                sets.push((vec![v], pieces.saturating_sub(1).max(1)));
            }
            for (set, split) in sets {
                let load = self.load_of(&set);
                let mut touching: Vec<u32> = set
                    .iter()
                    .flat_map(|&x| self.subset.neighbours(x).iter().map(|&y| self.part[y]))
                    .filter(|&p| p != from && Some(p) != self.closed)
                    .collect();
                touching.sort_unstable();
                touching.dedup();
                let receivers: Vec<(u32, usize)> = touching
                    .iter()
                    .map(|&q| (q, 0usize))
                    .chain(
                        near.iter().enumerate().filter(|(_, q)| !touching.contains(q)).map(|(rank, &q)| (q, rank + 1)),
                    )
                    .collect();
                for (to, rank) in receivers {
                    let to_whole = if rank == 0 {
                        true
                    } else if let Some(&(_, known)) = whole_cache.iter().find(|(p, _)| *p == to) {
                        known
                    } else {
                        let known = !self.fragmented(to);
                        whole_cache.push((to, known));
                        known
                    };
                    let newly = usize::from(split > 0 && from_whole) + usize::from(rank > 0 && to_whole);
                    if newly > self.spill_budget {
                        continue;
                    }
                    let pieces = split + usize::from(rank > 0);
                    out.push(Spill { key: (false, newly, pieces, rank, load, v, to), set: set.clone(), to, load });
                }
            }
        }
        out
    }

    /// Whether `part` lies in more than one piece within one connected part of the stargate graph (pieces in
    /// different connected parts cannot be joined and do not count).
    fn fragmented(&mut self, part: u32) -> bool {
        self.extra_pieces_of(part, 1) > 0
    }

    /// The pieces of `part` beyond one per connected part of the stargate graph it reaches — the pieces that
    /// could have been joined, as the metrics count them — counted up to `enough`.
    fn extra_pieces_of(&mut self, part: u32, enough: usize) -> usize {
        self.components();
        let epoch = self.next_epoch();
        let mut seen: Vec<usize> = Vec::new();
        let mut extra = 0;
        for i in 0..self.members[part as usize].len() {
            let start = self.members[part as usize][i];
            if self.visited[start] == epoch {
                continue;
            }
            let c = self.component[start];
            if seen.contains(&c) {
                extra += 1;
                if extra >= enough {
                    return extra;
                }
            } else {
                seen.push(c);
            }
            self.grow_piece(start, epoch);
        }
        extra
    }

    /// The `count` parts with room left whose centres (mean position of their systems) lie nearest to the
    /// centre of `part`, nearest first.
    fn nearest_parts(&mut self, part: u32, count: usize) -> Vec<u32> {
        if self.centre.is_empty() {
            self.centre = super::part_centres(&self.subset.position, &self.part, self.parts() as usize).0;
        }
        let candidates = (0..self.parts()).filter(|&p| p != part && Some(p) != self.closed && self.excess(p) < 0.0);
        super::nearest_parts(&self.centre, self.centre[part as usize], candidates.map(|p| p as usize), count)
            .into_iter()
            .map(|p| p as u32)
            .collect()
    }

    /// The total overload: the sum over parts of the squared excess above the cap.
    pub fn overload(&self) -> f64 {
        (0..self.parts()).map(|p| self.overload_of(p, 0.0)).sum()
    }

    /// Candidate kicks out of `from`: border bundles and the touching part to push each into, lightest first,
    /// at most [`KICKS_PER_PART`].
    fn kicks(&mut self, from: u32) -> Vec<(Vec<usize>, u32)> {
        let mut kicks: Vec<(f64, Vec<usize>, u32)> = Vec::new();
        for v in self.border(from) {
            let Some(bundle) = self.bundle(v) else { continue };
            let w = self.load_of(&bundle);
            for to in self.adjacent_parts(v) {
                kicks.push((self.overload_change(from, to, w), bundle.clone(), to));
            }
        }
        kicks.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.2, &a.1).cmp(&(b.2, &b.1))));
        kicks.into_iter().take(KICKS_PER_PART).map(|(_, bundle, to)| (bundle, to)).collect()
    }

    /// Returns to an earlier assignment and the part versions it had, rebuilding loads and member lists.
    fn restore(&mut self, part: Vec<u32>, version: Vec<u64>) {
        self.version = version;
        self.part_load.fill(0.0);
        self.touching_known.fill(false);
        for list in &mut self.members {
            list.clear();
        }
        for (v, &p) in part.iter().enumerate() {
            self.part_load[p as usize] += self.subset.load[v];
            self.slot[v] = self.members[p as usize].len();
            self.members[p as usize].push(v);
        }
        self.part = part;
    }

    /// The overload of one part after adding `extra`: its squared excess above the cap, zero when it fits.
    fn overload_of(&self, part: u32, extra: f64) -> f64 {
        let excess = self.excess(part) + extra;
        if excess > 0.0 { excess * excess } else { 0.0 }
    }

    /// How much moving load `w` from part `from` to part `to` changes the overload (negative is better).
    fn overload_change(&self, from: u32, to: u32, w: f64) -> f64 {
        self.overload_of(from, -w) + self.overload_of(to, w) - self.overload_of(from, 0.0) - self.overload_of(to, 0.0)
    }

    /// The best single move out of `from` into a touching part: the one that lowers the overload most, then
    /// cuts the fewest gates, then moves the least load.
    fn best_move_out(&mut self, from: u32) -> Option<Move> {
        let mut best: Option<Move> = None;
        // A system with no stargates in the subset (a filler) joins any part without splitting it.
        let loose: Vec<usize> =
            self.members[from as usize].iter().copied().filter(|&v| self.subset.neighbours(v).is_empty()).collect();
        if self.size(from) > 1 {
            for v in loose {
                let w = self.subset.load[v];
                for to in 0..self.parts() {
                    if to == from || Some(to) == self.closed {
                        continue;
                    }
                    let change = self.overload_change(from, to, w);
                    let fits = self.fits(to, w);
                    self.overshoot_seen |= change < 0.0 && !fits;
                    let score = (self.avoid_overshoot && fits, -change, 0, -w);
                    if change < 0.0 && best.as_ref().is_none_or(|b| score > b.score) {
                        best = Some(Move { bundle: vec![v], to, score });
                    }
                }
            }
        }
        for v in self.border(from) {
            let Some(bundle) = self.bundle(v) else { continue };
            let w = self.load_of(&bundle);
            for to in self.adjacent_parts(v) {
                let change = self.overload_change(from, to, w);
                if change >= 0.0 {
                    continue;
                }
                let fits = self.fits(to, w);
                self.overshoot_seen |= !fits;
                let score = (self.avoid_overshoot && fits, -change, self.bundle_gain(&bundle, to), -w);
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Move { bundle: bundle.clone(), to, score });
                }
            }
        }
        best
    }

    /// Balls of `part` towards `toward`: from each system of `part` that touches `toward`, the first
    /// 1, 2, … [`BALL_SIZE`] systems of a breadth-first search within `part`. Moving such a ball keeps it
    /// attached to `toward`. The searches' orders are kept once in `balls.order`; a ball is a prefix of one.
    fn balls(&mut self, part: u32, toward: u32) -> Balls {
        let mut balls = Balls::default();
        let limit = BALL_SIZE.min(self.size(part).saturating_sub(1));
        for v in self.border(part) {
            if self.links(v, toward) == 0 {
                continue;
            }
            let epoch = self.next_epoch();
            self.visited[v] = epoch;
            let first = balls.order.len();
            balls.order.push(v);
            let mut head = first;
            while head < balls.order.len() && balls.order.len() - first < limit {
                let x = balls.order[head];
                head += 1;
                for &y in self.subset.neighbours(x) {
                    if self.part[y] == part && self.visited[y] != epoch && balls.order.len() - first < BALL_SIZE {
                        self.visited[y] = epoch;
                        balls.order.push(y);
                    }
                }
            }
            let mut load = 0.0;
            for t in 0..(balls.order.len() - first).min(limit) {
                load += self.subset.load[balls.order[first + t]];
                balls.list.push((load, first as u32, t as u32 + 1));
            }
        }
        balls
    }

    /// [`Self::exchange`], skipped when `from` and the parts touching it are as they were when it last failed.
    fn exchange_unless_known_to_fail(&mut self, from: u32) -> bool {
        if self.parts() == 2 {
            // Every step changes both parts: the same state never comes back.
            return self.exchange(from);
        }
        let state = |refiner: &mut Self| {
            let mut parts = refiner.touching(from);
            parts.push(from);
            (refiner.closed, parts.into_iter().map(|p| (p, refiner.version[p as usize])).collect::<Vec<_>>())
        };
        let now = state(self);
        if self.exchange_failed[from as usize].as_ref() == Some(&now) {
            return false;
        }
        if self.exchange(from) {
            return true;
        }
        self.exchange_failed[from as usize] = Some(state(self));
        false
    }

    /// Exchanges a ball of `from` for a ball (or nothing) of a touching part so that the overload drops the
    /// most; the best few candidates are tried until one keeps both parts whole. Returns whether one was made.
    fn exchange(&mut self, from: u32) -> bool {
        // Balls per touching part, and candidates as indices into them (cheap to sort and de-duplicate).
        let mut offers: Vec<(u32, Balls, Balls)> = Vec::new();
        let mut candidates: Vec<Exchange> = Vec::new();
        for to in self.touching(from) {
            let ours = self.balls(from, to);
            let mut theirs = self.balls(to, from);
            theirs.list.push((0.0, 0, 0));
            theirs.list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
            let (excess_from, excess_to) = (self.excess(from), self.excess(to));
            // Ideal net transfers: clear the excess, or even out two overloaded parts.
            let targets = [excess_from, (excess_from - excess_to) / 2.0];
            for (ia, &(wa, _, la)) in ours.list.iter().enumerate() {
                for target in targets {
                    let at = theirs.list.partition_point(|(wb, _, _)| *wb < wa - target);
                    let first = at.saturating_sub(2);
                    for (ib, &(wb, _, lb)) in theirs.list.iter().enumerate().skip(first).take(at + 2 - first) {
                        let change = self.overload_change(from, to, wa - wb);
                        if change < 0.0 {
                            let size = (la + lb) as usize;
                            candidates.push(Exchange { change, size, offer: offers.len(), ours: ia, theirs: ib });
                        }
                    }
                }
            }
            offers.push((to, ours, theirs));
        }
        let identity = |x: &Exchange| (x.offer, x.ours, x.theirs);
        let order = |x: &Exchange, y: &Exchange| {
            x.change.total_cmp(&y.change).then(x.size.cmp(&y.size)).then(identity(x).cmp(&identity(y)))
        };
        // Each candidate appears at most once per target, so the best `EXCHANGE_TRIES` distinct ones are among
        // the first `targets × EXCHANGE_TRIES` in order: select those, then sort and de-duplicate only them.
        let enough = 2 * EXCHANGE_TRIES;
        if candidates.len() > enough {
            candidates.select_nth_unstable_by(enough, order);
            candidates.truncate(enough);
        }
        candidates.sort_unstable_by(order);
        candidates.dedup_by_key(|x| identity(x));
        for c in candidates.into_iter().take(EXCHANGE_TRIES) {
            let (to, ours, theirs) = &offers[c.offer];
            let (a, b) = (ours.ball(c.ours).to_vec(), theirs.ball(c.theirs).to_vec());
            if self.try_exchange(from, &a, *to, &b) {
                return true;
            }
        }
        false
    }

    /// Moves `a` (connected, in `from`) to `to` and `b` (connected or empty, in `to`) the other way, unless
    /// either part would fall into more pieces or be emptied. Returns whether it did.
    fn try_exchange(&mut self, from: u32, a: &[usize], to: u32, b: &[usize]) -> bool {
        if a.len() >= self.size(from) + b.len() || b.len() >= self.size(to) + a.len() {
            return false;
        }
        // Judge the exchange before making it: `a` marked 1, `b` marked 2.
        for &x in a {
            self.mark[x] = 1;
        }
        for &x in b {
            self.mark[x] = 2;
        }
        let (want, seen) = (self.next_epoch(), self.next_epoch());
        let (part, mark) = (&self.part, &self.mark);
        let in_from = |y: usize| (part[y] == from && mark[y] != 1) || mark[y] == 2;
        let quick_from = joined_after(self.subset, &mut self.visited, (want, seen), &mut self.queue, in_from, a, b);
        let quick_to = match quick_from {
            Some(false) => Some(false),
            _ => {
                let (want, seen) = (self.next_epoch(), self.next_epoch());
                let (part, mark) = (&self.part, &self.mark);
                let in_to = |y: usize| (part[y] == to && mark[y] != 2) || mark[y] == 1;
                joined_after(self.subset, &mut self.visited, (want, seen), &mut self.queue, in_to, b, a)
            }
        };
        for &x in a.iter().chain(b) {
            self.mark[x] = 0;
        }
        match (quick_from, quick_to) {
            (Some(false), _) | (_, Some(false)) => false,
            (Some(true), Some(true)) => {
                self.move_all(a, to);
                self.move_all(b, from);
                true
            }
            _ => {
                // The quick check could not tell: count the pieces before and after.
                let (from_pieces, to_pieces) = (self.piece_count(from), self.piece_count(to));
                self.move_all(a, to);
                self.move_all(b, from);
                let ok = self.piece_count(from) <= from_pieces && self.piece_count(to) <= to_pieces;
                if !ok {
                    self.move_all(b, to);
                    self.move_all(a, from);
                }
                ok
            }
        }
    }

    /// Passes load from `from` to the nearest part with room along the shortest chain of touching parts, one
    /// hop at a time starting at the far end, each hop moving the border bundle whose load is closest to the
    /// amount. Kept only if it lowers the overload; otherwise undone. Returns whether it was kept.
    fn transfer_along_chain(&mut self, from: u32) -> bool {
        let Some(chain) = self.chain_to_room(from) else { return false };
        let last = *chain.last().expect("a chain has at least two parts");
        let amount = self.excess(from).min(-self.excess(last));
        let before: f64 = chain.iter().map(|&p| self.overload_of(p, 0.0)).sum();
        let mut done: Vec<(Vec<usize>, u32)> = Vec::new();
        for hop in (0..chain.len() - 1).rev() {
            let (a, b) = (chain[hop], chain[hop + 1]);
            let mut best: Option<(f64, i64, Vec<usize>)> = None;
            for v in self.border(a) {
                if self.links(v, b) == 0 {
                    continue;
                }
                let Some(bundle) = self.bundle(v) else { continue };
                let miss = (self.load_of(&bundle) - amount).abs();
                let gain = self.bundle_gain(&bundle, b);
                if best.as_ref().is_none_or(|(m, g, _)| (miss, -gain) < (*m, -*g)) {
                    best = Some((miss, gain, bundle));
                }
            }
            let Some((_, _, bundle)) = best else { break };
            self.move_all(&bundle, b);
            done.push((bundle, a));
        }
        let after: f64 = chain.iter().map(|&p| self.overload_of(p, 0.0)).sum();
        if done.len() == chain.len() - 1 && after < before {
            return true;
        }
        for (bundle, a) in done.into_iter().rev() {
            self.move_all(&bundle, a);
        }
        false
    }

    /// The shortest chain of touching parts from `from` to a part below its cap (breadth-first over parts).
    fn chain_to_room(&mut self, from: u32) -> Option<Vec<u32>> {
        let k = self.parts() as usize;
        let mut parent = vec![u32::MAX; k];
        parent[from as usize] = from;
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(p) = queue.pop_front() {
            if p != from && self.excess(p) < 0.0 {
                let mut chain = vec![p];
                let mut at = p;
                while at != from {
                    at = parent[at as usize];
                    chain.push(at);
                }
                chain.reverse();
                return Some(chain);
            }
            for q in self.touching(p) {
                if parent[q as usize] == u32::MAX {
                    parent[q as usize] = p;
                    queue.push_back(q);
                }
            }
        }
        None
    }

    /// Greedy refinement: passes over the border systems, each moved (with its pocket) or swapped with a
    /// nearby system of a touching part when that cuts fewer gates, keeps every part within its cap and splits
    /// no part. Stops after a pass with no change or after `max_passes`.
    pub fn refine(&mut self, max_passes: usize) {
        for _ in 0..max_passes {
            let mut changed = false;
            for v in 0..self.subset.len() {
                let from = self.part[v];
                if self.subset.neighbours(v).iter().all(|&w| self.part[w] == from) {
                    continue;
                }
                let adjacent = self.adjacent_parts(v);
                if adjacent.is_empty() {
                    continue;
                }
                let stay = self.links(v, from);
                let best = adjacent
                    .iter()
                    .map(|&to| (self.links(v, to) - stay, to))
                    .filter(|&(gain, _)| gain > 0)
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                if let Some((_, to)) = best
                    && let Some(bundle) = self.bundle(v)
                    && self.bundle_gain(&bundle, to) > 0
                    && self.fits(to, self.load_of(&bundle))
                {
                    self.move_all(&bundle, to);
                    changed = true;
                    continue;
                }
                if self.swap_improving(v, &adjacent) {
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// Recombination for the cut (see `recombine`): each pair of touching parts, merged and cut again along
    /// `trees` spanning trees of the union, takes the cut that keeps both within their caps and crosses the
    /// fewest gates, if it crosses fewer than the border between them now. Only the union's largest connected
    /// piece holding systems of both parts is cut again (or one alone in its part of the universe); its other
    /// pieces (fillers, a part's stray piece) stay where they are, except that a loose system (no gates) may
    /// change sides towards the part whose systems' centre is no farther from it, if that makes a cut fit the
    /// caps. So no part gets more pieces (a part whose pieces the piece cut joins becomes whole, and a loose
    /// system is a piece that could never have been joined), no cap is passed, and the gates cut elsewhere do
    /// not change. Returns the gates saved.
    pub fn recombine_for_cut(&mut self, trees: usize) -> usize {
        let mut saved = 0;
        for a in 0..self.parts() {
            for b in self.touching(a) {
                // Each pair once, and not again while neither part has changed since it found nothing.
                let state = (self.version[a as usize], self.version[b as usize]);
                if b <= a || self.recombined.get(&(a, b)) == Some(&state) {
                    continue;
                }
                self.recombined.insert((a, b), state);
                if let Some(gain) = self.recombine_pair(a, b, 0..trees, false) {
                    saved += gain as usize;
                }
            }
        }
        saved
    }

    /// Redraws the border between touching parts `a` and `b` along the best fitting cut of the spanning trees
    /// numbered `trees` (see `recombine::best_split`): only if it crosses fewer gates than the border now,
    /// unless `any` (a kick, see [`Self::recombine_with_kicks`]), which takes it if it differs at all. Returns
    /// the gates saved (negative: added) if the border was redrawn.
    fn recombine_pair(&mut self, a: u32, b: u32, trees: std::ops::Range<usize>, any: bool) -> Option<i64> {
        let mut systems = self.members[a as usize].clone();
        systems.extend_from_slice(&self.members[b as usize]);
        systems.sort_unstable();
        let in_a: Vec<bool> = systems.iter().map(|&v| self.part[v] == a).collect();
        let border = |side: &dyn Fn(usize) -> bool| {
            systems
                .iter()
                .enumerate()
                .filter(|&(i, _)| side(i))
                .map(|(_, &v)| {
                    let neighbours = self.subset.neighbours(v).iter();
                    neighbours.filter(|&&w| systems.binary_search(&w).is_ok_and(|j| !side(j))).count()
                })
                .sum::<usize>()
        };
        let now = border(&|i| in_a[i]);
        let caps = (self.cap[a as usize], self.cap[b as usize]);
        let caps = (caps.0 * (1.0 + CAP_TOLERANCE), caps.1 * (1.0 + CAP_TOLERANCE));
        // A loose system (no gates) may change sides only towards the part whose systems' centre is no
        // farther from it, so that fillers placed near their nodes stay near.
        let centre = |side: bool| {
            let (mut sum, mut count) = (orrery_universe::Vec3::ZERO, 0usize);
            for (i, &v) in systems.iter().enumerate() {
                if in_a[i] == side {
                    sum = sum + self.subset.position[v];
                    count += 1;
                }
            }
            sum * (1.0 / count.max(1) as f64)
        };
        let (centre_a, centre_b) = (centre(true), centre(false));
        let nearer: Vec<bool> = systems
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let at = self.subset.position[v];
                let (own, other) = if in_a[i] { (centre_a, centre_b) } else { (centre_b, centre_a) };
                other.distance(at) <= own.distance(at)
            })
            .collect();
        let labels = self.components();
        let component: Vec<usize> = systems.iter().map(|&v| labels[v]).collect();
        let to_a = super::recombine::best_split(self.subset, &systems, &in_a, trees, caps, &nearer, &component)?;
        let after = border(&|i| to_a[i]);
        if after < now || (any && to_a != in_a) {
            for (i, &v) in systems.iter().enumerate() {
                let target = if to_a[i] { a } else { b };
                if self.part[v] != target {
                    self.move_to(v, target);
                }
            }
            return Some(now as i64 - after as i64);
        }
        None
    }

    /// Swaps `v` with a system `u` of a touching part, near `v`, when that cuts fewer gates, keeps both parts
    /// within their caps and splits neither; the swap that saves the most gates is made. Returns whether one was.
    fn swap_improving(&mut self, v: usize, adjacent: &[u32]) -> bool {
        let from = self.part[v];
        let wv = self.subset.load[v];
        let mut candidates: Vec<(i64, u32, usize)> = Vec::new();
        for &to in adjacent {
            let gain_v = self.links(v, to) - self.links(v, from);
            let mut near: Vec<usize> = Vec::new();
            for &x in self.subset.neighbours(v) {
                if self.part[x] == to {
                    near.push(x);
                    near.extend(self.subset.neighbours(x).iter().copied().filter(|&y| self.part[y] == to));
                }
            }
            near.sort_unstable();
            near.dedup();
            for u in near {
                let wu = self.subset.load[u];
                if !self.fits(to, wv - wu) || !self.fits(from, wu - wv) {
                    continue;
                }
                let adjacent_uv = i64::from(self.subset.neighbours(v).contains(&u));
                let gain = gain_v + self.links(u, from) - self.links(u, to) - 2 * adjacent_uv;
                if gain > 0 {
                    candidates.push((gain, to, u));
                }
            }
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        if candidates.is_empty() {
            return false;
        }
        candidates.into_iter().any(|(_, to, u)| self.try_exchange(from, &[v], to, &[u]))
    }
}

/// Whether a part stays in no more pieces after `left` (connected) leaves it and `joined` joins it, judged on
/// `member` (membership after the change): `Some(true)` if the members next to either set, and `joined`
/// itself, all lie in one piece (then every piece that held `left` or touches `joined` became part of that one
/// piece, so the part has no more pieces than before); `Some(false)` if they do not (conservatively taken as a
/// split); `None` if a search bounded to a few hundred systems could not tell. `epochs` are two fresh marks for
/// `visited` (wanted, seen); `queue` is scratch.
fn joined_after(
    subset: &Subset<'_>,
    visited: &mut [u32],
    (want, seen): (u32, u32),
    queue: &mut Vec<usize>,
    member: impl Fn(usize) -> bool,
    left: &[usize],
    joined: &[usize],
) -> Option<bool> {
    let mut wanted = 0usize;
    let mut start = None;
    for &x in left.iter().chain(joined) {
        for &y in std::iter::once(&x).chain(subset.neighbours(x)) {
            if visited[y] != want && member(y) {
                visited[y] = want;
                wanted += 1;
                start.get_or_insert(y);
            }
        }
    }
    let Some(start) = start else { return Some(true) };
    visited[start] = seen;
    wanted -= 1;
    if wanted == 0 {
        return Some(true);
    }
    queue.clear();
    queue.push(start);
    let mut head = 0;
    while head < queue.len() {
        if head >= 2 * LOCAL_SEARCH_LIMIT {
            return None;
        }
        let x = queue[head];
        head += 1;
        for &y in subset.neighbours(x) {
            if visited[y] != seen && member(y) {
                if visited[y] == want {
                    wanted -= 1;
                    if wanted == 0 {
                        return Some(true);
                    }
                }
                visited[y] = seen;
                queue.push(y);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::Refiner;
    use crate::subset::Subset;
    use crate::test_support::universe;
    use orrery_universe::Vec3;

    /// a1 – a2 – b1 – c1 with loads 3, 1, 1, 1 on three nodes {a1, a2}, {b1}, {c1}. Under caps of 4 no exchange
    /// out of the first node lowers the overload; under caps of 3 handing a2 to the second node does. The failure
    /// remembered under the old caps must not stop it (the spills balance first against a ceiling, then against
    /// the cap).
    #[test]
    fn an_exchange_that_failed_is_tried_again_once_the_caps_change() {
        let u = universe((0..4).map(|i| Vec3::new(f64::from(i), 0.0, 0.0)), &[(0, 1), (1, 2), (2, 3)]);
        let load = [3.0, 1.0, 1.0, 1.0];
        let subset = Subset::new(&u, &load, &[true; 4]);
        let mut refiner = Refiner::new(&subset, vec![0, 0, 1, 2], vec![4.0; 3]);
        assert!(!refiner.exchange_unless_known_to_fail(0), "nothing to gain under caps of 4");
        refiner.set_caps(3.0);
        assert!(refiner.exchange_unless_known_to_fail(0), "under caps of 3 the exchange must be tried again");
        assert_eq!(refiner.part, vec![0, 1, 1, 2]);
    }
}
