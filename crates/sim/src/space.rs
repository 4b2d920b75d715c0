//! Positions and units inside a solar system. Coordinates are metres from the system's star, in the universe's
//! axes (x/z is the galactic plane, y points up).

pub use orrery_universe::Vec3;

/// One astronomical unit in metres: the scale of orbits and gate distances.
pub const AU_M: f64 = 149_597_870_700.0;

/// How far from the star a ship or an approach point may be (about 670 AU, far beyond any celestial). Keeping
/// every position inside it means no arithmetic in the sim can overflow.
pub const SYSTEM_RADIUS_M: f64 = 1.0e14;

/// A position or velocity rounded to whole metres (or metres per second), as clients receive it. The sim
/// reports a ship as moved exactly when this changes, so the runtime should quantise with this function too.
/// Values beyond the range of `i64` saturate, NaN becomes 0.
pub fn quantise(v: Vec3) -> [i64; 3] {
    [v.x.round() as i64, v.y.round() as i64, v.z.round() as i64]
}

/// The unit vector along `v`, or `None` for a zero or non-finite vector.
pub(crate) fn direction(v: Vec3) -> Option<Vec3> {
    let length = v.length();
    (length > 0.0 && length.is_finite()).then(|| v * (1.0 / length))
}

/// `v` shortened to at most `max` long.
pub(crate) fn limit(v: Vec3, max: f64) -> Vec3 {
    let length = v.length();
    if length <= max { v } else { v * (max / length) }
}

/// True for finite positions no farther than [`SYSTEM_RADIUS_M`] from the star.
pub(crate) fn inside_system(p: Vec3) -> bool {
    p.is_finite() && p.length() <= SYSTEM_RADIUS_M
}

/// A point `distance` from `centre` in a direction drawn from `angle_unit` ∈ [0, 1) in the x/z plane, lifted by
/// `lift` (a fraction of `distance`) along y.
pub(crate) fn on_circle(centre: Vec3, distance: f64, angle_unit: f64, lift: f64) -> Vec3 {
    let angle = angle_unit * std::f64::consts::TAU;
    centre + Vec3::new(angle.cos(), lift, angle.sin()) * distance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantise_rounds_and_never_panics() {
        assert_eq!(quantise(Vec3::new(1.4, -1.6, 2.5)), [1, -2, 3]);
        assert_eq!(quantise(Vec3::new(f64::NAN, f64::INFINITY, -1e300)), [0, i64::MAX, i64::MIN]);
    }

    #[test]
    fn direction_and_limit() {
        assert_eq!(direction(Vec3::new(0.0, 3.0, 0.0)), Some(Vec3::new(0.0, 1.0, 0.0)));
        assert_eq!(direction(Vec3::ZERO), None);
        assert_eq!(direction(Vec3::new(f64::NAN, 0.0, 0.0)), None);
        assert_eq!(limit(Vec3::new(0.0, 0.0, 10.0), 4.0), Vec3::new(0.0, 0.0, 4.0));
        assert_eq!(limit(Vec3::new(0.0, 0.0, 1.0), 4.0), Vec3::new(0.0, 0.0, 1.0));
    }
}
