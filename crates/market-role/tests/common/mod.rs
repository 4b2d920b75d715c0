//! What the market role's tests share: the repository's data, a small universe's stations, a store.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use orrery_market::{Station, StationId};
use orrery_market_role::{MarketService, MarketSetup, RateLimiter, load_setup};
use orrery_store::{SqliteStore, Store};

pub const VELDSPAR: u32 = 1230;
pub const TRITANIUM: u32 = 34;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

pub fn rules_csv() -> String {
    let path = data_dir().join("npc-pricing.csv");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn setup() -> MarketSetup {
    let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig { systems: 200, seed: 1 });
    load_setup(&data_dir(), &universe).expect("the repository's data/items.csv")
}

/// Three stations: two in one region (the first a hub's), one in another.
pub fn three_stations(setup: &MarketSetup) -> [StationId; 3] {
    let hub: &Station = setup.stations.iter().find(|s| s.hub).expect("a hub");
    let same = setup.stations.iter().find(|s| s.region == hub.region && s.id != hub.id).expect("two in a region");
    let other = setup.stations.iter().find(|s| s.region != hub.region).expect("two regions");
    [hub.id, same.id, other.id]
}

pub async fn file_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("orrery.db").display().to_string()).await.expect("open SQLite"))
}

pub async fn open(store: &Arc<dyn Store>) -> MarketService {
    MarketService::open(store.clone(), setup(), RateLimiter::unlimited()).await.expect("the market opens")
}
