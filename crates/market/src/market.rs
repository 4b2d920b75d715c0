//! The matching core: every order book of a market (one per region and item type), price-then-time matching at the
//! resting order's price, partial fills, cancel, price changes and expiry.
//!
//! The market knows orders, not balances: it says what escrow an order holds and what each trade moves, as
//! [`Event`]s, and the caller (the [`Exchange`](crate::Exchange), later the market role) checks wallets and hangars
//! before and commits the events after. Nothing here reads a clock: times (`now`, `expires_at`) are numbers the
//! caller passes in, in whatever unit it keeps (ticks or milliseconds), the same unit everywhere.

use std::collections::{BTreeSet, HashMap};

use crate::book::{Book, RestingOrder, Slab};
use crate::error::MarketError;
use crate::event::{CloseReason, Event, Fill};
use crate::fees::Fees;
use crate::ids::{BookKey, MAX_AMOUNT, Money, OrderId, Owner, Quantity, Side, StationId};

/// A new order as a client (or an NPC trader) asks for it. Quantity and price are signed, as they arrive on the
/// wire, so that a negative one is refused with a clear error rather than wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub owner: Owner,
    pub side: Side,
    pub book: BookKey,
    /// Where the order is placed: a sell order's items are taken from the owner's hangar here, and its buyers
    /// receive them here.
    pub station: StationId,
    pub quantity: i64,
    /// Per unit, in whole money units.
    pub price: i64,
    /// The time (in the caller's unit) at which the order leaves the book if still open; must be after `now`.
    pub expires_at: u64,
}

/// A request's amounts once checked: positive, and the order's value within [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidOrder {
    pub quantity: Quantity,
    pub price: Money,
    /// `quantity × price`.
    pub value: Money,
}

/// A price change once checked: the order as it stands and its new price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repricing {
    pub order: RestingOrder,
    pub new_price: Money,
    /// `remaining × new_price`.
    pub new_value: Money,
}

/// The best levels of one book: `(price, total quantity)`, best first on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depth {
    pub bids: Vec<(Money, Quantity)>,
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
    books: HashMap<BookKey, Book>,
    slab: Slab,
    /// Where each resting order is in the slab.
    index: HashMap<OrderId, u32>,
    /// Every resting order by expiry, for [`Market::expire`] (ties in order of id: deterministic).
    expiries: BTreeSet<(u64, OrderId)>,
    next_id: u64,
}

impl Market {
    /// An empty market charging `fees` (see [`Fees::validated`] for checking rates read from a file).
    pub fn new(fees: Fees) -> Self {
        Market {
            fees,
            books: HashMap::new(),
            slab: Slab::default(),
            index: HashMap::new(),
            expiries: BTreeSet::new(),
            next_id: 1,
        }
    }

    pub fn fees(&self) -> &Fees {
        &self.fees
    }

    /// The number of resting orders in all books.
    pub fn len(&self) -> usize {
        self.index.len()
    }

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
        self.books.get(&book).and_then(|b| b.best(side))
    }

    /// The best `levels` price levels of each side of a book.
    pub fn depth(&self, book: BookKey, levels: usize) -> Depth {
        let Some(b) = self.books.get(&book) else { return Depth::default() };
        Depth {
            bids: b.bids.iter().rev().take(levels).map(|(&p, l)| (p, l.quantity)).collect(),
            asks: b.asks.iter().take(levels).map(|(&p, l)| (p, l.quantity)).collect(),
        }
    }

    /// The orders at one price of one side of a book, in time priority.
    pub fn level(&self, book: BookKey, side: Side, price: Money) -> Vec<&RestingOrder> {
        let level = self.books.get(&book).and_then(|b| match side {
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
        let slot = self.slab.insert(RestingOrder {
            id,
            owner: request.owner,
            side: request.side,
            book: request.book,
            station: request.station,
            price: valid.price,
            remaining: valid.quantity,
            expires_at: request.expires_at,
        });
        self.enter(slot, events);
        Ok(id)
    }

    /// Checks a price change without making it: the order must exist, be `caller`'s, and the new price be valid
    /// and different.
    pub fn validate_reprice(&self, caller: Owner, order: OrderId, new_price: i64) -> Result<Repricing, MarketError> {
        let resting = self.owned(caller, order)?;
        let valid = validate_amounts(resting.remaining as i64, new_price)?;
        if valid.price == resting.price {
            return Err(MarketError::UnchangedPrice { order, price: valid.price });
        }
        Ok(Repricing { order: *resting, new_price: valid.price, new_value: valid.value })
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
        let repricing = self.validate_reprice(caller, order, new_price)?;
        let slot = self.index[&order];
        let book = self.books.entry(repricing.order.book).or_default();
        self.slab.unlink(book.side_mut(repricing.order.side), slot);
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
        self.enter(slot, events);
        Ok(())
    }

    /// Cancels `caller`'s order; appends `Closed` (cancelled) with the escrow it releases.
    pub fn cancel(&mut self, caller: Owner, order: OrderId, events: &mut Vec<Event>) -> Result<(), MarketError> {
        self.owned(caller, order)?;
        let slot = self.index[&order];
        self.close(slot, CloseReason::Cancelled, events);
        Ok(())
    }

    /// Closes every order whose expiry is at or before `now` (in order of expiry, then id); appends a `Closed`
    /// (expired) for each.
    pub fn expire(&mut self, now: u64, events: &mut Vec<Event>) {
        while let Some(&(expires_at, id)) = self.expiries.first() {
            if expires_at > now {
                break;
            }
            let slot = self.index[&id];
            self.close(slot, CloseReason::Expired, events);
        }
    }

    fn owned(&self, caller: Owner, order: OrderId) -> Result<&RestingOrder, MarketError> {
        let resting = self.order(order).ok_or(MarketError::UnknownOrder(order))?;
        if resting.owner != caller {
            return Err(MarketError::NotOwner { order, owner: resting.owner, caller });
        }
        Ok(resting)
    }

    /// Lets the order in `slot` (new, or out of its level for a price change) trade against the other side of
    /// its book, then rests what is left or, if nothing is, closes it as filled.
    fn enter(&mut self, slot: u32, events: &mut Vec<Event>) {
        let order = *self.slab.order(slot);
        let remaining = self.take_liquidity(&order, events);
        if remaining == 0 {
            self.remove(slot);
            events.push(closed(&order, CloseReason::Filled, 0));
        } else {
            self.slab.order_mut(slot).remaining = remaining;
            self.rest(slot, events);
        }
    }

    /// Puts the order in `slot` at the back of its level and charges the broker fee on what rests.
    fn rest(&mut self, slot: u32, events: &mut Vec<Event>) {
        let order = self.slab.order(slot);
        let (id, owner, side, book, price, remaining, expires_at) =
            (order.id, order.owner, order.side, order.book, order.price, order.remaining, order.expires_at);
        self.slab.link(self.books.entry(book).or_default().side_mut(side), slot);
        self.index.insert(id, slot);
        self.expiries.insert((expires_at, id));
        if let Owner::Character(_) = owner {
            events.push(Event::BrokerFee { order: id, owner, amount: self.fees.broker_fee(remaining * price) });
        }
    }

    /// Takes a resting order out of its book with the given reason, releasing its escrow.
    fn close(&mut self, slot: u32, reason: CloseReason, events: &mut Vec<Event>) {
        let order = *self.slab.order(slot);
        if let Some(book) = self.books.get_mut(&order.book) {
            self.slab.unlink(book.side_mut(order.side), slot);
        }
        self.remove(slot);
        events.push(closed(&order, reason, escrow(order.owner, order.side, order.price, order.remaining)));
    }

    /// Forgets an order already out of its level.
    fn remove(&mut self, slot: u32) {
        let order = self.slab.order(slot);
        self.expiries.remove(&(order.expires_at, order.id));
        let (id, book) = (order.id, order.book);
        self.index.remove(&id);
        self.slab.release(slot);
        if self.books.get(&book).is_some_and(Book::is_empty) {
            self.books.remove(&book);
        }
    }

    /// Matches `incoming` against the opposite side of its book while prices cross, best price first and oldest
    /// first within a price, each fill at the resting order's price.
    /// Returns what is left of the incoming order.
    fn take_liquidity(&mut self, incoming: &RestingOrder, events: &mut Vec<Event>) -> Quantity {
        let mut remaining = incoming.remaining;
        let Some(book) = self.books.get_mut(&incoming.book) else { return remaining };
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
                // What `remove` does but for the book, which is borrowed here; `enter` drops it if it empties.
                self.expiries.remove(&(resting.expires_at, resting.id));
                self.index.remove(&resting.id);
                self.slab.release(head);
                events.push(closed(&resting, CloseReason::Filled, 0));
            }
        }
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
