//! The order books' storage: every resting order in one slab, each price level a doubly linked list of slab slots
//! in time order, each side of a book a `BTreeMap` from price to level.
//!
//! So the best price is the first (asks) or last (bids) key of a map, appending to a level and taking an order out
//! of the middle of one (a cancel) are O(1) once the level is found, and no order is ever moved in memory.

use std::collections::BTreeMap;

use crate::ids::{BookKey, Money, OrderId, Owner, Quantity, Side, StationId};

/// No slot: the end of a level's list.
pub(crate) const NIL: u32 = u32::MAX;

/// An order resting in a book: what a depth view, a character's open orders or the store's order row show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestingOrder {
    /// The order's id, as given when it was placed; what a cancel or modify names.
    pub id: OrderId,
    /// Who placed it: a character (backed by escrow) or an NPC desk (backed by nothing).
    pub owner: Owner,
    /// Whether it buys or sells.
    pub side: Side,
    /// The book it rests in: its station's region and its item type.
    pub book: BookKey,
    /// Where it was placed: a sell order delivers its items here; a sell order's escrowed items are kept here.
    pub station: StationId,
    /// The price per unit it trades at when another order takes it.
    pub price: Money,
    /// What is left to fill; always ≥ 1 while the order rests.
    pub remaining: Quantity,
    /// When it leaves the book unless filled or cancelled, in the caller's time unit (see `Market::expire`).
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) order: RestingOrder,
    /// The order's book, as an index into the market's books.
    book: u32,
    prev: u32,
    next: u32,
}

/// The orders at one price on one side, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) head: u32,
    tail: u32,
    /// The sum of the orders' remaining quantities.
    pub(crate) quantity: Quantity,
}

/// The two sides of one book.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Book {
    pub(crate) bids: BTreeMap<Money, Level>,
    pub(crate) asks: BTreeMap<Money, Level>,
}

impl Book {
    pub(crate) fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Money, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The best price of one side: the highest bid or the lowest ask.
    pub(crate) fn best(&self, side: Side) -> Option<Money> {
        match side {
            Side::Buy => self.bids.last_key_value().map(|(&p, _)| p),
            Side::Sell => self.asks.first_key_value().map(|(&p, _)| p),
        }
    }
}

/// Every resting order, in slots that are reused once their order leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Slab {
    pub(crate) fn insert(&mut self, order: RestingOrder, book: u32) -> u32 {
        let slot = Slot { order, book, prev: NIL, next: NIL };
        match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Marks a slot free; its order must already be out of its level.
    pub(crate) fn release(&mut self, index: u32) {
        self.free.push(index);
    }

    pub(crate) fn order(&self, index: u32) -> &RestingOrder {
        &self.slots[index as usize].order
    }

    pub(crate) fn order_mut(&mut self, index: u32) -> &mut RestingOrder {
        &mut self.slots[index as usize].order
    }

    pub(crate) fn book_of(&self, index: u32) -> u32 {
        self.slots[index as usize].book
    }

    pub(crate) fn next(&self, index: u32) -> u32 {
        self.slots[index as usize].next
    }

    /// Appends a slot's order at the back of its price level on `side` (the level is made if there is none).
    pub(crate) fn link(&mut self, side: &mut BTreeMap<Money, Level>, index: u32) {
        let (price, quantity) = {
            let order = self.order(index);
            (order.price, order.remaining)
        };
        let level = side.entry(price).or_insert(Level { head: NIL, tail: NIL, quantity: 0 });
        let slot = &mut self.slots[index as usize];
        slot.prev = level.tail;
        slot.next = NIL;
        if level.tail == NIL {
            level.head = index;
        } else {
            self.slots[level.tail as usize].next = index;
        }
        level.tail = index;
        level.quantity += quantity;
    }

    /// Takes a slot's order out of its price level on `side` (the level goes when it empties).
    pub(crate) fn unlink(&mut self, side: &mut BTreeMap<Money, Level>, index: u32) {
        let Slot { order, prev, next, .. } = &self.slots[index as usize];
        let (price, quantity, prev, next) = (order.price, order.remaining, *prev, *next);
        let Some(level) = side.get_mut(&price) else { return };
        if prev == NIL {
            level.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            level.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        level.quantity -= quantity;
        if level.head == NIL {
            side.remove(&price);
        }
    }

    /// The orders of one level, oldest first.
    pub(crate) fn level_orders(&self, level: &Level) -> impl Iterator<Item = &RestingOrder> {
        std::iter::successors(Some(level.head).filter(|&i| i != NIL), |&i| Some(self.next(i)).filter(|&n| n != NIL))
            .map(|i| self.order(i))
    }
}
