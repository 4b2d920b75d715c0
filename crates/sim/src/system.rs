//! One solar system's live state — its ships, pending chat and departures — and the tick that advances it.

use std::collections::BTreeMap;

use crate::combat::{FightEvent, Kill, Missile, Wreck};
use crate::command::{self, Command, CommandError, Outcome, Target, chat_text, orbit_radius, warp_range};
use crate::fight::Effect;
use crate::flight::{MAX_SPEED_MS, MIN_WARP_M, SUB_STEP_MS, fly};
use crate::grid::SpatialGrid;
use crate::hash::{Draws, Purpose};
use crate::ids::{CELESTIAL_BIT, ObjectId, ShipId, is_celestial};
use crate::layout::{CelestialKind, SystemLayout};
use crate::ship::{Motion, Order, Ship, ShipView};
use crate::shiptype::ShipType;
use crate::snapshot::Snapshot;
use crate::space::{Vec3, inside_system, limit, on_circle, quantise};

/// Farthest a ship may be from a stargate to jump through it.
pub const JUMP_RANGE_M: f64 = 2_500.0;
/// Longest step simulated at once; a longer `dt_ms` is cut to this, so a runaway caller cannot stall the node.
pub const MAX_STEP_MS: u64 = 10_000;
/// New ships (stored at the origin) and arrivals from a system without a gate back appear this far from the
/// star.
const SPAWN_DISTANCE_M: f64 = 50_000.0;
/// Arrivals appear this far from the gate they came through.
const GATE_ARRIVAL_M: (f64, f64) = (500.0, 1_500.0);

/// A line of local chat, said since the previous step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatLine {
    /// Who said it, so clients can tell speakers with the same name apart.
    pub character_id: u64,
    /// The speaker's name, as shown in the chat window.
    pub pilot: String,
    /// The line, already trimmed and checked (see [`Command::Chat`]).
    pub text: String,
}

/// Everything clients in the system must learn from one step. A ship is in at most one of `moved`, `arrived`
/// and `departed`; ship lists are in id order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TickOutput {
    /// The tick just completed (the first step returns 1).
    pub tick: u64,
    /// Simulation time after the step.
    pub sim_time_ms: u64,
    /// Ships whose quantised position or velocity (see [`quantise`]), or whose motion, changed since the last
    /// step.
    pub moved: Vec<ShipView>,
    /// Ships that entered since the last step (added or arrived), as they are after it.
    pub arrived: Vec<ShipView>,
    /// Ships that left since the last step (jumped out or removed). A ship that came and went between two steps
    /// is reported in neither list.
    pub departed: Vec<ShipId>,
    /// Local chat said since the last step, in the order it was said.
    pub chat: Vec<ChatLine>,
    /// Ships destroyed during the step, in the order they died: the kill reports, which the runtime stores before
    /// anything else about the step.
    pub kills: Vec<Kill>,
    /// Everything else that happened in fights during the step, in order: locks, shots and hits, missiles,
    /// disruptions, destructions, wrecks.
    pub fight: Vec<FightEvent>,
}

/// What clients were last told about a ship: quantised position, velocity and the motion.
type Reported = ([i64; 3], [i64; 3], Motion);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Slot {
    pub(crate) ship: Ship,
    /// `None` until the ship has been announced in a step's `arrived`.
    reported: Option<Reported>,
}

/// The simulation of one solar system: a layout, the ships in it, and a clock that advances by the nominal tick
/// length at every [`SystemSim::step`]. Deterministic: the same layout, ships, commands and steps give the same
/// outputs, bit for bit. All of its state is plain data (missiles and wrecks included), so it can be copied or
/// serialised whole (a live migration sends it to another node).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SystemSim {
    pub(crate) layout: SystemLayout,
    pub(crate) ships: BTreeMap<ShipId, Slot>,
    tick: u64,
    pub(crate) sim_time_ms: u64,
    departed: Vec<ShipId>,
    chat: Vec<ChatLine>,
    /// Missiles in flight, in launch order.
    pub(crate) missiles: Vec<Missile>,
    /// Wrecks in space, in the order they appeared.
    pub(crate) wrecks: Vec<Wreck>,
    /// The next id for a missile or a wreck.
    pub(crate) next_entity_id: u64,
    /// What a pilot ejects in; without one, a destroyed ship leaves the system with its pilot.
    pub(crate) capsule: Option<ShipType>,
    /// Kill reports and fight events of the step under way.
    pub(crate) kills: Vec<Kill>,
    pub(crate) fight: Vec<FightEvent>,
    /// Reused buffer of a sub-step's effects (empty between steps).
    pub(crate) effects: Vec<Effect>,
    /// Ships by cell, as of the end of the last step.
    pub(crate) grid: SpatialGrid,
    /// Every ship's kinematics at the start of the current phase of a sub-step (empty between steps).
    pub(crate) snapshot: Snapshot,
}

impl SystemSim {
    /// An empty system at tick 0, time 0.
    pub fn new(layout: SystemLayout) -> SystemSim {
        SystemSim {
            layout,
            ships: BTreeMap::new(),
            tick: 0,
            sim_time_ms: 0,
            departed: Vec::new(),
            chat: Vec::new(),
            missiles: Vec::new(),
            wrecks: Vec::new(),
            next_entity_id: 1,
            capsule: None,
            kills: Vec::new(),
            fight: Vec::new(),
            effects: Vec::new(),
            grid: SpatialGrid::default(),
            snapshot: Snapshot::default(),
        }
    }

    /// Sets the type pilots eject in when their ship is destroyed (the capsule of `data/ship-types.csv`).
    pub fn set_capsule(&mut self, capsule: ShipType) {
        self.capsule = Some(capsule);
    }

    /// Missiles in flight, in launch order.
    pub fn missiles(&self) -> &[Missile] {
        &self.missiles
    }

    /// Wrecks in space, in the order they appeared.
    pub fn wrecks(&self) -> &[Wreck] {
        &self.wrecks
    }

    /// Ships within `radius_m` of `centre` as of the end of the last step, by cell then id: a spatial-grid query,
    /// not a scan of every ship.
    pub fn ships_within(&self, centre: Vec3, radius_m: f64) -> Vec<ShipId> {
        let mut found = Vec::new();
        self.grid.for_each_within(centre, radius_m, |id, _, _| found.push(id));
        found
    }

    /// The grid of ship positions as of the end of the last step, for callers that search repeatedly (a bot
    /// picking targets) and want no allocation per query.
    pub fn grid(&self) -> &SpatialGrid {
        &self.grid
    }

    /// Add a celestial to the scenery while running (a stargate to a system added at runtime). Refused when
    /// its id is already taken.
    pub fn add_celestial(&mut self, celestial: crate::Celestial) -> Result<(), CommandError> {
        if self.layout.celestial(celestial.id).is_some() {
            return Err(CommandError::InvalidArgument(format!("celestial {}: already in this system", celestial.id)));
        }
        self.layout.celestials.push(celestial);
        Ok(())
    }

    /// The system's scenery: what snapshots list as celestials and what commands may target.
    pub fn layout(&self) -> &SystemLayout {
        &self.layout
    }

    /// Move the clock forward to `tick` and `sim_time_ms` (never back). A system restored from the store after its
    /// node died starts here instead of at tick 0, so that the numbers its clients see keep increasing and their
    /// deltas are not mistaken for old ones.
    pub fn resume_clock(&mut self, tick: u64, sim_time_ms: u64) {
        self.tick = self.tick.max(tick);
        self.sim_time_ms = self.sim_time_ms.max(sim_time_ms);
    }

    /// Number of steps taken.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Simulation time: the sum of the steps' (nominal) lengths.
    pub fn sim_time_ms(&self) -> u64 {
        self.sim_time_ms
    }

    /// Puts a ship into space at its stored position (undock, login, failover). A ship stored at the origin
    /// (a brand-new one) is placed 50 km from the star, in a direction hashed from its id. The ship starts with
    /// no order; a stored velocity is kept (limited to sub-warp speed) and braked away. Announced in the next
    /// step's `arrived`.
    pub fn add_ship(&mut self, mut ship: Ship) -> Result<(), CommandError> {
        self.check_entry(&ship)?;
        ship.position = if ship.position == Vec3::ZERO {
            let angle = Draws::new(Purpose::Spawn, &[ship.id]).unit();
            on_circle(self.layout.star_position(), SPAWN_DISTANCE_M, angle, 0.0)
        } else {
            command::position(ship.position, "ship.position")?
        };
        if !ship.velocity.is_finite() {
            return Err(CommandError::InvalidArgument("ship.velocity: not finite".into()));
        }
        ship.velocity = limit(ship.velocity, MAX_SPEED_MS);
        self.insert(ship);
        Ok(())
    }

    /// Places a ship that jumped in from `from_system`: 500..1,500 m from this system's gate back there (50 km
    /// from the star if there is none), at rest, with no order. Announced in the next step's `arrived`.
    pub fn arrive(&mut self, mut ship: Ship, from_system: u32) -> Result<(), CommandError> {
        self.check_entry(&ship)?;
        let mut draws = Draws::new(Purpose::Arrival, &[ship.id, ship.handoff_seq]);
        let (anchor, distance) = match self.layout.gate_to(from_system) {
            Some(gate) if inside_system(gate.position) => {
                (gate.position, draws.between(GATE_ARRIVAL_M.0, GATE_ARRIVAL_M.1))
            }
            _ => (self.layout.star_position(), SPAWN_DISTANCE_M),
        };
        ship.position = on_circle(anchor, distance, draws.unit(), 0.0);
        ship.velocity = Vec3::ZERO;
        self.insert(ship);
        Ok(())
    }

    /// Takes a ship out of space (logout, disconnect); reported in the next step's `departed`. Its locks and
    /// modules are dropped (it keeps its type and hit points); locks on it are lost at the end of the next step.
    pub fn remove_ship(&mut self, id: ShipId) -> Option<Ship> {
        let mut slot = self.ships.remove(&id)?;
        if slot.reported.is_some() {
            self.departed.push(id);
        }
        if let Some(combat) = &mut slot.ship.combat {
            combat.leave_system();
        }
        Some(slot.ship)
    }

    /// The ship with this id, if it is in the system (for handoffs, saves and tests).
    pub fn ship(&self, id: ShipId) -> Option<&Ship> {
        self.ships.get(&id).map(|slot| &slot.ship)
    }

    /// All ships, in id order.
    pub fn ships(&self) -> impl Iterator<Item = &Ship> {
        self.ships.values().map(|slot| &slot.ship)
    }

    /// How many ships are in the system: its player count for metrics and load reports.
    pub fn ship_count(&self) -> usize {
        self.ships.len()
    }

    /// Every ship as clients see it, in id order: the ship list of a snapshot.
    pub fn views(&self) -> Vec<ShipView> {
        self.ships().map(ShipView::from).collect()
    }

    /// Applies a command sent by `character_id`: refused with [`CommandError::NotOwner`] unless that character
    /// flies the ship, otherwise as [`SystemSim::apply`].
    pub fn apply_as(&mut self, character_id: u64, ship_id: ShipId, command: Command) -> Result<Outcome, CommandError> {
        match self.ships.get(&ship_id) {
            Some(slot) if slot.ship.character_id != character_id => {
                Err(CommandError::NotOwner { ship: ship_id, character_id })
            }
            _ => self.apply(ship_id, command),
        }
    }

    /// Applies a pilot's command to their ship. Movement orders replace the current one (an alignment can be
    /// cancelled, a warp cannot); a jump removes the ship at once; fight commands change locks and modules. A
    /// refused command changes nothing.
    pub fn apply(&mut self, ship_id: ShipId, command: Command) -> Result<Outcome, CommandError> {
        let Some(slot) = self.ships.get(&ship_id) else {
            return Err(CommandError::UnknownShip(ship_id));
        };
        let (position, warping) = (slot.ship.position, slot.ship.motion() == Motion::Warping);
        let order = match command {
            Command::Chat { text } => {
                let line = ChatLine {
                    character_id: slot.ship.character_id,
                    pilot: slot.ship.pilot.clone(),
                    text: chat_text(&text)?,
                };
                self.chat.push(line);
                return Ok(Outcome::Accepted);
            }
            _ if warping => return Err(CommandError::WarpInProgress(ship_id)),
            Command::Approach(Target::Point(point)) => {
                Order::Approach(Target::Point(command::position(point, "approach.point")?))
            }
            Command::Approach(Target::Object(object)) => {
                self.locate_other(ship_id, object, "approach.object_id")?;
                Order::Approach(Target::Object(object))
            }
            Command::Stop => Order::Idle,
            Command::Orbit { object, radius_m } => {
                let radius_m = orbit_radius(radius_m)?;
                self.locate_other(ship_id, object, "orbit.object_id")?;
                Order::Orbit { target: object, radius_m }
            }
            Command::Lock { target } => return self.lock(ship_id, target),
            Command::Unlock { target } => return self.unlock(ship_id, target),
            Command::Activate { module, target } => return self.activate(ship_id, module, target),
            Command::Deactivate { module } => return self.deactivate(ship_id, module),
            Command::WarpTo { object, range_m } => {
                if slot.ship.combat.as_ref().is_some_and(|c| c.disrupted_until_ms > self.sim_time_ms) {
                    return Err(CommandError::WarpDisrupted(ship_id));
                }
                let range_m = warp_range(range_m)?;
                let travel = position.distance(self.locate_other(ship_id, object, "warp_to.object_id")?) - range_m;
                if travel.is_nan() || travel < MIN_WARP_M {
                    return Err(CommandError::InvalidArgument(format!(
                        "warp_to.object_id: drop-out point {travel:.0} m away, less than {MIN_WARP_M} m; approach instead"
                    )));
                }
                Order::Align { target: object, range_m, elapsed_ms: 0 }
            }
            Command::Jump { gate } => return self.jump(ship_id, position, gate),
        };
        if let Some(slot) = self.ships.get_mut(&ship_id) {
            slot.ship.order = order;
        }
        Ok(Outcome::Accepted)
    }

    /// Advances the system by `dt_ms` of simulation time (the nominal tick length, at most [`MAX_STEP_MS`]) in
    /// sub-steps of at most [`SUB_STEP_MS`], and reports what clients must learn. Increments the tick.
    pub fn step(&mut self, dt_ms: u64) -> TickOutput {
        let dt_ms = dt_ms.min(MAX_STEP_MS);
        let mut left = dt_ms;
        self.tick = self.tick.saturating_add(1);
        while left > 0 {
            let sub = left.min(SUB_STEP_MS);
            self.sub_step(sub);
            self.sim_time_ms = self.sim_time_ms.saturating_add(sub);
            self.fight_sub_step(sub);
            left -= sub;
        }
        self.end_of_step();

        let mut out = TickOutput {
            tick: self.tick,
            sim_time_ms: self.sim_time_ms,
            departed: std::mem::take(&mut self.departed),
            chat: std::mem::take(&mut self.chat),
            kills: std::mem::take(&mut self.kills),
            fight: std::mem::take(&mut self.fight),
            ..TickOutput::default()
        };
        for slot in self.ships.values_mut() {
            let view = ShipView::from(&slot.ship);
            let now = (quantise(view.position), quantise(view.velocity), view.motion);
            match slot.reported.replace(now) {
                None => out.arrived.push(view),
                Some(before) if before != now => out.moved.push(view),
                Some(_) => {}
            }
        }
        out
    }

    /// Moves every ship by one sub-step. Ships being followed are seen where they were at the start of the
    /// sub-step, so the result does not depend on the order ships are updated in.
    fn sub_step(&mut self, dt_ms: u64) {
        self.snapshot.take(&self.ships);
        let (layout, snapshot) = (&self.layout, &self.snapshot);
        let locate = |id: ObjectId| {
            if is_celestial(id) { celestial_position(layout, id) } else { snapshot.get(id).map(|k| k.position) }
        };
        let now = self.sim_time_ms;
        for slot in self.ships.values_mut() {
            // A disrupted ship can align but not enter warp: its attempt ends as it would end.
            let disrupted = slot.ship.combat.as_ref().is_some_and(|c| c.disrupted_until_ms > now);
            if disrupted && matches!(slot.ship.order, Order::Align { .. }) {
                slot.ship.order = Order::Idle;
            }
            fly(&mut slot.ship, dt_ms, &locate);
        }
    }

    /// Where an object other than the commanding ship is, or why it cannot be a target.
    pub(crate) fn locate_other(&self, ship_id: ShipId, object: ObjectId, field: &str) -> Result<Vec3, CommandError> {
        if object == ship_id {
            return Err(CommandError::InvalidArgument(format!("{field}: the ship itself")));
        }
        let position = if is_celestial(object) {
            celestial_position(&self.layout, object)
        } else {
            self.ships.get(&object).map(|slot| slot.ship.position)
        };
        position.ok_or(CommandError::NotInSystem(object))
    }

    fn jump(&mut self, ship_id: ShipId, position: Vec3, gate: ObjectId) -> Result<Outcome, CommandError> {
        let Some(celestial) = self.layout.celestial(gate) else {
            let is_ship = self.ships.contains_key(&gate);
            return Err(if is_ship { CommandError::NotAGate(gate) } else { CommandError::NotInSystem(gate) });
        };
        let (CelestialKind::Stargate, Some(destination_system)) = (celestial.kind, celestial.destination) else {
            return Err(CommandError::NotAGate(gate));
        };
        let distance_m = position.distance(celestial.position);
        if distance_m.is_nan() || distance_m > JUMP_RANGE_M {
            return Err(CommandError::OutOfRange { gate, distance_m, max_m: JUMP_RANGE_M });
        }
        let Some(mut ship) = self.remove_ship(ship_id) else {
            return Err(CommandError::UnknownShip(ship_id));
        };
        ship.handoff_seq = ship.handoff_seq.saturating_add(1);
        ship.velocity = Vec3::ZERO;
        ship.order = Order::Idle;
        Ok(Outcome::JumpedOut { ship: Box::new(ship), destination_system })
    }

    /// Refuses a ship that cannot enter: an id in the celestial range, or one already here.
    fn check_entry(&self, ship: &Ship) -> Result<(), CommandError> {
        if ship.id & CELESTIAL_BIT != 0 {
            return Err(CommandError::InvalidArgument(format!(
                "ship.id: {} has bit 63 set, which marks celestial ids",
                ship.id
            )));
        }
        if self.ships.contains_key(&ship.id) {
            return Err(CommandError::DuplicateShip(ship.id));
        }
        Ok(())
    }

    /// Adds a checked ship with no order. If it left since the last step, it is now simply announced again.
    fn insert(&mut self, mut ship: Ship) {
        ship.order = Order::Idle;
        if let Some(combat) = &mut ship.combat {
            combat.leave_system();
        }
        self.departed.retain(|&id| id != ship.id);
        self.ships.insert(ship.id, Slot { ship, reported: None });
    }
}

/// A celestial's position, if it is in the layout and inside the system (a hand-made layout could hold a
/// position no ship can fly to).
fn celestial_position(layout: &SystemLayout, id: ObjectId) -> Option<Vec3> {
    layout.celestial(id).map(|c| c.position).filter(|&p| inside_system(p))
}
