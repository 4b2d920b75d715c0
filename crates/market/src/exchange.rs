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
    pub character: CharacterId,
    pub docked_at: Option<StationId>,
}

/// A player's new order, as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerOrder {
    pub side: Side,
    pub station: StationId,
    pub item: ItemTypeId,
    pub quantity: i64,
    pub price: i64,
    pub expires_at: u64,
}

/// Why the exchange refused an operation. All but `Inconsistent` are the client's mistakes and change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Market(#[from] MarketError),
    #[error("there is no station {0}")]
    UnknownStation(StationId),
    #[error("there is no item type {0}")]
    UnknownItemType(ItemTypeId),
    #[error("orders are placed where one is docked: the order is at station {station}, the character is {}",
        match .docked_at { Some(s) => format!("docked at station {s}"), None => "in space".to_owned() })]
    NotDocked { station: StationId, docked_at: Option<StationId> },
    #[error("{character} has {has} money, {needed} is needed (escrow and the broker fee)")]
    InsufficientFunds { character: CharacterId, needed: Money, has: Money },
    #[error("{character} has {has} of item type {item} at station {station}, the order is for {needed}")]
    InsufficientItems { character: CharacterId, station: StationId, item: ItemTypeId, needed: Quantity, has: Quantity },
    #[error("item type {item} is {group}, not ore: only ore can be mined")]
    NotMinable { item: ItemTypeId, group: ItemGroup },
    #[error("quantity {0} is not positive")]
    NonPositiveQuantity(i64),
    #[error("no NPC price rule for the group {0} (data/npc-pricing.csv)")]
    NoNpcRule(ItemGroup),
    /// The market's events did not apply to the ledger: a bug, not the client's mistake.
    #[error("the market and the ledger disagree (a bug): {0}")]
    Inconsistent(#[from] LedgerError),
}

/// One NPC trader: a buy and a sell order for one item type at one hub, restocked and repriced every period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpcDesk {
    pub id: NpcTraderId,
    pub station: StationId,
    pub book: BookKey,
    pub rule: NpcRule,
    pub price: NpcPrice,
    /// The desk's orders of this period (gone from the book once filled).
    pub buy_order: Option<OrderId>,
    pub sell_order: Option<OrderId>,
    /// Units players bought from this desk in the current period.
    pub bought_from_npc: Quantity,
    /// Units players sold to this desk in the current period.
    pub sold_to_npc: Quantity,
}

/// See the module documentation.
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

    /// Makes a station known, in its region.
    pub fn add_station(&mut self, station: StationId, region: RegionId) {
        self.stations.insert(station, region);
    }

    pub fn market(&self) -> &Market {
        &self.market
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn catalog(&self) -> &ItemCatalog {
        &self.catalog
    }

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
