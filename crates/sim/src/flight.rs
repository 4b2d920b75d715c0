//! How ships move: sub-warp flight (accelerate towards a desired velocity, brake in time to stop at the target)
//! and warp (a one-dimensional speed profile along a straight line, integrated in closed form).
//!
//! Sub-warp flight is integrated by the system in sub-steps of at most [`SUB_STEP_MS`], so a 1 s tick and ten
//! 100 ms ticks give the same path. Warp and alignment count whole milliseconds and evaluate their profile
//! exactly, so they do not depend on the step size at all.

use crate::command::Target;
use crate::ids::ObjectId;
use crate::ship::{Order, Ship};
use crate::space::{AU_M, Vec3, direction, limit};

/// Top sub-warp speed, m/s.
pub const MAX_SPEED_MS: f64 = 300.0;
/// Sub-warp acceleration (and braking), m/s².
pub const ACCELERATION_MS2: f64 = 30.0;
/// The longest stretch of simulation time integrated in one go.
pub const SUB_STEP_MS: u64 = 100;
/// How long a ship aligns before it enters warp.
pub const ALIGN_MS: u64 = 4_000;
/// Top warp speed: 3 AU/s.
pub const WARP_SPEED_MS: f64 = 3.0 * AU_M;
/// The drop-out distance used when a warp command gives 0.
pub const DEFAULT_WARP_RANGE_M: f64 = 1_000.0;
/// Shortest warp accepted: anything nearer is approached instead (as in EVE).
pub const MIN_WARP_M: f64 = 150_000.0;
/// An approach to a point ends within this distance of it.
pub const POINT_ARRIVAL_M: f64 = 50.0;
/// An approach to an object (ship or celestial) ends within this distance of it.
pub const OBJECT_ARRIVAL_M: f64 = 500.0;

/// Warp speed grows with the distance travelled and falls with the distance left at this rate (1/s): speed is
/// `min(WARP_SPEED, rate·travelled + ENTRY, rate·remaining + EXIT)`. 5/s makes a 30 AU warp take about 18 s.
const WARP_RATE: f64 = 5.0;
const WARP_ENTRY_MS: f64 = MAX_SPEED_MS;
const WARP_EXIT_MS: f64 = 100.0;
/// A warp shorter than this (only possible when a followed ship came close during alignment) is not flown.
const SHORTEST_WARP_M: f64 = 1_000.0;

/// A warp in progress: a straight line from `origin` to `landing`, flown along the speed profile of
/// [`WARP_RATE`]. Accelerates exponentially, cruises at the peak, decelerates exponentially.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct WarpPath {
    origin: Vec3,
    heading: Vec3,
    landing: Vec3,
    distance: f64,
    peak: f64,
    accel_s: f64,
    cruise_s: f64,
    decel_s: f64,
    elapsed_ms: u64,
}

impl WarpPath {
    /// The path from `origin` to `landing`, or `None` if they are too close for a warp.
    pub(crate) fn new(origin: Vec3, landing: Vec3) -> Option<WarpPath> {
        let offset = landing - origin;
        let distance = offset.length();
        let heading = direction(offset)?;
        if distance < SHORTEST_WARP_M {
            return None;
        }
        // Where acceleration and deceleration curves meet, unless the top speed is reached first.
        let peak = WARP_SPEED_MS.min((WARP_RATE * distance + WARP_ENTRY_MS + WARP_EXIT_MS) / 2.0);
        let accel_m = (peak - WARP_ENTRY_MS) / WARP_RATE;
        let decel_m = (peak - WARP_EXIT_MS) / WARP_RATE;
        Some(WarpPath {
            origin,
            heading,
            landing,
            distance,
            peak,
            accel_s: (peak / WARP_ENTRY_MS).ln() / WARP_RATE,
            cruise_s: (distance - accel_m - decel_m).max(0.0) / peak,
            decel_s: (peak / WARP_EXIT_MS).ln() / WARP_RATE,
            elapsed_ms: 0,
        })
    }

    /// Whole milliseconds from warp start to drop-out.
    fn duration_ms(&self) -> u64 {
        ((self.accel_s + self.cruise_s + self.decel_s) * 1000.0).ceil() as u64
    }

    /// Distance travelled and speed `t` seconds after warp start.
    fn at(&self, t: f64) -> (f64, f64) {
        let (a, b, k) = (WARP_ENTRY_MS, WARP_EXIT_MS, WARP_RATE);
        if t < self.accel_s {
            let v = a * (k * t).exp();
            ((v - a) / k, v)
        } else if t < self.accel_s + self.cruise_s {
            ((self.peak - a) / k + self.peak * (t - self.accel_s), self.peak)
        } else if t < self.accel_s + self.cruise_s + self.decel_s {
            let v = self.peak * (-k * (t - self.accel_s - self.cruise_s)).exp();
            (self.distance - (v - b) / k, v)
        } else {
            (self.distance, 0.0)
        }
    }
}

/// Flies `ship` for `dt_ms` (at most one sub-step) under its order. `locate` gives the position of an object
/// of the system (ship positions as of the start of the sub-step), `None` if it is not there (any more).
pub(crate) fn fly(ship: &mut Ship, mut dt_ms: u64, locate: &impl Fn(ObjectId) -> Option<Vec3>) {
    // Each pass either consumes time or changes the order to one that will, so the loop ends.
    while dt_ms > 0 {
        let used = match ship.order {
            Order::Idle => {
                accelerate(ship, Vec3::ZERO, dt_ms);
                dt_ms
            }
            Order::Approach(target) => {
                let (point, radius) = match target {
                    Target::Point(p) => (Some(p), POINT_ARRIVAL_M),
                    Target::Object(id) => (locate(id), OBJECT_ARRIVAL_M),
                };
                match point {
                    Some(point) => {
                        approach(ship, point, radius, dt_ms);
                        dt_ms
                    }
                    // The target left: brake for the rest of the stretch.
                    None => {
                        ship.order = Order::Idle;
                        0
                    }
                }
            }
            Order::Orbit { target, radius_m } => {
                match locate(target) {
                    Some(centre) => orbit(ship, centre, radius_m, dt_ms),
                    None => ship.order = Order::Idle,
                }
                dt_ms
            }
            Order::Align { target, range_m, elapsed_ms } => {
                let Some(point) = locate(target) else {
                    ship.order = Order::Idle;
                    continue;
                };
                let used = dt_ms.min(ALIGN_MS.saturating_sub(elapsed_ms));
                let desired = direction(point - ship.position).map_or(Vec3::ZERO, |d| d * ship.limits().0);
                accelerate(ship, desired, used);
                let elapsed_ms = elapsed_ms + used;
                ship.order = if elapsed_ms < ALIGN_MS {
                    Order::Align { target, range_m, elapsed_ms }
                } else {
                    // The landing point lies `range_m` short of the target on the line from the warp start.
                    let landing = direction(point - ship.position).map(|d| point - d * range_m);
                    match landing.and_then(|landing| WarpPath::new(ship.position, landing)) {
                        Some(path) => Order::Warp(path),
                        None => Order::Idle,
                    }
                };
                used
            }
            Order::Warp(mut path) => {
                let used = dt_ms.min(path.duration_ms().saturating_sub(path.elapsed_ms));
                path.elapsed_ms += used;
                if path.elapsed_ms >= path.duration_ms() {
                    ship.position = path.landing;
                    ship.velocity = Vec3::ZERO;
                    ship.order = Order::Idle;
                } else {
                    let (travelled, speed) = path.at(path.elapsed_ms as f64 / 1000.0);
                    ship.position = path.origin + path.heading * travelled;
                    ship.velocity = path.heading * speed;
                    ship.order = Order::Warp(path);
                }
                used
            }
        };
        dt_ms -= used;
    }
}

/// Moves the velocity towards `desired` by at most the acceleration allows, and the position by the mean of the
/// old and new velocity — exact for the constant acceleration of the stretch, so the split of time into steps
/// matters only where the desired velocity changes.
fn accelerate(ship: &mut Ship, desired: Vec3, dt_ms: u64) {
    let dt = dt_ms as f64 / 1000.0;
    let before = ship.velocity;
    ship.velocity = before + limit(desired - before, ship.limits().1 * dt);
    ship.position = ship.position + (before + ship.velocity) * (dt / 2.0);
}

/// One stretch of an approach: full speed, then braking so as to stop halfway into the arrival radius; inside the
/// radius and slow enough, the ship stops and the order ends.
fn approach(ship: &mut Ship, point: Vec3, radius: f64, dt_ms: u64) {
    let offset = point - ship.position;
    let braking_room = (offset.length() - radius / 2.0).max(0.0);
    let (max_speed, acceleration) = ship.limits();
    let speed = max_speed.min((2.0 * acceleration * braking_room).sqrt());
    accelerate(ship, direction(offset).map_or(Vec3::ZERO, |d| d * speed), dt_ms);
    // Inside the arrival distance and no faster than one sub-step of braking: arrived.
    let arrival_speed = acceleration * (SUB_STEP_MS as f64 / 1000.0);
    if ship.position.distance(point) <= radius && ship.velocity.length() <= arrival_speed {
        ship.velocity = Vec3::ZERO;
        ship.order = Order::Idle;
    }
}

/// One stretch of an orbit: full speed around `centre` at `radius_m`, heading along the horizontal (x/z-plane)
/// tangent and steering in or out in proportion to how far off the circle the ship is. Never ends on its own.
fn orbit(ship: &mut Ship, centre: Vec3, radius_m: f64, dt_ms: u64) {
    let offset = ship.position - centre;
    let Some(outward) = direction(offset) else {
        // Exactly at the centre: any way out will do.
        accelerate(ship, Vec3::new(ship.limits().0, 0.0, 0.0), dt_ms);
        return;
    };
    // Tangent in the x/z plane; straight up or down from the centre, move out along x first.
    let tangent = direction(Vec3::new(-outward.z, 0.0, outward.x)).unwrap_or(Vec3::new(1.0, 0.0, 0.0));
    let error = ((offset.length() - radius_m) / radius_m.max(1.0)).clamp(-1.0, 1.0);
    let heading = direction(tangent - outward * (2.0 * error)).unwrap_or(tangent);
    accelerate(ship, heading * ship.limits().0, dt_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_profile_is_continuous_and_ends_at_the_landing() {
        for distance in [2_000.0, MIN_WARP_M, 1.0e9, 30.0 * AU_M] {
            let path = WarpPath::new(Vec3::ZERO, Vec3::new(distance, 0.0, 0.0)).expect("long enough");
            let end = path.accel_s + path.cruise_s + path.decel_s;
            for t in [path.accel_s, path.accel_s + path.cruise_s] {
                let (before, after) = (path.at(t - 1e-9), path.at(t + 1e-9));
                assert!((before.0 - after.0).abs() <= 1e-6 * distance.max(1.0), "{distance}: {before:?} {after:?}");
                assert!((before.1 - after.1).abs() <= 1e-6 * path.peak);
            }
            let near_end = path.at(end - 1e-9);
            assert!((near_end.0 - distance).abs() < 1e-3 * distance.max(1.0));
            assert!(near_end.1 <= WARP_EXIT_MS + 1.0);
            assert_eq!(path.at(end + 1.0), (distance, 0.0));
            assert!(path.peak <= WARP_SPEED_MS);
        }
        assert!(WarpPath::new(Vec3::ZERO, Vec3::new(10.0, 0.0, 0.0)).is_none());
    }

    #[test]
    fn a_thirty_au_warp_takes_under_twenty_seconds() {
        let path = WarpPath::new(Vec3::ZERO, Vec3::new(30.0 * AU_M, 0.0, 0.0)).expect("long enough");
        let ms = path.duration_ms();
        assert!((10_000..20_000).contains(&ms), "{ms} ms");
    }
}
