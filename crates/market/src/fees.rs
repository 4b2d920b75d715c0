//! The market's money sinks: the broker fee on placing (and relisting) an order and the sales tax on a sale, both
//! rates in basis points, computed in integer arithmetic.
//!
//! Rounding rule: a fee is `value × rate / 10 000` rounded **down** to a whole money unit (a seller is never charged
//! more than the rate), and the broker fee is at least [`Fees::min_broker_fee`] (so that tiny orders still cost
//! something to place). The intermediate product is taken in `u128`, so it cannot overflow.

use crate::ids::Money;

/// Basis points in one whole: 10 000 bp = 100 %.
pub const BASIS_POINTS: u32 = 10_000;

/// The fee rates of a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Broker fee on the value of the part of an order that rests in the book (at placement and at each price
    /// change), in basis points. An order that fills at once pays none.
    pub broker_fee_bp: u32,
    /// The smallest broker fee charged when one is due.
    pub min_broker_fee: Money,
    /// Sales tax on the value of each sale by a player, paid by the seller out of the proceeds, in basis points.
    pub sales_tax_bp: u32,
}

impl Default for Fees {
    /// EVE's rates for an untrained character at an NPC station, roughly: 3 % broker fee (at least 100.00), 7.5 %
    /// sales tax.
    fn default() -> Self {
        Fees { broker_fee_bp: 300, min_broker_fee: 10_000, sales_tax_bp: 750 }
    }
}

/// A rate above 100 % (it would charge more than the value traded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which} of {rate} bp is above 100 % ({BASIS_POINTS} bp)")]
pub struct FeeRateError {
    /// Which rate is wrong: "broker fee" or "sales tax".
    pub which: &'static str,
    /// The rate given, in basis points.
    pub rate: u32,
}

impl Fees {
    /// Checks that both rates are at most 100 %.
    pub fn validated(self) -> Result<Self, FeeRateError> {
        for (which, rate) in [("broker fee", self.broker_fee_bp), ("sales tax", self.sales_tax_bp)] {
            if rate > BASIS_POINTS {
                return Err(FeeRateError { which, rate });
            }
        }
        Ok(self)
    }

    /// The broker fee for resting `value` in the book.
    pub fn broker_fee(&self, value: Money) -> Money {
        share(value, self.broker_fee_bp).max(self.min_broker_fee)
    }

    /// The sales tax on a sale of `value`.
    pub fn sales_tax(&self, value: Money) -> Money {
        share(value, self.sales_tax_bp)
    }
}

/// `value × rate_bp / 10 000`, rounded down. With `rate_bp` ≤ 10 000 the result is at most `value`.
pub fn share(value: Money, rate_bp: u32) -> Money {
    (u128::from(value) * u128::from(rate_bp) / u128::from(BASIS_POINTS)) as Money
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_down_and_the_broker_fee_has_a_floor() {
        let fees = Fees { broker_fee_bp: 300, min_broker_fee: 5, sales_tax_bp: 750 };
        assert_eq!(fees.sales_tax(1_000), 75);
        assert_eq!(fees.sales_tax(1_999), 149); // 149.925 rounds down
        assert_eq!(fees.broker_fee(1_000), 30);
        assert_eq!(fees.broker_fee(10), 5); // 0.3 is below the floor of 5
    }

    #[test]
    fn the_largest_value_does_not_overflow() {
        assert_eq!(share(u64::MAX, BASIS_POINTS), u64::MAX);
        assert_eq!(share(crate::MAX_AMOUNT, 1), crate::MAX_AMOUNT / 10_000);
    }

    #[test]
    fn a_rate_above_one_hundred_percent_is_refused() {
        let error = Fees { sales_tax_bp: 10_001, ..Fees::default() }.validated().unwrap_err();
        assert_eq!(error.to_string(), "sales tax of 10001 bp is above 100 % (10000 bp)");
    }
}
