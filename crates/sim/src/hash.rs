//! Deterministic "randomness": everything the scenery and placements need is drawn from a splitmix64 stream
//! seeded by ids, so the same system always looks the same on every node and every run.

/// The splitmix64 increment (the golden ratio in 64-bit fixed point).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a bijective mix in which every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a stream is for; streams for different purposes from the same ids are unrelated.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    Planets = 1,
    Gate = 2,
    Spawn = 3,
    Arrival = 4,
    Turret = 5,
}

/// A splitmix64 stream keyed by a purpose and some ids.
#[derive(Debug, Clone)]
pub(crate) struct Draws {
    state: u64,
}

impl Draws {
    pub(crate) fn new(purpose: Purpose, keys: &[u64]) -> Self {
        let state = keys.iter().fold(mix(purpose as u64 ^ GOLDEN_GAMMA), |state, &key| mix(state ^ mix(key)));
        Draws { state }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A number in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in [low, high).
    pub(crate) fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// An integer in 0..n (n > 0; the modulo bias is negligible for the small n used here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_keyed() {
        let mut draws = Draws::new(Purpose::Gate, &[1, 2]);
        let a: Vec<u64> = (0..4).map(|_| draws.next_u64()).collect();
        let mut again = Draws::new(Purpose::Gate, &[1, 2]);
        assert_eq!(a, (0..4).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_ne!(a[0], Draws::new(Purpose::Gate, &[2, 1]).next_u64());
        assert_ne!(a[0], Draws::new(Purpose::Spawn, &[1, 2]).next_u64());
        let mut d = Draws::new(Purpose::Planets, &[9]);
        for _ in 0..1000 {
            let x = d.between(0.3, 40.0);
            assert!((0.3..40.0).contains(&x));
            assert!(d.below(12) < 12);
        }
    }
}
