//! The NPC traders' price rule: at trade hubs NPC buy and sell orders for base items, whose prices answer to what
//! players do. Players buying out NPC stock push the price up, players flooding the NPC with items push it down,
//! always within bounds, and without trade the price recovers towards the item's base price.
//!
//! The rule's parameters are data (`data/npc-pricing.csv`, one row per item group), so an operator tunes the
//! economy by editing a file. All arithmetic is integer: the price is the base price times a factor kept in
//! millionths.
//!
//! Each period (the runtime picks its length, e.g. an hour of game time) a desk's factor moves:
//!
//! 1. impact: `factor += impact × (bought − sold) / reference_volume`, where `bought` is what players bought from
//!    the NPC in the period and `sold` what they sold to it (selling `reference_volume` units more than was bought
//!    lowers the price by `impact_bp`);
//! 2. recovery: the factor moves `recovery_bp` of its distance back towards 1 (at least one millionth, so it does
//!    arrive);
//! 3. bounds: the factor is held within `[min_bp, max_bp]`.
//!
//! The NPC's buy price is the mid price less half the spread (rounded down), its sell price the mid price plus
//! half the spread (rounded up, and always above the buy price), so an NPC never trades with itself at one hub.

use std::collections::BTreeMap;

use orrery_universe::{CsvTable, Input, LoadError, Location};

use crate::fees::BASIS_POINTS;
use crate::ids::{MAX_AMOUNT, Money, Quantity};
use crate::items::{ItemGroup, positive};

/// A factor of 1, in millionths.
pub const UNIT_FACTOR: u64 = 1_000_000;
const PPM_PER_BP: u64 = UNIT_FACTOR / BASIS_POINTS as u64;

/// The parameters of the rule for one item group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpcRule {
    /// The gap between the NPC's sell and buy prices, in basis points of the mid price (≤ 10 000).
    pub spread_bp: u32,
    /// How many units each NPC order offers when it is (re)stocked at the start of a period.
    pub stock: Quantity,
    /// How far the price moves when players' net trade in one period is `reference_volume` units, in basis points
    /// of the base price.
    pub impact_bp: u32,
    /// The net volume (units players sold to the desk less units they bought from it, or the reverse) that
    /// moves the price by `impact_bp` in one period; smaller volumes move it proportionally less.
    pub reference_volume: Quantity,
    /// The share of the distance to the base price recovered each period, in basis points (≤ 10 000).
    pub recovery_bp: u32,
    /// The lowest mid price, in basis points of the base price (`1 ≤ min_bp ≤ 10 000`): however much players
    /// sell, the desk still pays something.
    pub min_bp: u32,
    /// The highest mid price, in basis points of the base price (`max_bp ≥ 10 000`): however much players buy,
    /// the price stays bounded, so a desk's full stock at this price can be checked against
    /// [`MAX_AMOUNT`] once, when it opens.
    pub max_bp: u32,
}

impl NpcRule {
    /// The quotes at the top of the bounds for an item of base price `base`: the dearest the desk can get.
    pub fn highest_quotes(&self, base: Money) -> NpcQuotes {
        NpcPrice { base, factor_ppm: u64::from(self.max_bp) * PPM_PER_BP }.quotes(self)
    }
}

/// The rules of every group that has NPC traders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpcRules {
    by_group: BTreeMap<ItemGroup, NpcRule>,
}

impl NpcRules {
    /// Reads the rules: columns `group`, `spread_bp`, `stock`, `impact_bp`, `reference_volume`, `recovery_bp`,
    /// `min_bp`, `max_bp`; one row per group at most. Errors name file, line and column.
    pub fn from_csv(input: Input<'_>) -> Result<NpcRules, LoadError> {
        let mut table = CsvTable::open(input)?;
        let file = table.file();
        let columns =
            ["group", "spread_bp", "stock", "impact_bp", "reference_volume", "recovery_bp", "min_bp", "max_bp"]
                .map(|c| table.column(c));
        let [group_col, spread_col, stock_col, impact_col, volume_col, recovery_col, min_col, max_col] = columns;
        let (group_col, spread_col, stock_col, impact_col) = (group_col?, spread_col?, stock_col?, impact_col?);
        let (volume_col, recovery_col, min_col, max_col) = (volume_col?, recovery_col?, min_col?, max_col?);
        let groups = ItemGroup::ALL.map(ItemGroup::name).join(", ");
        let mut rules = NpcRules::default();
        let mut line_of = std::collections::HashMap::new();
        table.for_each_row(|row| {
            let group: ItemGroup = row.parse(group_col, &format!("a group (one of {groups})"))?;
            row.first_time(&mut line_of, group_col, "group", group)?;
            let basis_points = |column: usize, max: u32| -> Result<u32, LoadError> {
                let value: u32 = row.parse(column, &format!("basis points, a whole number from 0 to {max}"))?;
                if value > max {
                    return Err(LoadError::invalid(row.at(column), format!("{value} is above {max}")));
                }
                Ok(value)
            };
            let rule = NpcRule {
                spread_bp: basis_points(spread_col, BASIS_POINTS)?,
                stock: positive(row, stock_col, MAX_AMOUNT)?,
                impact_bp: basis_points(impact_col, BASIS_POINTS)?,
                reference_volume: positive(row, volume_col, MAX_AMOUNT)?,
                recovery_bp: basis_points(recovery_col, BASIS_POINTS)?,
                min_bp: positive(row, min_col, u64::from(BASIS_POINTS))? as u32,
                max_bp: basis_points(max_col, u32::MAX / 2)?,
            };
            if rule.max_bp < BASIS_POINTS {
                let problem =
                    format!("{} is below {BASIS_POINTS}: the bounds must contain the base price", rule.max_bp);
                return Err(LoadError::invalid(row.at(max_col), problem));
            }
            rules.by_group.insert(group, rule);
            Ok(())
        })?;
        if rules.by_group.is_empty() {
            return Err(LoadError::invalid(Location::file(file), "no rules (the file has a header but no rows)"));
        }
        Ok(rules)
    }

    /// The rule for a group, if NPCs trade it.
    pub fn get(&self, group: ItemGroup) -> Option<&NpcRule> {
        self.by_group.get(&group)
    }

    /// Sets (or replaces) a group's rule, for rules made in code rather than read from `data/npc-pricing.csv`;
    /// unlike the loader it checks nothing, so the caller keeps to the bounds documented on [`NpcRule`].
    pub fn insert(&mut self, group: ItemGroup, rule: NpcRule) {
        self.by_group.insert(group, rule);
    }
}

/// An NPC's two prices for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpcQuotes {
    /// What the NPC pays players (its buy order's price).
    pub buy: Money,
    /// What the NPC asks (its sell order's price); always above `buy`.
    pub sell: Money,
}

/// Where one desk's price stands: the base price and the factor on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpcPrice {
    /// The item's base price (`data/items.csv`), which the factor multiplies and recovers towards.
    pub base: Money,
    /// In millionths: [`UNIT_FACTOR`] is the base price.
    pub factor_ppm: u64,
}

impl NpcPrice {
    /// A price at its base.
    pub fn new(base: Money) -> Self {
        NpcPrice { base, factor_ppm: UNIT_FACTOR }
    }

    /// The mid price: base × factor, rounded down, at least 1 and at most [`MAX_AMOUNT`].
    pub fn mid(&self) -> Money {
        let mid = u128::from(self.base) * u128::from(self.factor_ppm) / u128::from(UNIT_FACTOR);
        mid.clamp(1, u128::from(MAX_AMOUNT)) as Money
    }

    /// The NPC's buy and sell prices under `rule`.
    pub fn quotes(&self, rule: &NpcRule) -> NpcQuotes {
        let mid = u128::from(self.mid());
        let half = u128::from(rule.spread_bp / 2);
        let whole = u128::from(BASIS_POINTS);
        let buy = (mid * (whole - half) / whole).max(1);
        let sell = (mid * (whole + half)).div_ceil(whole).max(buy + 1);
        let cap = u128::from(MAX_AMOUNT);
        NpcQuotes { buy: buy.min(cap - 1) as Money, sell: sell.min(cap) as Money }
    }

    /// Moves the price for one period in which players bought `bought` units from the NPC and sold it `sold`.
    pub fn step(&mut self, rule: &NpcRule, bought: Quantity, sold: Quantity) {
        let net = i128::from(bought) - i128::from(sold);
        let impact = net * i128::from(u64::from(rule.impact_bp) * PPM_PER_BP) / i128::from(rule.reference_volume);
        let mut factor = i128::from(self.factor_ppm) + impact;
        let distance = factor - i128::from(UNIT_FACTOR);
        let mut pull = distance * i128::from(rule.recovery_bp) / i128::from(BASIS_POINTS);
        if pull == 0 && rule.recovery_bp > 0 {
            pull = distance.signum();
        }
        factor -= pull;
        let low = i128::from(u64::from(rule.min_bp) * PPM_PER_BP);
        let high = i128::from(u64::from(rule.max_bp) * PPM_PER_BP);
        self.factor_ppm = factor.clamp(low, high) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> NpcRule {
        NpcRule {
            spread_bp: 1_000,
            stock: 1_000,
            impact_bp: 500,
            reference_volume: 1_000,
            recovery_bp: 1_000,
            min_bp: 5_000,
            max_bp: 20_000,
        }
    }

    #[test]
    fn quotes_straddle_the_mid_price() {
        let quotes = NpcPrice::new(1_000).quotes(&rule());
        assert_eq!(quotes, NpcQuotes { buy: 950, sell: 1_050 });
        // Even at a price of 1 the NPC's sell price stays above its buy price.
        assert_eq!(NpcPrice::new(1).quotes(&rule()), NpcQuotes { buy: 1, sell: 2 });
    }

    #[test]
    fn selling_to_the_npc_lowers_the_price_and_it_recovers_to_the_base() {
        let mut price = NpcPrice::new(1_000);
        price.step(&rule(), 0, 1_000);
        // −5 % impact, then 10 % of that recovered.
        assert_eq!(price.factor_ppm, 955_000);
        for _ in 0..400 {
            price.step(&rule(), 0, 0);
        }
        assert_eq!(price.factor_ppm, UNIT_FACTOR);
    }

    #[test]
    fn the_price_stays_within_its_bounds() {
        let mut price = NpcPrice::new(1_000);
        price.step(&rule(), 0, 1_000_000);
        assert_eq!(price.factor_ppm, 500_000);
        price.step(&rule(), 10_000_000, 0);
        assert_eq!(price.factor_ppm, 2_000_000);
        assert_eq!(price.mid(), 2_000);
    }
}
