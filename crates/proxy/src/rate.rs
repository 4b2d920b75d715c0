//! Per-session rate limit: a token bucket refilled continuously, so a client may burst briefly but not
//! sustain more than its rate.

use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` commands per second, bursts up to `rate` (at least 1).
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate.max(1));
        TokenBucket { rate, tokens: rate, last: now }
    }

    /// Change the rate (a live setting); tokens already in the bucket are capped to the new burst.
    pub fn set_rate(&mut self, rate: u32) {
        let rate = f64::from(rate.max(1));
        if rate != self.rate {
            self.rate = rate;
            self.tokens = self.tokens.min(rate);
        }
    }

    /// Take one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_up_to_the_rate_then_refills_over_time() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5, start);
        assert_eq!((0..10).filter(|_| bucket.try_take(start)).count(), 5);
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
        assert!(bucket.try_take(start + Duration::from_millis(400)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 5);
    }
}
