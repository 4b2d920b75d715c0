//! Typed identifiers and the integer amounts the market counts in, so that a station id can never be passed where
//! a character id is meant and no money is ever a float.

use std::fmt;

pub use orrery_universe::RegionId;

/// An amount of money in the smallest unit (think of it as hundredths of an ISK). Never negative: a debit that
/// would take more than there is is refused before anything changes.
pub type Money = u64;

/// A number of items of one type.
pub type Quantity = u64;

/// The largest amount of money, quantity or order value the market accepts: `i64::MAX`, so that every amount also
/// fits the signed 64-bit integer columns of SQLite and PostgreSQL. Two such amounts added never overflow a `u64`.
pub const MAX_AMOUNT: u64 = i64::MAX as u64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A player character: the owner of a wallet, of hangars and of orders.
    CharacterId(u64)
);
id_type!(
    /// A station (where orders are placed and items are kept); it lies in one region.
    StationId(u64)
);
id_type!(
    /// An item type of the catalogue (`data/items.csv`).
    ItemTypeId(u32)
);
id_type!(
    /// An order, numbered by the market in the order it was accepted (never reused).
    OrderId(u64)
);
id_type!(
    /// An NPC trader desk: the NPC buy and sell orders of one item type at one trade hub.
    NpcTraderId(u32)
);

/// Whose an order is: a player's (backed by escrow) or an NPC trader's (backed by nothing: the NPC side of a trade
/// is a faucet or a sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A player character's order, whose money or items are held in escrow.
    Character(CharacterId),
    /// An NPC desk's order, which creates or destroys what it trades.
    Npc(NpcTraderId),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Character(id) => write!(f, "character {id}"),
            Owner::Npc(id) => write!(f, "NPC trader {id}"),
        }
    }
}

/// The side of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Offers money for items; holds `quantity × price` money in escrow.
    Buy,
    /// Offers items for money; holds `quantity` items in escrow.
    Sell,
}

/// One order book: one item type in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookKey {
    /// The region whose stations all trade in this book (EVE's region-wide range).
    pub region: RegionId,
    /// The item type traded.
    pub item: ItemTypeId,
}
