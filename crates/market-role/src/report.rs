//! What operators see of the economy (`GET /api/v1/economy`): the money supply, faucets and sinks per day, the
//! most traded item types, the NPC desks' prices, and the conservation check over the stored rows — all read from
//! the store, so it works wherever the market role runs.

use std::collections::BTreeMap;

use orrery_store::{OwnerRef, Store, StoreError};
use serde::Serialize;

use crate::service::DAY_MS;

/// The economy at a glance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EconomyReport {
    /// All money that exists: Σ wallets + money held by open buy orders.
    pub money_supply: u64,
    /// Of which held in escrow by open buy orders.
    pub escrowed_money: u64,
    /// Wallets with money.
    pub wallets: usize,
    /// Orders resting in the books (players' and NPCs').
    pub open_orders: usize,
    /// Per day (oldest first): money faucets and sinks by kind, and items mined and traded with NPCs.
    pub days: Vec<DayFlows>,
    /// The most traded item types over the period, most first.
    pub most_traded: Vec<Traded>,
    /// Every NPC desk's current prices.
    pub npc_desks: Vec<Desk>,
    /// Whether money and every item type balance over the stored rows (`imbalances` lists those that do not).
    pub conservation: Conservation,
}

/// One day's flows.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayFlows {
    /// Days since the Unix epoch.
    pub day: u64,
    /// Money that came into the game, by kind (grant, npc_purchase).
    pub faucets: BTreeMap<String, u64>,
    /// Money that left it, by kind (broker_fee, sales_tax, npc_sale).
    pub sinks: BTreeMap<String, u64>,
    /// Units of items, by kind (mined, npc_sale, npc_purchase), all types together.
    pub items: BTreeMap<String, u64>,
}

/// A traded item type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Traded {
    /// Its id.
    pub type_id: u32,
    /// Its name (`data/items.csv`), or `""`.
    pub name: String,
    /// Units traded.
    pub volume: u64,
    /// Fills.
    pub fills: u64,
}

/// An NPC desk.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Desk {
    /// Its id.
    pub desk_id: u32,
    /// Its hub station.
    pub station_id: u64,
    /// What it trades.
    pub type_id: u32,
    /// Its name.
    pub name: String,
    /// What it pays players.
    pub buy_price: u64,
    /// What it asks.
    pub sell_price: u64,
    /// Its price factor in millionths of the base price (1,000,000 = base).
    pub factor_ppm: u64,
}

/// The conservation check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conservation {
    /// Money and every item type balance.
    pub ok: bool,
    /// `(type_id, imbalance)` of those that do not (type 0 is money), as strings (the values are i128).
    pub imbalances: Vec<(u32, String)>,
}

/// Reads the report for the last `days` days (at least 1) at `now_ms`; `names` gives item names.
pub async fn economy_report(
    store: &dyn Store,
    days: u32,
    now_ms: u64,
    names: &(dyn Fn(u32) -> Option<String> + Sync),
) -> Result<EconomyReport, StoreError> {
    let economy = store.economy();
    let since = (now_ms / DAY_MS).saturating_sub(u64::from(days.max(1)) - 1);
    let balances = economy.economy_balances().await?;
    let escrowed_money: u64 = balances
        .open_orders
        .iter()
        .filter(|o| o.buy && matches!(o.owner, OwnerRef::Character(_)))
        .map(|o| o.escrow)
        .sum();
    let in_wallets: u64 = balances.wallets.iter().map(|w| w.balance).sum();
    let mut by_day: BTreeMap<u64, DayFlows> = BTreeMap::new();
    for flow in economy.flows_since(since).await? {
        let day = by_day.entry(flow.day).or_insert_with(|| DayFlows {
            day: flow.day,
            faucets: BTreeMap::new(),
            sinks: BTreeMap::new(),
            items: BTreeMap::new(),
        });
        let bucket = match (flow.type_id, flow.kind.as_str()) {
            (0, "grant" | "npc_purchase") => &mut day.faucets,
            (0, _) => &mut day.sinks,
            _ => &mut day.items,
        };
        *bucket.entry(flow.kind).or_default() += flow.amount;
    }
    let name = |type_id| names(type_id).unwrap_or_default();
    let most_traded = economy
        .most_traded(since, 10)
        .await?
        .into_iter()
        .map(|t| Traded { type_id: t.type_id, name: name(t.type_id), volume: t.volume, fills: t.fills })
        .collect();
    let npc_desks = economy
        .desks()
        .await?
        .into_iter()
        .map(|d| Desk {
            desk_id: d.desk_id,
            station_id: d.station_id,
            type_id: d.type_id,
            name: name(d.type_id),
            buy_price: d.buy_price,
            sell_price: d.sell_price,
            factor_ppm: d.factor_ppm,
        })
        .collect();
    let imbalances: Vec<(u32, String)> =
        crate::stored_imbalances(&balances).into_iter().map(|(t, v)| (t, v.to_string())).collect();
    Ok(EconomyReport {
        money_supply: in_wallets.saturating_add(escrowed_money),
        escrowed_money,
        wallets: balances.wallets.iter().filter(|w| w.balance > 0).count(),
        open_orders: balances.open_orders.len(),
        days: by_day.into_values().collect(),
        most_traded,
        npc_desks,
        conservation: Conservation { ok: imbalances.is_empty(), imbalances },
    })
}

/// Item names of the built-in catalogue.
pub fn built_in_names() -> impl Fn(u32) -> Option<String> + Send + Sync + 'static {
    let mut bytes = crate::role::BUILT_IN_ITEMS.as_bytes();
    let catalog = orrery_market::ItemCatalog::from_csv(orrery_universe::Input::new("items.csv", &mut bytes)).ok();
    move |type_id| catalog.as_ref()?.get(orrery_market::ItemTypeId(type_id)).map(|t| t.name.clone())
}
