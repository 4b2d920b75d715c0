//! Positions in space. Coordinates are in metres, in the universe frame of the EVE static data: the galactic
//! plane is x/z, y points "up".

use std::ops::{Add, Mul, Sub};

/// One light year in metres; the unit operators think in when they judge how far apart a node's systems are.
pub const LIGHT_YEAR_M: f64 = 9.460_730_472_580_8e15;

/// A point or direction in space, in metres.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Vec3 {
    /// In the galactic plane.
    pub x: f64,
    /// Out of the galactic plane ("up"); small next to x and z for the EVE map.
    pub y: f64,
    /// In the galactic plane, across x.
    pub z: f64,
}

impl Vec3 {
    /// The origin, and the null velocity: where a sum of positions starts.
    pub const ZERO: Vec3 = Vec3 { x: 0.0, y: 0.0, z: 0.0 };

    /// A point from its three components, in metres; `const` so fixed positions can be constants.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Vec3 { x, y, z }
    }

    /// The component along axis 0 (x), 1 (y) or 2 (z); any other axis reads as z.
    pub fn axis(self, axis: usize) -> f64 {
        match axis {
            0 => self.x,
            1 => self.y,
            _ => self.z,
        }
    }

    /// The Euclidean length: a distance for an offset, a speed for a velocity.
    pub fn length(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// How far apart two points are, in metres (for jump lengths, a region's spread, arrival checks).
    pub fn distance(self, other: Vec3) -> f64 {
        (self - other).length()
    }

    /// The dot product; `d.dot(d)` is a squared distance, cheaper than [`Vec3::distance`] when only comparing.
    pub fn dot(self, other: Vec3) -> f64 {
        self.x * other.x + self.y * other.y + self.z * other.z
    }

    /// True when every component is a finite number.
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, k: f64) -> Vec3 {
        Vec3::new(self.x * k, self.y * k, self.z * k)
    }
}
