//! The market role (issue 23's runtime half): the pure market core (`orrery-market`) run against the store.
//!
//! * [`MarketService`] ([`service`]): operations run in memory at once and are committed in batches, each batch
//!   in one store transaction with every balance it moved; the stored operation log is replayed and checked
//!   against the stored balances at start.
//! * [`Op`] ([`op`]): the operations as logged (JSON).
//! * [`RateLimiter`]: a token bucket per character against floods.
//! * [`stored_imbalances`]: the conservation identities over the stored rows alone.
//! * [`load_setup`]: the item catalogue, the NPC rules and the stations from the repository's data files and a
//!   universe.

pub mod op;
mod rate;
pub mod report;
pub mod role;
pub mod service;

use std::path::Path;

pub use op::{Op, OpError, OpResult, parse_rules};
pub use rate::RateLimiter;
pub use report::{EconomyReport, built_in_names, economy_report};
pub use role::{MarketHandle, RoleConfig, prepare_desks, serve, start};
pub use service::{DAY_MS, MarketService, MarketSetup, ServiceError, SubmitError, stored_imbalances};

/// Reads `items.csv` from `data_dir` and derives the stations of `universe`, with the default fees.
pub fn load_setup(data_dir: &Path, universe: &orrery_universe::Universe) -> Result<MarketSetup, String> {
    let path = data_dir.join("items.csv");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let name = path.display().to_string();
    let catalog = orrery_market::ItemCatalog::from_csv(orrery_universe::Input::new(&name, &mut reader))
        .map_err(|e| e.to_string())?;
    Ok(MarketSetup { fees: orrery_market::Fees::default(), catalog, stations: orrery_market::stations(universe) })
}
