//! The fleet-fight benchmark behind `orrery bench fight`: one solar system in process, two fleets of N/2 ships
//! each, every ship orbiting and locking the nearest enemy and shooting it with every module, missiles in flight
//! (with `--missiles`), pilots re-shipping when their pod dies. It measures what a sol node would spend on that
//! system per tick — applying the tick's commands and [`SystemSim::step`] — and the Time Dilation factor that
//! work would earn under [`orrery_sim::tidi`] (1 s nominal tick, 80% budget, floor 0.1).
//!
//! The pilots' own decisions (choosing targets with the system's spatial grid, reacting to locks and kills) are
//! the bots' work, not the node's, and are not timed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use orrery_sim::tidi::{TidiConfig, TidiController};
use orrery_sim::{
    Command, FightEvent, ShipClass, ShipId, ShipType, ShipTypes, SystemLayout, SystemSim, TickOutput, Vec3,
};
use serde::Serialize;

/// The nominal tick of the fight's system.
const TICK_MS: u64 = 1_000;
/// Where the fight happens: far from the star and any planet.
const CENTRE: Vec3 = Vec3 { x: 2.0e9, y: 0.0, z: 0.0 };
/// Distance between the fleets' centres at the start, metres.
const FLEET_GAP_M: f64 = 20_000.0;
/// Spacing between ships in a fleet's starting disc, metres.
const SPACING_M: f64 = 200.0;
/// How far a pilot looks for an enemy first (the grid answers this from a few cells); farther only if none.
const NEAR_SEARCH_M: f64 = 25_000.0;
/// Locks a pilot keeps (fewer if the type holds fewer): spares to switch to when the target dies.
const LOCKS_KEPT: usize = 3;

/// `orrery bench fight`.
#[derive(Debug, Clone, clap::Args)]
pub struct FightArgs {
    /// Ships in the system, both fleets together; several sizes separated by commas run one after another.
    #[arg(long, value_name = "N", value_delimiter = ',', default_value = "1000")]
    pub ships: Vec<usize>,
    /// Fly missile boats too (Merlin, Caracal, Raven beside the gun hulls), so missiles are in flight.
    #[arg(long)]
    pub missiles: bool,
    /// Ticks measured per size, after the warm-up.
    #[arg(long, value_name = "T", default_value_t = 30)]
    pub ticks: u32,
    /// Ticks run before measuring: locks complete and every weapon is cycling by then.
    #[arg(long, value_name = "T", default_value_t = 10)]
    pub warmup: u32,
    /// Print the results as JSON (one array of sizes) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The figures of one fleet size.
#[derive(Debug, Clone, Serialize)]
pub struct FightReport {
    /// Ships in the system.
    pub ships: usize,
    /// Whether missile boats flew.
    pub missiles: bool,
    /// Ticks measured.
    pub ticks: u32,
    /// Work per tick (commands applied plus the step), milliseconds of this thread's CPU time (the machine may be
    /// shared, so wall time would measure the scheduler too): median, 99th percentile, maximum.
    pub work_p50_ms: f64,
    /// See `work_p50_ms`.
    pub work_p99_ms: f64,
    /// See `work_p50_ms`.
    pub work_max_ms: f64,
    /// Of the median tick's work, the part spent applying commands, milliseconds (median over ticks).
    pub apply_p50_ms: f64,
    /// Median wall-clock time of the same ticks, milliseconds (≥ the CPU time; more on a busy machine).
    pub wall_p50_ms: f64,
    /// The Time Dilation factor the node's controller settles on for that work (1.0 = full speed).
    pub tidi_factor: f64,
    /// Mean per measured tick: fight events (shots, hits, launches, …).
    pub events_per_tick: f64,
    /// Mean per measured tick: missiles in flight at the end of the tick.
    pub missiles_in_flight: f64,
    /// Mean per measured tick: commands applied.
    pub commands_per_tick: f64,
    /// Ships destroyed (pods included) during the measured ticks.
    pub kills: usize,
    /// Mean per measured tick: ships with at least one module active (pods cannot shoot).
    pub shooting: f64,
}

/// Runs the benchmark for every size asked for and prints the results.
pub fn run(args: &FightArgs) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for &ships in &args.ships {
        let report = measure(ships, args.missiles, args.warmup, args.ticks)?;
        if !args.json {
            print_row(&report, reports.is_empty());
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}

fn print_row(r: &FightReport, header: bool) {
    if header {
        println!(
            "{:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>10} {:>9} {:>9} {:>6} {:>8}",
            "ships",
            "missiles",
            "p50 ms",
            "p99 ms",
            "max ms",
            "apply ms",
            "wall p50",
            "factor",
            "events/t",
            "in flight",
            "cmds/t",
            "kills",
            "shooting"
        );
    }
    println!(
        "{:>7} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7.2} {:>10.0} {:>9.0} {:>9.0} {:>6} {:>8.0}",
        r.ships,
        r.missiles,
        r.work_p50_ms,
        r.work_p99_ms,
        r.work_max_ms,
        r.apply_p50_ms,
        r.wall_p50_ms,
        r.tidi_factor,
        r.events_per_tick,
        r.missiles_in_flight,
        r.commands_per_tick,
        r.kills,
        r.shooting
    );
}

/// The pilots of both fleets: what each is fighting and what it must do next.
struct Pilots {
    ships: usize,
    hulls: Vec<ShipType>,
    /// Ships whose pilot must act before the next tick: find targets, top up locks, switch modules to a ready
    /// lock. Every ship starts here; locks gained or lost and kills put ships back.
    attention: BTreeSet<ShipId>,
    /// Pilots whose pod died: they come back in a new ship.
    reship: Vec<ShipId>,
}

impl Pilots {
    fn fleet(&self, id: ShipId) -> usize {
        usize::from(id > (self.ships / 2) as u64)
    }

    /// A new ship for pilot `id` at its fleet's side: hulls in turn, placed on a golden-angle spiral.
    fn ship(&self, id: ShipId) -> orrery_sim::Ship {
        let hull = self.hulls[(id as usize) % self.hulls.len()].clone();
        let index = (id as usize - 1) % (self.ships / 2).max(1);
        let radius = SPACING_M * (index as f64).sqrt();
        let angle = index as f64 * 2.399_963_229_728_653;
        let side = if self.fleet(id) == 0 { -0.5 } else { 0.5 };
        let at = CENTRE
            + Vec3::new(
                side * FLEET_GAP_M + radius * angle.cos(),
                ((index % 7) as f64 - 3.0) * 50.0,
                radius * angle.sin(),
            );
        orrery_sim::Ship::new(id, id, format!("Pilot {id}"), at, Vec3::ZERO, 0).with_type(hull)
    }

    /// A point of `fleet`'s starting disc, drawn from `seed`.
    fn random_point(&self, fleet: usize, seed: u64) -> Vec3 {
        let draw =
            |k: u64| (seed.wrapping_add(k).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
        let radius = SPACING_M * ((self.ships / 2) as f64).sqrt() * draw(1).sqrt();
        let angle = draw(2) * std::f64::consts::TAU;
        let side = if fleet == 0 { -0.5 } else { 0.5 };
        CENTRE + Vec3::new(side * FLEET_GAP_M + radius * angle.cos(), 0.0, radius * angle.sin())
    }

    /// The commands of the coming tick. A pilot keeps up to [`LOCKS_KEPT`] locks on enemies near it (pods are
    /// left alone), orbits the first, and shoots one ready lock with every module; when that target dies the
    /// modules move to another ready lock at once instead of waiting for a new lock.
    fn commands(&mut self, sim: &SystemSim, out: &mut Vec<(ShipId, Command)>) {
        let grid = sim.grid();
        let now = sim.sim_time_ms();
        let mut still = BTreeSet::new();
        let mut chosen: Vec<ShipId> = Vec::new();
        for &id in &self.attention {
            let Some(ship) = sim.ship(id) else { continue };
            let Some(combat) = &ship.combat else { continue };
            if combat.ship_type.max_locks == 0 {
                continue; // a pod: it just flies
            }
            let shooting = combat.modules.iter().any(|m| m.target.is_some());
            if !shooting && let Some(lock) = combat.locks.iter().find(|l| l.ready_ms <= now) {
                for module in 0..combat.modules.len() {
                    out.push((id, Command::Activate { module: module as u8, target: lock.target }));
                }
            }
            let wanted = LOCKS_KEPT.min(usize::from(combat.ship_type.max_locks));
            chosen.clear();
            chosen.extend(combat.locks.iter().map(|l| l.target));
            let fleet = self.fleet(id);
            let range = combat.ship_type.lock_range_m;
            let candidate = |other: ShipId, at: Vec3, chosen: &[ShipId]| {
                self.fleet(other) != fleet
                    && at.distance(ship.position) <= range
                    && !chosen.contains(&other)
                    && sim
                        .ship(other)
                        .and_then(|o| o.combat.as_ref())
                        .is_some_and(|c| c.ship_type.class != ShipClass::Capsule)
            };
            while chosen.len() < wanted {
                // Not everyone on the nearest enemy: pilots pick around a random point of the enemy fleet (within
                // their lock range), so fire spreads over the whole fleet as a fleet's called targets do.
                let turn = id.wrapping_add(now.wrapping_mul(31)).wrapping_add(chosen.len() as u64);
                let seek = self.random_point(1 - fleet, turn);
                let target =
                    [(seek, NEAR_SEARCH_M / 8.0), (seek, NEAR_SEARCH_M), (ship.position, range)].into_iter().find_map(
                        |(centre, radius)| grid.nearest(centre, radius, |other, at| candidate(other, at, &chosen)),
                    );
                let Some(target) = target else { break };
                if chosen.is_empty() {
                    let radius_m = match combat.ship_type.class {
                        ShipClass::Frigate => 1_500.0,
                        ShipClass::Cruiser => 5_000.0,
                        ShipClass::Battleship | ShipClass::Capsule => 12_000.0,
                    };
                    out.push((id, Command::Orbit { object: target, radius_m }));
                }
                out.push((id, Command::Lock { target }));
                chosen.push(target);
            }
            if chosen.is_empty() {
                // Nobody in range: close in on the enemy fleet and look again next tick.
                if ship.motion() == orrery_sim::Motion::Idle {
                    let side = if fleet == 0 { 0.5 } else { -0.5 };
                    let point = CENTRE + Vec3::new(side * FLEET_GAP_M, 0.0, 0.0);
                    out.push((id, Command::Approach(orrery_sim::Target::Point(point))));
                }
                still.insert(id);
            }
        }
        self.attention = still;
    }

    /// Learns from a step what pilots must react to.
    fn observe(&mut self, out: &TickOutput) {
        for event in &out.fight {
            if let FightEvent::Locked { ship, .. } | FightEvent::LockLost { ship, .. } = *event {
                self.attention.insert(ship);
            }
        }
        for kill in &out.kills {
            if kill.class == ShipClass::Capsule {
                self.reship.push(kill.victim);
            }
            self.attention.insert(kill.victim);
        }
    }
}

/// Runs one fleet size: sets the fight up, warms up, measures.
pub fn measure(ships: usize, missiles: bool, warmup: u32, ticks: u32) -> anyhow::Result<FightReport> {
    anyhow::ensure!(ships >= 2, "--ships {ships}: a fight needs at least 2 ships");
    let types = ShipTypes::builtin().context("reading the built-in data/ship-types.csv")?;
    let names: &[&str] = if missiles {
        &["Rifter", "Merlin", "Rupture", "Caracal", "Tempest", "Raven"]
    } else {
        &["Rifter", "Rupture", "Tempest"]
    };
    let hulls = names
        .iter()
        .map(|name| types.by_name(name).cloned().with_context(|| format!("data/ship-types.csv has no {name}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig {
        systems: 10,
        ..orrery_universe::GeneratorConfig::default()
    });
    let mut sim = SystemSim::new(SystemLayout::generate(&universe, 0)?);
    sim.set_capsule(types.capsule().cloned().context("data/ship-types.csv has no capsule")?);
    let mut pilots = Pilots { ships, hulls, attention: BTreeSet::new(), reship: Vec::new() };
    for id in 1..=ships as ShipId {
        sim.add_ship(pilots.ship(id)).map_err(|e| anyhow::anyhow!("placing ship {id}: {e}"))?;
        pilots.attention.insert(id);
    }
    // The first step announces the ships and builds the grid the pilots search.
    sim.step(TICK_MS);

    let mut tidi = TidiController::new(TidiConfig::default())?;
    let system = sim.layout().system_id;
    let (mut work, mut apply, mut walls) = (Vec::new(), Vec::new(), Vec::new());
    let (mut events, mut in_flight, mut commands_total, mut kills, mut shooting) = (0, 0, 0, 0, 0);
    let (mut commands, mut refused) = (Vec::new(), Vec::new());
    for tick in 0..warmup + ticks {
        for id in std::mem::take(&mut pilots.reship) {
            // Back from the home station in a new ship (the runtime's respawn; not the system's tick work).
            if sim.add_ship(pilots.ship(id)).is_ok() {
                pilots.attention.insert(id);
            }
        }
        commands.clear();
        pilots.commands(&sim, &mut commands);
        let count = commands.len();
        let (started, cpu_started) = (Instant::now(), thread_cpu_time());
        for (ship, command) in commands.drain(..) {
            // Refusals (a target that died this tick, a lock already held) are part of a real fight; a pilot whose
            // lock was refused looks for another target.
            let locking = matches!(command, Command::Lock { .. });
            if sim.apply(ship, command).is_err() && locking {
                refused.push(ship);
            }
        }
        let applied = thread_cpu_time().saturating_sub(cpu_started);
        pilots.attention.extend(refused.drain(..));
        let out = sim.step(TICK_MS);
        let (elapsed, wall) = (thread_cpu_time().saturating_sub(cpu_started), started.elapsed());
        pilots.observe(&out);
        if tick >= warmup {
            work.push(elapsed);
            walls.push(wall);
            apply.push(applied);
            tidi.observe(system, elapsed.as_secs_f64(), TICK_MS as f64 / 1000.0);
            tidi.update();
            events += out.fight.len();
            in_flight += sim.missiles().len();
            commands_total += count;
            kills += out.kills.len();
            shooting += sim
                .ships()
                .filter(|s| s.combat.as_ref().is_some_and(|c| c.modules.iter().any(|m| m.target.is_some())))
                .count();
        }
    }
    let measured = f64::from(ticks.max(1));
    Ok(FightReport {
        ships,
        missiles,
        ticks,
        work_p50_ms: percentile_ms(&mut work, 0.50),
        work_p99_ms: percentile_ms(&mut work, 0.99),
        work_max_ms: percentile_ms(&mut work, 1.0),
        apply_p50_ms: percentile_ms(&mut apply, 0.50),
        wall_p50_ms: percentile_ms(&mut walls, 0.50),
        tidi_factor: tidi.factor(system),
        events_per_tick: events as f64 / measured,
        missiles_in_flight: in_flight as f64 / measured,
        commands_per_tick: commands_total as f64 / measured,
        kills,
        shooting: shooting as f64 / measured,
    })
}

/// The CPU time this thread has used. The benchmark machine is shared (other builds run beside it), so wall time
/// measures the scheduler as much as the tick; the thread's own CPU time is what "work on one core" means.
// The workspace denies `unsafe_code`; this one call is allowed because the standard library has no per-thread CPU
// clock (the market benchmark has the same few lines; neither library crate has unsafe code).
#[expect(unsafe_code, reason = "clock_gettime(CLOCK_THREAD_CPUTIME_ID) has no safe equivalent in std")]
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives for the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec.unsigned_abs(), now.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// The `q` quantile (0..=1, nearest rank) of `samples`, in milliseconds; 0 for none.
fn percentile_ms(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_fight_runs_and_every_ship_fights() {
        let report = measure(40, true, 8, 20).expect("a small fight");
        assert_eq!((report.ships, report.ticks), (40, 20));
        assert!(report.events_per_tick > 10.0, "{report:?}");
        assert!(report.missiles_in_flight > 0.0, "{report:?}");
        assert!(report.work_p50_ms <= report.work_p99_ms && report.work_p99_ms <= report.work_max_ms);
        assert!((0.1..=1.0).contains(&report.tidi_factor));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&mut samples, 0.5), 50.0);
        assert_eq!(percentile_ms(&mut samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&mut samples, 1.0), 100.0);
        assert_eq!(percentile_ms(&mut [], 0.5), 0.0);
    }

    #[test]
    fn too_few_ships_is_an_error() {
        assert!(measure(1, false, 1, 1).is_err());
    }
}
