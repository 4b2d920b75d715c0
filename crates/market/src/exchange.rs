//! The market with its balances, as the market role will run it: the order books, the [`Ledger`], the item
//! catalogue, the stations and the NPC trader desks together. Every operation checks everything a client can get
//! wrong first (unknown station or item, not docked there, too little money or items, bad amounts), so a refused
//! operation changes nothing; then it runs the market operation and applies its events to the ledger. The events
//! it returns are what the runtime commits in one store transaction.

use std::collections::BTreeMap;

use crate::error::MarketError;
use crate::event::Event;
use crate::fees::Fees;
use crate::ids::{
    BookKey, CharacterId, ItemTypeId, Money, NpcTraderId, OrderId, Owner, Quantity, RegionId, Side, StationId,
};
use crate::items::{ItemCatalog, ItemGroup};
use crate::ledger::{Ledger, LedgerError};
use crate::market::{Market, OrderRequest, validate_amounts};
use crate::npc::{NpcPrice, NpcRule, NpcRules};

/// Who is trading, and where they are docked (orders are placed at the station one is docked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trader {
    /// The character acting: the owner of the wallet, hangars and orders the operation touches.
    pub character: CharacterId,
    /// The station the character is docked at, or `None` in space; placing an order needs it to be the order's
    /// station.
    pub docked_at: Option<StationId>,
}

/// A player's new order, as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerOrder {
    /// Buy (holds money in escrow) or sell (holds items).
    pub side: Side,
    /// Where the order is placed; its region picks the book, and a sell order's items must be in the hangar here.
    pub station: StationId,
    /// The item type traded; it must be in the catalogue.
    pub item: ItemTypeId,
    /// Units to trade, signed as from the wire so that 0 and negative values are refused by name.
    pub quantity: i64,
    /// Price per unit in whole money units, signed as from the wire for the same reason.
    pub price: i64,
    /// When the order leaves the book if not filled, in the caller's time unit; must be after now.
    pub expires_at: u64,
}

/// Why the exchange refused an operation. All but `Inconsistent` are the client's mistakes and change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The order book refused the operation (bad amounts or expiry, unknown order, not the owner, same price).
    #[error(transparent)]
    Market(#[from] MarketError),
    /// The station is not one the exchange knows (`add_station`), so it has no region and no book.
    #[error("there is no station {0}")]
    UnknownStation(StationId),
    /// The item type is not in the catalogue (`data/items.csv`).
    #[error("there is no item type {0}")]
    UnknownItemType(ItemTypeId),
    /// An order placed at a station the character is not docked at (or while in space).
    #[error("orders are placed where one is docked: the order is at station {station}, the character is {}",
        match .docked_at { Some(s) => format!("docked at station {s}"), None => "in space".to_owned() })]
    NotDocked {
        /// The order's station.
        station: StationId,
        /// Where the character actually is (`None`: in space).
        docked_at: Option<StationId>,
    },
    /// The wallet cannot pay what the operation needs: a buy order's escrow and broker fee, a sell order's broker
    /// fee, or a price change's extra escrow and relist fee.
    #[error("{character} has {has} money, {needed} is needed (escrow and the broker fee)")]
    InsufficientFunds {
        /// Whose wallet.
        character: CharacterId,
        /// What the operation needs.
        needed: Money,
        /// What the wallet holds.
        has: Money,
    },
    /// A sell order for more items than the character has in their hangar at the order's station.
    #[error("{character} has {has} of item type {item} at station {station}, the order is for {needed}")]
    InsufficientItems {
        /// Whose hangar.
        character: CharacterId,
        /// The station whose hangar was looked at (the order's).
        station: StationId,
        /// The item type to sell.
        item: ItemTypeId,
        /// The order's quantity.
        needed: Quantity,
        /// What the hangar holds there.
        has: Quantity,
    },
    /// Mining (a faucet) was asked for an item that is not ore; nothing else comes out of an asteroid belt.
    #[error("item type {item} is {group}, not ore: only ore can be mined")]
    NotMinable {
        /// The item asked for.
        item: ItemTypeId,
        /// Its group, which is not ore.
        group: ItemGroup,
    },
    /// Mining asked for 0 or a negative quantity (signed as from the wire).
    #[error("quantity {0} is not positive")]
    NonPositiveQuantity(i64),
    /// An NPC desk was opened for an item whose group has no row in `data/npc-pricing.csv`, so its price could
    /// not move.
    #[error("no NPC price rule for the group {0} (data/npc-pricing.csv)")]
    NoNpcRule(ItemGroup),
    /// The market's events did not apply to the ledger: a bug, not the client's mistake.
    #[error("the market and the ledger disagree (a bug): {0}")]
    Inconsistent(#[from] LedgerError),
}

/// One NPC trader: a buy and a sell order for one item type at one hub, restocked and repriced every period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpcDesk {
    /// The desk's id: the owner of its orders (`Owner::Npc`).
    pub id: NpcTraderId,
    /// The trade hub its orders are placed at.
    pub station: StationId,
    /// The book it trades in: the hub's region and the item type.
    pub book: BookKey,
    /// Its item group's pricing rule (spread, stock, impact, recovery, bounds).
    pub rule: NpcRule,
    /// Its current price factor, moved at the end of each period by what players did.
    pub price: NpcPrice,
    /// The desk's buy order of this period, cancelled at the next restock if still open (the id stays after
    /// the order fills and leaves the book).
    pub buy_order: Option<OrderId>,
    /// The desk's sell order of this period, likewise.
    pub sell_order: Option<OrderId>,
    /// Units players bought from this desk in the current period.
    pub bought_from_npc: Quantity,
    /// Units players sold to this desk in the current period.
    pub sold_to_npc: Quantity,
}

/// The market, its ledger, the item catalogue, the stations and the NPC desks together: the one place an
/// operation is checked in full before anything changes (see the module documentation).
#[derive(Debug, Clone)]
pub struct Exchange {
    market: Market,
    ledger: Ledger,
    catalog: ItemCatalog,
    stations: BTreeMap<StationId, RegionId>,
    desks: Vec<NpcDesk>,
    /// The last operation's events (kept to reuse the allocation; not state).
    events: Vec<Event>,
}

impl Exchange {
    /// An exchange with no stations, no money, no items and no NPC desks yet, charging `fees` and trading the
    /// item types of `catalog`; stations, grants, mining and desks are added by the caller.
    pub fn new(fees: Fees, catalog: ItemCatalog) -> Self {
        Exchange {
            market: Market::new(fees),
            ledger: Ledger::new(),
            catalog,
            stations: BTreeMap::new(),
            desks: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The events of the last operation that returned none itself ([`Exchange::open_npc_desk`]: the desk's first
    /// orders, and any fills they made at once).
    pub fn last_events(&self) -> &[Event] {
        &self.events
    }

    /// Makes a station known, in its region.
    pub fn add_station(&mut self, station: StationId, region: RegionId) {
        self.stations.insert(station, region);
    }

    /// The order books, for depth views and a character's open orders (read-only: changes go through the
    /// exchange so the ledger follows).
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// The balances (wallets, escrow, hangars, faucets and sinks), for display and the conservation check.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The item types this exchange trades.
    pub fn catalog(&self) -> &ItemCatalog {
        &self.catalog
    }

    /// The NPC desks, in the order they were opened, with their current prices and this period's trade counts.
    pub fn desks(&self) -> &[NpcDesk] {
        &self.desks
    }

    /// The order book of an item at a station's region.
    pub fn book_at(&self, station: StationId, item: ItemTypeId) -> Result<BookKey, ExchangeError> {
        let region = *self.stations.get(&station).ok_or(ExchangeError::UnknownStation(station))?;
        self.catalog.get(item).ok_or(ExchangeError::UnknownItemType(item))?;
        Ok(BookKey { region, item })
    }

    /// Faucet: a new character's starting money.
    pub fn grant(&mut self, character: CharacterId, amount: Money) -> Result<(), ExchangeError> {
        Ok(self.ledger.grant(character, amount)?)
    }

    /// Faucet: ore mined by a character, in their hangar at the station they docked at.
    pub fn mine(
        &mut self,
        character: CharacterId,
        station: StationId,
        item: ItemTypeId,
        quantity: i64,
    ) -> Result<(), ExchangeError> {
        self.book_at(station, item)?;
        let group = self.catalog.get(item).map(|t| t.group).ok_or(ExchangeError::UnknownItemType(item))?;
        if group != ItemGroup::Ore {
            return Err(ExchangeError::NotMinable { item, group });
        }
        if quantity <= 0 {
            return Err(ExchangeError::NonPositiveQuantity(quantity));
        }
        Ok(self.ledger.mine(character, station, item, quantity as Quantity)?)
    }

    /// Places a player's order (see [`Market::place`]) after checking that the character is docked at the
    /// order's station and can pay: a buy order needs `quantity × price` plus the broker fee on that value in the
    /// wallet, a sell order the items in the hangar there and the broker fee in the wallet (the fee is only
    /// charged on what rests, but checked as if all of it would). Returns the order's id and the events.
    pub fn place(
        &mut self,
        trader: Trader,
        order: PlayerOrder,
        now: u64,
    ) -> Result<(OrderId, &[Event]), ExchangeError> {
        let book = self.book_at(order.station, order.item)?;
        if trader.docked_at != Some(order.station) {
            return Err(ExchangeError::NotDocked { station: order.station, docked_at: trader.docked_at });
        }
        let request = OrderRequest {
            owner: Owner::Character(trader.character),
            side: order.side,
            book,
            station: order.station,
            quantity: order.quantity,
            price: order.price,
            expires_at: order.expires_at,
        };
        let valid = self.market.validate(&request, now)?;
        let fee = self.market.fees().broker_fee(valid.value);
        let money_needed = match order.side {
            Side::Buy => valid.value + fee,
            Side::Sell => {
                let has = self.ledger.hangar(trader.character, order.station, order.item);
                if has < valid.quantity {
                    let (character, station, item) = (trader.character, order.station, order.item);
                    return Err(ExchangeError::InsufficientItems {
                        character,
                        station,
                        item,
                        needed: valid.quantity,
                        has,
                    });
                }
                fee
            }
        };
        self.require_money(trader.character, money_needed)?;
        self.events.clear();
        let id = self.market.place(&request, now, &mut self.events)?;
        self.commit()?;
        Ok((id, &self.events))
    }

    /// Changes the price of a character's order (see [`Market::modify`]); a buy order must be able to pay the
    /// higher escrow and the relist fee, a sell order the relist fee.
    pub fn modify(
        &mut self,
        character: CharacterId,
        order: OrderId,
        new_price: i64,
    ) -> Result<&[Event], ExchangeError> {
        let owner = Owner::Character(character);
        let repricing = self.market.validate_reprice(owner, order, new_price)?;
        let old_value = repricing.order.remaining * repricing.order.price;
        let fee = self.market.fees().broker_fee(repricing.new_value);
        let money_needed = match repricing.order.side {
            Side::Buy => repricing.new_value.saturating_sub(old_value) + fee,
            Side::Sell => fee,
        };
        self.require_money(character, money_needed)?;
        self.events.clear();
        self.market.modify(owner, order, new_price, &mut self.events)?;
        self.commit()?;
        Ok(&self.events)
    }

    /// Cancels a character's order; its escrow goes back.
    pub fn cancel(&mut self, character: CharacterId, order: OrderId) -> Result<&[Event], ExchangeError> {
        self.events.clear();
        self.market.cancel(Owner::Character(character), order, &mut self.events)?;
        self.commit()?;
        Ok(&self.events)
    }

    /// Closes every order that has expired by `now`; their escrow goes back.
    pub fn expire(&mut self, now: u64) -> Result<&[Event], ExchangeError> {
        self.events.clear();
        self.market.expire(now, &mut self.events);
        self.commit()?;
        Ok(&self.events)
    }

    /// Opens an NPC trader desk for `item` at `station`, under its group's rule, at the base price; its orders are
    /// placed at once (and may trade with player orders they cross). Refused if the desk's full stock at the
    /// highest price its bounds allow would be worth more than [`crate::MAX_AMOUNT`].
    pub fn open_npc_desk(
        &mut self,
        station: StationId,
        item: ItemTypeId,
        rules: &NpcRules,
        now: u64,
    ) -> Result<NpcTraderId, ExchangeError> {
        let book = self.book_at(station, item)?;
        let item_type = self.catalog.get(item).ok_or(ExchangeError::UnknownItemType(item))?;
        let rule = *rules.get(item_type.group).ok_or(ExchangeError::NoNpcRule(item_type.group))?;
        // The desk's dearest order (its full stock at the highest price the bounds allow) must fit, so that no
        // later period can fail to restock.
        let dearest = rule.highest_quotes(item_type.base_price);
        validate_amounts(rule.stock as i64, dearest.sell as i64)?;
        let id = NpcTraderId(self.desks.len() as u32);
        self.desks.push(NpcDesk {
            id,
            station,
            book,
            rule,
            price: NpcPrice::new(item_type.base_price),
            buy_order: None,
            sell_order: None,
            bought_from_npc: 0,
            sold_to_npc: 0,
        });
        self.events.clear();
        self.restock(id.0 as usize, now)?;
        Ok(id)
    }

    /// The end of an NPC pricing period: every desk moves its price by what players did since the last period
    /// (see [`crate::npc`]) and replaces its orders with fresh stock at the new prices.
    pub fn npc_period(&mut self, now: u64) -> Result<&[Event], ExchangeError> {
        self.events.clear();
        for desk in 0..self.desks.len() {
            let d = &mut self.desks[desk];
            d.price.step(&d.rule, d.bought_from_npc, d.sold_to_npc);
            (d.bought_from_npc, d.sold_to_npc) = (0, 0);
            self.restock(desk, now)?;
        }
        Ok(&self.events)
    }

    /// Gives every desk its group's rule from `rules` (an operator edited `data/npc-pricing.csv`): the new spread,
    /// stock, impact, recovery and bounds apply from the next period on; a desk keeps its current price factor.
    /// Refused, changing nothing, if a desk's group has no rule or its dearest order would no longer fit
    /// [`crate::MAX_AMOUNT`]. Returns how many desks' rules changed.
    pub fn retune_desks(&mut self, rules: &NpcRules) -> Result<usize, ExchangeError> {
        let mut new_rules = Vec::with_capacity(self.desks.len());
        for desk in &self.desks {
            let item_type = self.catalog.get(desk.book.item).ok_or(ExchangeError::UnknownItemType(desk.book.item))?;
            let rule = *rules.get(item_type.group).ok_or(ExchangeError::NoNpcRule(item_type.group))?;
            validate_amounts(rule.stock as i64, rule.highest_quotes(item_type.base_price).sell as i64)?;
            new_rules.push(rule);
        }
        let mut changed = 0;
        for (desk, rule) in self.desks.iter_mut().zip(new_rules) {
            if desk.rule != rule {
                desk.rule = rule;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Cancels a desk's open orders and places new ones at its current quotes, appending to the events.
    fn restock(&mut self, desk: usize, now: u64) -> Result<(), ExchangeError> {
        let d = &self.desks[desk];
        let owner = Owner::Npc(d.id);
        let quotes = d.price.quotes(&d.rule);
        let (book, station, stock) = (d.book, d.station, d.rule.stock);
        for order in [d.buy_order, d.sell_order].into_iter().flatten() {
            if self.market.order(order).is_some() {
                let from = self.events.len();
                self.market.cancel(owner, order, &mut self.events)?;
                self.commit_from(from)?;
            }
        }
        for (side, price) in [(Side::Buy, quotes.buy), (Side::Sell, quotes.sell)] {
            let request = OrderRequest {
                owner,
                side,
                book,
                station,
                quantity: stock as i64,
                price: price as i64,
                expires_at: u64::MAX,
            };
            let from = self.events.len();
            let id = self.market.place(&request, now, &mut self.events)?;
            self.commit_from(from)?;
            match side {
                Side::Buy => self.desks[desk].buy_order = Some(id),
                Side::Sell => self.desks[desk].sell_order = Some(id),
            }
        }
        Ok(())
    }

    fn require_money(&self, character: CharacterId, needed: Money) -> Result<(), ExchangeError> {
        let has = self.ledger.wallet(character);
        if has < needed {
            return Err(ExchangeError::InsufficientFunds { character, needed, has });
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), ExchangeError> {
        self.commit_from(0)
    }

    /// Applies the events from `from` on to the ledger, and counts NPC desks' trades for their next period.
    fn commit_from(&mut self, from: usize) -> Result<(), ExchangeError> {
        for event in &self.events[from..] {
            self.ledger.apply(event)?;
            if let Event::Filled(fill) = event {
                for (npc, side) in fill.npc() {
                    if let Some(desk) = self.desks.get_mut(npc.0 as usize) {
                        match side {
                            Side::Buy => desk.sold_to_npc += fill.quantity,
                            Side::Sell => desk.bought_from_npc += fill.quantity,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
