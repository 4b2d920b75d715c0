//! What the tests share: the shipped data files and a small market to trade in.
#![allow(dead_code)] // each test file uses its own part of this

use std::path::PathBuf;

use orrery_market::{
    BookKey, CharacterId, Exchange, Fees, ItemCatalog, ItemTypeId, Ledger, Market, NpcDesk, NpcRules, OrderRequest,
    Owner, RegionId, Side, StationId,
};
use orrery_universe::Input;

pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

fn read(name: &str) -> String {
    let path = data_file(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the repository's {} is missing: {e}", path.display()))
}

/// `data/items.csv`, as shipped.
pub fn catalog() -> ItemCatalog {
    ItemCatalog::from_csv(Input::new("data/items.csv", &mut read("items.csv").as_bytes())).expect("items.csv loads")
}

/// `data/npc-pricing.csv`, as shipped.
pub fn npc_rules() -> NpcRules {
    NpcRules::from_csv(Input::new("data/npc-pricing.csv", &mut read("npc-pricing.csv").as_bytes()))
        .expect("npc-pricing.csv loads")
}

pub const THE_FORGE: RegionId = RegionId(10000002);
pub const DOMAIN: RegionId = RegionId(10000043);
pub const JITA: StationId = StationId(60003760);
pub const PERIMETER: StationId = StationId(60000361);
pub const AMARR: StationId = StationId(60008494);
pub const TRITANIUM: ItemTypeId = ItemTypeId(34);
pub const VELDSPAR: ItemTypeId = ItemTypeId(1230);
pub const SCORDITE: ItemTypeId = ItemTypeId(1228);
pub const RIFTER: ItemTypeId = ItemTypeId(587);

pub const BOOK: BookKey = BookKey { region: THE_FORGE, item: TRITANIUM };

/// An exchange over the shipped catalogue with two stations in The Forge and one in Domain.
pub fn exchange(fees: Fees) -> Exchange {
    let mut exchange = Exchange::new(fees, catalog());
    exchange.add_station(JITA, THE_FORGE);
    exchange.add_station(PERIMETER, THE_FORGE);
    exchange.add_station(AMARR, DOMAIN);
    exchange
}

/// Fees that make the arithmetic of a test easy to follow.
pub const ROUND_FEES: Fees = Fees { broker_fee_bp: 100, min_broker_fee: 1, sales_tax_bp: 1_000 };

pub fn player(id: u64) -> Owner {
    Owner::Character(CharacterId(id))
}

/// A request in [`BOOK`] at Jita expiring at 1,000.
pub fn request(owner: Owner, side: Side, quantity: i64, price: i64) -> OrderRequest {
    OrderRequest { owner, side, book: BOOK, station: JITA, quantity, price, expires_at: 1_000 }
}

pub const BOOK_VELDSPAR: BookKey = BookKey { region: THE_FORGE, item: VELDSPAR };

/// What an exchange holds, to compare before and after a refused operation.
pub fn state(exchange: &Exchange) -> (Market, Ledger, Vec<NpcDesk>) {
    (exchange.market().clone(), exchange.ledger().clone(), exchange.desks().to_vec())
}
