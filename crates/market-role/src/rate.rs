//! A token bucket per character, so that one character flooding the market with orders is refused
//! ([`crate::SubmitError::RateLimited`]) instead of slowing everyone. Time is passed in (milliseconds), so the
//! limiter is deterministic and tested without a clock.

use std::collections::HashMap;

/// Per-character token buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// Operations a second a character may sustain; 0 means no limit.
    per_second: u64,
    /// How many a character may send at once.
    burst: u64,
    /// Per character: (tokens in thousandths, last refill in ms).
    buckets: HashMap<u64, (u64, u64)>,
}

impl RateLimiter {
    /// A limit of `per_second` sustained and `burst` at once.
    pub fn new(per_second: u64, burst: u64) -> Self {
        RateLimiter { per_second, burst: burst.max(1), buckets: HashMap::new() }
    }

    /// No limit (benchmarks, replays).
    pub fn unlimited() -> Self {
        RateLimiter::new(0, 1)
    }

    /// Takes a token for `character` at `now_ms`; `false` if there is none (the operation is refused).
    pub fn allow(&mut self, character: u64, now_ms: u64) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let full = self.burst * 1_000;
        let (tokens, last) = self.buckets.entry(character).or_insert((full, now_ms));
        let refill = now_ms.saturating_sub(*last).saturating_mul(self.per_second);
        *tokens = tokens.saturating_add(refill).min(full);
        *last = now_ms.max(*last);
        if *tokens >= 1_000 {
            *tokens -= 1_000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_refused_and_the_bucket_refills() {
        let mut limiter = RateLimiter::new(10, 5);
        let allowed = (0..20).filter(|_| limiter.allow(7, 1_000)).count();
        assert_eq!(allowed, 5, "the burst, then nothing in the same millisecond");
        assert!(limiter.allow(8, 1_000), "another character has its own bucket");
        assert!(!limiter.allow(7, 1_050), "half a token after 50 ms");
        assert!(limiter.allow(7, 1_100), "one token after 100 ms at 10/s");
        assert!(RateLimiter::unlimited().allow(7, 0));
    }
}
