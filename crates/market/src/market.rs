//! The matching core: every order book of a market (one per region and item type), price-then-time matching at the
//! resting order's price, partial fills, cancel, price changes and expiry.
//!
//! The market knows orders, not balances: it says what escrow an order holds and what each trade moves, as
//! [`Event`]s, and the caller (the [`Exchange`](crate::Exchange), later the market role) checks wallets and hangars
//! before and commits the events after. Nothing here reads a clock: times (`now`, `expires_at`) are numbers the
//! caller passes in, in whatever unit it keeps (ticks or milliseconds), the same unit everywhere.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::book::{Book, RestingOrder, Slab};
use crate::error::MarketError;
use crate::event::{CloseReason, Event, Fill};
use crate::expiry::ExpiryQueue;
use crate::fees::Fees;
use crate::ids::{BookKey, MAX_AMOUNT, Money, OrderId, Owner, Quantity, Side, StationId};

/// A new order as a client (or an NPC trader) asks for it. Quantity and price are signed, as they arrive on the
/// wire, so that a negative one is refused with a clear error rather than wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Who places it: a character (whose escrow the caller must have checked) or an NPC desk.
    pub owner: Owner,
    /// Buy or sell: which side of the book it joins and which it trades against.
    pub side: Side,
    /// The book it trades in; the caller picks it from the station's region and the item type.
    pub book: BookKey,
    /// Where the order is placed: a sell order's items are taken from the owner's hangar here, and its buyers
    /// receive them here.
    pub station: StationId,
    /// Units to trade; signed so that 0 and negative values are refused by name.
    pub quantity: i64,
    /// Per unit, in whole money units.
    pub price: i64,
    /// The time (in the caller's unit) at which the order leaves the book if still open; must be after `now`.
    pub expires_at: u64,
}

/// A request's amounts once checked: positive, and the order's value within [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidOrder {
    /// The quantity, now known to be ≥ 1.
    pub quantity: Quantity,
    /// The price per unit, now known to be ≥ 1.
    pub price: Money,
    /// `quantity × price`.
    pub value: Money,
}

/// A price change once checked: the order as it stands and its new price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repricing {
    /// The order before the change (its owner, side, remaining quantity and old price size the escrow change).
    pub order: RestingOrder,
    /// The price it is to have, checked positive and different from the old one.
    pub new_price: Money,
    /// `remaining × new_price`.
    pub new_value: Money,
}

/// The best levels of one book: `(price, total quantity)`, best first on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depth {
    /// Buy levels, highest price first.
    pub bids: Vec<(Money, Quantity)>,
    /// Sell levels, lowest price first.
    pub asks: Vec<(Money, Quantity)>,
}

/// The escrow an order of `quantity` at `price` holds: money for a player's buy order, items for a player's sell
/// order, nothing for an NPC's. The caller must have checked that `quantity × price` fits (see [`ValidOrder`]).
pub fn escrow(owner: Owner, side: Side, price: Money, quantity: Quantity) -> u64 {
    match (owner, side) {
        (Owner::Npc(_), _) => 0,
        (Owner::Character(_), Side::Buy) => quantity * price,
        (Owner::Character(_), Side::Sell) => quantity,
    }
}

/// Checks a quantity and a price as they arrive and that their product fits [`MAX_AMOUNT`].
pub fn validate_amounts(quantity: i64, price: i64) -> Result<ValidOrder, MarketError> {
    if quantity <= 0 {
        return Err(MarketError::NonPositiveQuantity(quantity));
    }
    if price <= 0 {
        return Err(MarketError::NonPositivePrice(price));
    }
    let (quantity, price) = (quantity as u64, price as u64);
    match quantity.checked_mul(price) {
        Some(value) if value <= MAX_AMOUNT => Ok(ValidOrder { quantity, price, value }),
        _ => Err(MarketError::ValueOverflow { quantity, price, max: MAX_AMOUNT }),
    }
}

/// All order books of a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    fees: Fees,
    /// Every book that ever had an order (an empty book stays: there are at most regions × item types).
    books: Vec<Book>,
    book_index: HashMap<BookKey, u32, FixedState>,
    slab: Slab,
    /// Where each resting order is in the slab. Hashed with foldhash's fixed-seed hasher: fast on integer keys
    /// and the same on every run (nothing here iterates a hash map in an order that shows).
    index: HashMap<OrderId, u32, FixedState>,
    /// Every resting order by expiry, for [`Market::expire`] (ties in order of id: deterministic).
    expiries: ExpiryQueue,
    next_id: u64,
}

impl Market {
    /// An empty market charging `fees` (see [`Fees::validated`] for checking rates read from a file).
    pub fn new(fees: Fees) -> Self {
        Market {
            fees,
            books: Vec::new(),
            book_index: HashMap::default(),
            slab: Slab::default(),
            index: HashMap::default(),
            expiries: ExpiryQueue::default(),
            next_id: 1,
        }
    }

    /// The rates this market charges, so that a caller checking a wallet beforehand counts the same fee.
    pub fn fees(&self) -> &Fees {
        &self.fees
    }

    /// The number of resting orders in all books.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no order rests in any book.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A resting order.
    pub fn order(&self, id: OrderId) -> Option<&RestingOrder> {
        self.index.get(&id).map(|&slot| self.slab.order(slot))
    }

    /// Every resting order, by id.
    pub fn orders(&self) -> Vec<&RestingOrder> {
        let mut orders: Vec<&RestingOrder> = self.index.values().map(|&slot| self.slab.order(slot)).collect();
        orders.sort_unstable_by_key(|o| o.id);
        orders
    }

    /// The best price on one side of a book: the highest bid or the lowest ask.
    pub fn best(&self, book: BookKey, side: Side) -> Option<Money> {
        self.book(book).and_then(|b| b.best(side))
    }

    /// The best `levels` price levels of each side of a book.
    pub fn depth(&self, book: BookKey, levels: usize) -> Depth {
        let Some(b) = self.book(book) else { return Depth::default() };
        Depth {
            bids: b.bids.iter().rev().take(levels).map(|(&p, l)| (p, l.quantity)).collect(),
            asks: b.asks.iter().take(levels).map(|(&p, l)| (p, l.quantity)).collect(),
        }
    }

    /// The orders at one price of one side of a book, in time priority.
    pub fn level(&self, book: BookKey, side: Side, price: Money) -> Vec<&RestingOrder> {
        let level = self.book(book).and_then(|b| match side {
            Side::Buy => b.bids.get(&price),
            Side::Sell => b.asks.get(&price),
        });
        level.map(|l| self.slab.level_orders(l).collect()).unwrap_or_default()
    }

    /// Checks a new order without placing it.
    pub fn validate(&self, request: &OrderRequest, now: u64) -> Result<ValidOrder, MarketError> {
        let valid = validate_amounts(request.quantity, request.price)?;
        if request.expires_at <= now {
            return Err(MarketError::ExpiryNotInFuture { expires_at: request.expires_at, now });
        }
        Ok(valid)
    }

    /// Places an order: it matches at once against the best opposite orders (price, then time; at the resting
    /// order's price), and whatever does not fill rests in the book. Appends to `events`: `Placed`, then each
    /// `Filled` (with `Closed` for each resting order it used up), then either `BrokerFee` for the resting rest
    /// (players only) or `Closed` (filled) for the new order. Returns the new order's id.
    pub fn place(&mut self, request: &OrderRequest, now: u64, events: &mut Vec<Event>) -> Result<OrderId, MarketError> {
        let valid = self.validate(request, now)?;
        let id = OrderId(self.next_id);
        self.next_id += 1;
        events.push(Event::Placed {
            order: id,
            owner: request.owner,
            side: request.side,
            book: request.book,
            station: request.station,
            price: valid.price,
            quantity: valid.quantity,
            expires_at: request.expires_at,
            escrow: escrow(request.owner, request.side, valid.price, valid.quantity),
        });
        let book = self.book_for(request.book);
        let order = RestingOrder {
            id,
            owner: request.owner,
            side: request.side,
            book: request.book,
            station: request.station,
            price: valid.price,
            remaining: valid.quantity,
            expires_at: request.expires_at,
        };
        let slot = self.slab.insert(order, book);
        self.enter(slot, true, events);
        Ok(id)
    }

    /// Checks a price change without making it: the order must exist, be `caller`'s, and the new price be valid
    /// and different.
    pub fn validate_reprice(&self, caller: Owner, order: OrderId, new_price: i64) -> Result<Repricing, MarketError> {
        self.reprice_plan(caller, order, new_price).map(|(_, repricing)| repricing)
    }

    /// [`Market::validate_reprice`] with the order's slot.
    fn reprice_plan(&self, caller: Owner, order: OrderId, new_price: i64) -> Result<(u32, Repricing), MarketError> {
        let slot = self.owned(caller, order)?;
        let resting = self.slab.order(slot);
        let valid = validate_amounts(resting.remaining as i64, new_price)?;
        if valid.price == resting.price {
            return Err(MarketError::UnchangedPrice { order, price: valid.price });
        }
        Ok((slot, Repricing { order: *resting, new_price: valid.price, new_value: valid.value }))
    }

    /// Changes an order's price. The order goes to the back of the queue at its new price (it loses its time
    /// priority) and, if the new price crosses the other side, matches like a new order. Appends `Repriced`,
    /// the fills, and then `BrokerFee` (the relist fee, on the resting value) or `Closed` (filled).
    pub fn modify(
        &mut self,
        caller: Owner,
        order: OrderId,
        new_price: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), MarketError> {
        let (slot, repricing) = self.reprice_plan(caller, order, new_price)?;
        let book = self.slab.book_of(slot);
        self.slab.unlink(self.books[book as usize].side_mut(repricing.order.side), slot);
        let resting = &repricing.order;
        events.push(Event::Repriced {
            order,
            owner: resting.owner,
            side: resting.side,
            remaining: resting.remaining,
            old_price: resting.price,
            new_price: repricing.new_price,
        });
        self.slab.order_mut(slot).price = repricing.new_price;
        self.enter(slot, false, events);
        Ok(())
    }

    /// Cancels `caller`'s order; appends `Closed` (cancelled) with the escrow it releases.
    pub fn cancel(&mut self, caller: Owner, order: OrderId, events: &mut Vec<Event>) -> Result<(), MarketError> {
        let slot = self.owned(caller, order)?;
        self.close(slot, CloseReason::Cancelled, events);
        Ok(())
    }

    /// Closes every order whose expiry is at or before `now` (in order of expiry, then id); appends a `Closed`
    /// (expired) for each.
    pub fn expire(&mut self, now: u64, events: &mut Vec<Event>) {
        while let Some((expires_at, id)) = self.expiries.pop_due(now) {
            // Orders that already left the book leave stale entries behind; they are skipped here.
            if let Some(&slot) = self.index.get(&id)
                && self.slab.order(slot).expires_at == expires_at
            {
                self.close(slot, CloseReason::Expired, events);
            }
        }
    }

    /// The slot of `caller`'s open order.
    fn owned(&self, caller: Owner, order: OrderId) -> Result<u32, MarketError> {
        let slot = *self.index.get(&order).ok_or(MarketError::UnknownOrder(order))?;
        let owner = self.slab.order(slot).owner;
        if owner != caller {
            return Err(MarketError::NotOwner { order, owner, caller });
        }
        Ok(slot)
    }

    /// Lets the order in `slot` (new, or out of its level for a price change) trade against the other side of
    /// its book, then rests what is left or, if nothing is, closes it as filled.
    /// `new` says whether the order is new (not yet in the index and expiry set).
    fn enter(&mut self, slot: u32, new: bool, events: &mut Vec<Event>) {
        let order = *self.slab.order(slot);
        let remaining = self.take_liquidity(&order, self.slab.book_of(slot), events);
        if remaining == 0 {
            if new {
                self.slab.release(slot);
            } else {
                self.remove(slot);
            }
            events.push(closed(&order, CloseReason::Filled, 0));
        } else {
            self.slab.order_mut(slot).remaining = remaining;
            self.rest(slot, new, events);
        }
    }

    /// Puts the order in `slot` at the back of its level and charges the broker fee on what rests.
    fn rest(&mut self, slot: u32, new: bool, events: &mut Vec<Event>) {
        let order = self.slab.order(slot);
        let (id, owner, side, price, remaining, expires_at) =
            (order.id, order.owner, order.side, order.price, order.remaining, order.expires_at);
        let book = self.slab.book_of(slot);
        self.slab.link(self.books[book as usize].side_mut(side), slot);
        if new {
            self.index.insert(id, slot);
            self.expiries.push(expires_at, id);
        }
        if let Owner::Character(_) = owner {
            events.push(Event::BrokerFee { order: id, owner, amount: self.fees.broker_fee(remaining * price) });
        }
    }

    /// Takes a resting order out of its book with the given reason, releasing its escrow.
    fn close(&mut self, slot: u32, reason: CloseReason, events: &mut Vec<Event>) {
        let order = *self.slab.order(slot);
        let book = self.slab.book_of(slot);
        self.slab.unlink(self.books[book as usize].side_mut(order.side), slot);
        self.remove(slot);
        events.push(closed(&order, reason, escrow(order.owner, order.side, order.price, order.remaining)));
    }

    /// Forgets an order already out of its level.
    fn remove(&mut self, slot: u32) {
        let id = self.slab.order(slot).id;
        self.index.remove(&id);
        self.slab.release(slot);
        self.tidy_expiries();
    }

    /// Rebuilds the expiry queue when stale entries (of orders gone early) outnumber the open orders.
    fn tidy_expiries(&mut self) {
        if self.expiries.wants_rebuild(self.index.len()) {
            let slab = &self.slab;
            self.expiries.rebuild(self.index.values().map(|&slot| {
                let order = slab.order(slot);
                (order.expires_at, order.id)
            }));
        }
    }

    fn book(&self, key: BookKey) -> Option<&Book> {
        self.book_index.get(&key).map(|&i| &self.books[i as usize])
    }

    /// The index of a book, made if it is new.
    fn book_for(&mut self, key: BookKey) -> u32 {
        let books = &mut self.books;
        *self.book_index.entry(key).or_insert_with(|| {
            books.push(Book::default());
            (books.len() - 1) as u32
        })
    }

    /// Matches `incoming` against the opposite side of its book while prices cross, best price first and oldest
    /// first within a price, each fill at the resting order's price.
    /// Returns what is left of the incoming order.
    fn take_liquidity(&mut self, incoming: &RestingOrder, book: u32, events: &mut Vec<Event>) -> Quantity {
        let mut remaining = incoming.remaining;
        let book = &mut self.books[book as usize];
        let opposite = match incoming.side {
            Side::Buy => &mut book.asks,
            Side::Sell => &mut book.bids,
        };
        while remaining > 0 {
            let best = match incoming.side {
                Side::Buy => opposite.first_key_value().filter(|&(&ask, _)| ask <= incoming.price),
                Side::Sell => opposite.last_key_value().filter(|&(&bid, _)| bid >= incoming.price),
            };
            let Some((&price, level)) = best else { break };
            let head = level.head;
            let resting = *self.slab.order(head);
            let quantity = remaining.min(resting.remaining);
            let used_up = quantity == resting.remaining;
            if used_up {
                self.slab.unlink(opposite, head);
            } else {
                self.slab.order_mut(head).remaining -= quantity;
                if let Some(level) = opposite.get_mut(&price) {
                    level.quantity -= quantity;
                }
            }
            remaining -= quantity;
            let (buy, sell) = match incoming.side {
                Side::Buy => {
                    ((incoming.id, incoming.owner, incoming.price), (resting.id, resting.owner, resting.station))
                }
                Side::Sell => ((resting.id, resting.owner, price), (incoming.id, incoming.owner, incoming.station)),
            };
            let value = quantity * price;
            let sales_tax = match sell.1 {
                Owner::Character(_) => self.fees.sales_tax(value),
                Owner::Npc(_) => 0,
            };
            events.push(Event::Filled(Fill {
                buy_order: buy.0,
                sell_order: sell.0,
                buyer: buy.1,
                seller: sell.1,
                book: incoming.book,
                station: sell.2,
                quantity,
                price,
                buy_price: buy.2,
                sales_tax,
                resting: opposite_side(incoming.side),
            }));
            if used_up {
                // What `remove` does; it cannot be called while the book is borrowed.
                self.index.remove(&resting.id);
                self.slab.release(head);
                events.push(closed(&resting, CloseReason::Filled, 0));
            }
        }
        self.tidy_expiries();
        remaining
    }
}

/// The event for an order leaving the book.
fn closed(order: &RestingOrder, reason: CloseReason, released: u64) -> Event {
    Event::Closed {
        order: order.id,
        owner: order.owner,
        side: order.side,
        item: order.book.item,
        station: order.station,
        reason,
        released,
    }
}

fn opposite_side(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}
