//! What an operation on the market did, as a list of events in the order they happened. A runtime commits the
//! events of one operation in one store transaction (order rows, wallets, escrow, hangars, journal); the
//! [`Ledger`](crate::Ledger) applies them to its model of the balances.

use crate::ids::{BookKey, ItemTypeId, Money, NpcTraderId, OrderId, Owner, Quantity, Side, StationId};

/// One thing that happened in the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An order was accepted with its whole quantity, and its escrow taken: for a player's buy order
    /// `quantity × price` money from the wallet, for a player's sell order `quantity` items from the hangar at
    /// the order's station; NPC orders hold no escrow (`escrow` 0). Fills may follow at once.
    Placed {
        /// The id the market gave the order.
        order: OrderId,
        /// Who placed it.
        owner: Owner,
        /// Whether it buys or sells.
        side: Side,
        /// The book it trades in.
        book: BookKey,
        /// The station it was placed at (where a sell order's items come from).
        station: StationId,
        /// Its price per unit.
        price: Money,
        /// Its whole quantity, before any fill.
        quantity: Quantity,
        /// When it expires if still open, in the caller's time unit.
        expires_at: u64,
        /// What was taken into escrow: money for a buy order, items for a sell order, 0 for an NPC's.
        escrow: u64,
    },
    /// A buy order's price changed (`modify`): its escrow goes from `remaining × old_price` to
    /// `remaining × new_price`, the difference taken from or returned to the wallet. The order lost its time
    /// priority; fills may follow at once.
    Repriced {
        /// The order repriced.
        order: OrderId,
        /// Its owner, whose wallet the escrow difference comes from or goes to.
        owner: Owner,
        /// Its side (only a buy order's escrow depends on the price).
        side: Side,
        /// What is left to fill, on which the escrow is counted.
        remaining: Quantity,
        /// The price before the change.
        old_price: Money,
        /// The price after it.
        new_price: Money,
    },
    /// Two orders traded.
    Filled(Fill),
    /// A player paid the broker fee for resting `order` in the book (a sink).
    BrokerFee {
        /// The order the fee was charged for.
        order: OrderId,
        /// Who paid it.
        owner: Owner,
        /// How much left their wallet.
        amount: Money,
    },
    /// An order left the book; `released` escrow (money for a buy order, items at the order's station for a sell
    /// order; 0 for NPC orders and for filled orders) goes back to the owner.
    Closed {
        /// The order that left.
        order: OrderId,
        /// Its owner, who gets back what was released.
        owner: Owner,
        /// Its side: whether `released` is money or items.
        side: Side,
        /// Its item type (the kind of items a sell order releases).
        item: ItemTypeId,
        /// Its station (where a sell order's released items go back into the hangar).
        station: StationId,
        /// Whether it was filled, cancelled or expired.
        reason: CloseReason,
        /// The escrow given back: money for a buy order, items for a sell order.
        released: u64,
    },
}

/// Why an order left the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its whole quantity traded; nothing is left in escrow.
    Filled,
    /// Its owner cancelled it.
    Cancelled,
    /// Its expiry came (`Market::expire`).
    Expired,
}

/// A trade between a buy order and a sell order, at the resting order's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The buy order that traded.
    pub buy_order: OrderId,
    /// The sell order that traded.
    pub sell_order: OrderId,
    /// The buy order's owner, who gets the items.
    pub buyer: Owner,
    /// The sell order's owner, who gets the money less the sales tax.
    pub seller: Owner,
    /// The book both orders are in (for the daily history and the NPC desks).
    pub book: BookKey,
    /// Where the items change hands: the sell order's station. The buyer's items appear in their hangar there.
    pub station: StationId,
    /// Units traded; neither order's remaining quantity is exceeded.
    pub quantity: Quantity,
    /// The price per unit: the resting order's.
    pub price: Money,
    /// The buy order's own price: its escrow releases `quantity × buy_price`, of which `quantity × (buy_price −
    /// price)` goes back to the buyer's wallet (the buyer got a better price than they offered).
    pub buy_price: Money,
    /// Sales tax the seller pays out of the proceeds (0 when the seller is an NPC).
    pub sales_tax: Money,
    /// Which side was resting (the maker); the other side is the order that just arrived or was repriced.
    pub resting: Side,
}

impl Fill {
    /// The NPC trader on either side of the fill, with the side it took.
    pub fn npc(&self) -> impl Iterator<Item = (NpcTraderId, Side)> {
        let buyer = match self.buyer {
            Owner::Npc(id) => Some((id, Side::Buy)),
            Owner::Character(_) => None,
        };
        let seller = match self.seller {
            Owner::Npc(id) => Some((id, Side::Sell)),
            Owner::Character(_) => None,
        };
        buyer.into_iter().chain(seller)
    }
}
