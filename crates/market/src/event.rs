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
        order: OrderId,
        owner: Owner,
        side: Side,
        book: BookKey,
        station: StationId,
        price: Money,
        quantity: Quantity,
        expires_at: u64,
        escrow: u64,
    },
    /// A buy order's price changed (`modify`): its escrow goes from `remaining × old_price` to
    /// `remaining × new_price`, the difference taken from or returned to the wallet. The order lost its time
    /// priority; fills may follow at once.
    Repriced { order: OrderId, owner: Owner, side: Side, remaining: Quantity, old_price: Money, new_price: Money },
    /// Two orders traded.
    Filled(Fill),
    /// A player paid the broker fee for resting `order` in the book (a sink).
    BrokerFee { order: OrderId, owner: Owner, amount: Money },
    /// An order left the book; `released` escrow (money for a buy order, items at the order's station for a sell
    /// order; 0 for NPC orders and for filled orders) goes back to the owner.
    Closed {
        order: OrderId,
        owner: Owner,
        side: Side,
        item: ItemTypeId,
        station: StationId,
        reason: CloseReason,
        released: u64,
    },
}

/// Why an order left the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Filled,
    Cancelled,
    Expired,
}

/// A trade between a buy order and a sell order, at the resting order's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub buy_order: OrderId,
    pub sell_order: OrderId,
    pub buyer: Owner,
    pub seller: Owner,
    pub book: BookKey,
    /// Where the items change hands: the sell order's station. The buyer's items appear in their hangar there.
    pub station: StationId,
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
