//! A trade hub in a few lines: the shipped item catalogue and NPC rules, an NPC desk for Veldspar at Jita, a miner
//! who sells to it every period until its price sags, a trader who buys from another player, and then quiet
//! periods in which the price recovers. Prints the NPC's prices period by period and the conservation check.
//!
//! `cargo run -p orrery-market --example trade_hub [DATA_DIR]` (DATA_DIR defaults to the repository's `data/`).

use std::error::Error;
use std::path::PathBuf;

use orrery_market::{
    CharacterId, Exchange, Fees, ItemCatalog, ItemGroup, NpcRules, PlayerOrder, RegionId, Side, StationId, Trader,
};
use orrery_universe::Input;

fn main() -> Result<(), Box<dyn Error>> {
    let data = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"), PathBuf::from);
    let read = |name: &str| -> Result<String, Box<dyn Error>> {
        let path = data.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()).into())
    };
    let catalog = ItemCatalog::from_csv(Input::new("items.csv", &mut read("items.csv")?.as_bytes()))?;
    let rules = NpcRules::from_csv(Input::new("npc-pricing.csv", &mut read("npc-pricing.csv")?.as_bytes()))?;
    let veldspar = catalog.by_name("Veldspar").ok_or("items.csv has no Veldspar")?.id;
    let rule = *rules.get(ItemGroup::Ore).ok_or("npc-pricing.csv has no rule for ore")?;
    println!("{} item types; the ore rule: {rule:?}", catalog.len());

    let jita = StationId(60003760);
    let mut exchange = Exchange::new(Fees::default(), catalog);
    exchange.add_station(jita, RegionId(10000002));
    let desk = exchange.open_npc_desk(jita, veldspar, &rules, 0)?;
    let (miner, trader) = (CharacterId(1), CharacterId(2));
    exchange.grant(miner, 100_000_000)?;
    exchange.grant(trader, 10_000_000_000)?;
    let docked = |character| Trader { character, docked_at: Some(jita) };

    // A player-to-player trade first: the miner lists ore between the NPC's buy and sell prices (1,425 and 1,575),
    // so the trader buys half of it from the miner rather than from the NPC.
    exchange.mine(miner, jita, veldspar, 10_000)?;
    let listing = PlayerOrder {
        side: Side::Sell,
        station: jita,
        item: veldspar,
        quantity: 10_000,
        price: 1_500,
        expires_at: 1_000,
    };
    exchange.place(docked(miner), listing, 0)?;
    let (_, events) =
        exchange.place(docked(trader), PlayerOrder { side: Side::Buy, quantity: 5_000, price: 1_550, ..listing }, 0)?;
    println!(
        "the trader's buy: {} events, the trader now holds {} Veldspar",
        events.len(),
        exchange.ledger().hangar(trader, jita, veldspar)
    );

    println!("\nperiod  NPC buys at  NPC sells at   (the miner sells {} units to the NPC each period)", rule.stock);
    let show = |exchange: &Exchange, period: u64| {
        let quotes = exchange.desks()[desk.0 as usize].price.quotes(&rule);
        println!("{period:>6}  {:>11}  {:>12}", quotes.buy, quotes.sell);
    };
    show(&exchange, 0);
    for period in 1..=20 {
        exchange.mine(miner, jita, veldspar, rule.stock as i64)?;
        let dump = PlayerOrder {
            side: Side::Sell,
            station: jita,
            item: veldspar,
            quantity: rule.stock as i64,
            price: 1,
            expires_at: period + 1,
        };
        exchange.place(docked(miner), dump, period)?;
        exchange.npc_period(period)?;
        show(&exchange, period);
    }
    println!("...nobody sells any more");
    for period in 21..=80 {
        exchange.npc_period(period)?;
        if period % 10 == 0 {
            show(&exchange, period);
        }
    }

    let ledger = exchange.ledger();
    let flows = ledger.money_flows();
    println!(
        "\nmoney supply {}; faucets: grants {}, NPC purchases {}; sinks: broker fees {}, sales tax {}, NPC sales {}",
        ledger.money_supply(),
        flows.grants,
        flows.npc_purchases,
        flows.broker_fees,
        flows.sales_tax,
        flows.npc_sales
    );
    println!(
        "conservation: money imbalance {}, Veldspar imbalance {}",
        ledger.money_imbalance(),
        ledger.item_imbalance(veldspar)
    );
    if ledger.money_imbalance() != 0 || ledger.item_imbalance(veldspar) != 0 {
        return Err("conservation failed".into());
    }
    Ok(())
}
