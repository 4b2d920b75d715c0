//! The market core of orrery: regional order books with escrow, fees and NPC traders whose prices answer to what
//! players do — pure and deterministic, like the other cores (no I/O beyond the loaders' `Read`ers, no async, no
//! clocks: times are numbers passed in). Not yet wired to the cluster: the market role, its store tables and
//! protocol are later work (docs/market.md).
//!
//! * [`Market`]: one order book per region and item type; limit orders matched price-then-time at the resting
//!   order's price, partial fills, cancel, modify price, expiry. Operations append [`Event`]s.
//! * [`Ledger`]: wallets, escrow, hangars per station, faucets and sinks; applies events, and says whether money
//!   and every item type are conserved.
//! * [`Exchange`]: both together with the item catalogue, stations and NPC desks; refuses bad input before
//!   anything changes.
//! * [`History`]: daily open, high, low, close and volume per region and item type, from the fills.
//! * [`ItemCatalog`] (`data/items.csv`) and [`NpcRules`] (`data/npc-pricing.csv`): the economy as data.
//!
//! ```
//! use orrery_market::{CharacterId, Exchange, Fees, ItemCatalog, PlayerOrder, RegionId, Side, StationId, Trader};
//! use orrery_universe::Input;
//!
//! let mut items = "type_id,name,group,volume_l,base_price\n1230,Veldspar,ore,100,1500\n".as_bytes();
//! let mut exchange = Exchange::new(Fees::default(), ItemCatalog::from_csv(Input::new("items.csv", &mut items))?);
//! let (hub, veldspar) = (StationId(60003760), orrery_market::ItemTypeId(1230));
//! exchange.add_station(hub, RegionId(10000002));
//! let (miner, buyer) = (CharacterId(1), CharacterId(2));
//! exchange.mine(miner, hub, veldspar, 1_000)?;
//! exchange.grant(buyer, 10_000_000)?;
//! exchange.grant(miner, 100_000)?; // for the broker fee on the sell order's resting part
//!
//! let at_hub = |character| Trader { character, docked_at: Some(hub) };
//! let sell = PlayerOrder { side: Side::Sell, station: hub, item: veldspar, quantity: 1_000, price: 1_600, expires_at: 100 };
//! exchange.place(at_hub(miner), sell, 0)?;
//! let buy = PlayerOrder { side: Side::Buy, quantity: 400, price: 1_700, ..sell };
//! exchange.place(at_hub(buyer), buy, 1)?;
//!
//! // The buyer paid the resting sell order's price, 1,600 a unit, and got the ore at the hub.
//! assert_eq!(exchange.ledger().hangar(buyer, hub, veldspar), 400);
//! assert_eq!(exchange.ledger().wallet(buyer), 10_000_000 - 400 * 1_600);
//! assert_eq!(exchange.ledger().money_imbalance(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod book;
mod error;
mod event;
mod exchange;
mod expiry;
mod fees;
mod history;
mod ids;
mod items;
mod ledger;
mod market;
pub mod npc;
pub mod stations;

pub use book::RestingOrder;
pub use error::MarketError;
pub use event::{CloseReason, Event, Fill};
pub use exchange::{Exchange, ExchangeError, NpcDesk, PlayerOrder, Trader};
pub use fees::{BASIS_POINTS, FeeRateError, Fees, share};
pub use history::{DayStats, History};
pub use ids::{
    BookKey, CharacterId, ItemTypeId, MAX_AMOUNT, Money, NpcTraderId, OrderId, Owner, Quantity, RegionId, Side,
    StationId,
};
pub use items::{ItemCatalog, ItemGroup, ItemType};
pub use ledger::{Escrow, Held, ItemFlows, Ledger, LedgerError, MoneyFlows};
pub use market::{Depth, Market, OrderRequest, Repricing, ValidOrder, escrow, validate_amounts};
pub use npc::{NpcPrice, NpcQuotes, NpcRule, NpcRules};
pub use stations::{Station, station_system, stations};
