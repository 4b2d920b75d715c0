//! Daily market history per region and item type — open, high, low, close, volume — built from the fills, as the
//! market window's price chart and the economy API will show it. The caller says which day a fill belongs to
//! (its time divided by the day's length), so nothing here reads a clock.

use std::collections::BTreeMap;

use crate::event::{Event, Fill};
use crate::ids::{BookKey, Money, Quantity};

/// One day of one book's trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStats {
    /// The price of the day's first fill.
    pub open: Money,
    /// The highest price a fill traded at that day.
    pub high: Money,
    /// The lowest price a fill traded at that day.
    pub low: Money,
    /// The price of the day's last fill.
    pub close: Money,
    /// Units traded.
    pub volume: Quantity,
    /// Money traded (Σ quantity × price); `u128` because a busy day's total can exceed any one order's value.
    pub value: u128,
    /// Fills counted.
    pub trades: u64,
}

/// The days of every book that traded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    days: BTreeMap<(BookKey, u64), DayStats>,
}

impl History {
    /// No days yet: a history is built by recording fills as they happen (or replaying them from the store).
    pub fn new() -> Self {
        History::default()
    }

    /// Counts one fill on `day`. Fills must come in the order they happened (the order of the events) for open and
    /// close to be right.
    pub fn record(&mut self, day: u64, fill: &Fill) {
        let value = u128::from(fill.quantity) * u128::from(fill.price);
        self.days
            .entry((fill.book, day))
            .and_modify(|d| {
                d.high = d.high.max(fill.price);
                d.low = d.low.min(fill.price);
                d.close = fill.price;
                d.volume += fill.quantity;
                d.value += value;
                d.trades += 1;
            })
            .or_insert(DayStats {
                open: fill.price,
                high: fill.price,
                low: fill.price,
                close: fill.price,
                volume: fill.quantity,
                value,
                trades: 1,
            });
    }

    /// Counts every fill among `events` on `day`.
    pub fn record_events(&mut self, day: u64, events: &[Event]) {
        for event in events {
            if let Event::Filled(fill) = event {
                self.record(day, fill);
            }
        }
    }

    /// One book's day, if it traded.
    pub fn day(&self, book: BookKey, day: u64) -> Option<&DayStats> {
        self.days.get(&(book, day))
    }

    /// One book's days that traded, oldest first.
    pub fn days(&self, book: BookKey) -> impl Iterator<Item = (u64, &DayStats)> {
        self.days.range((book, 0)..=(book, u64::MAX)).map(|(&(_, day), stats)| (day, stats))
    }
}
