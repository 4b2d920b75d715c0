//! NPC traders at a hub answer to players: sustained selling to the desk lowers its price (within the bounds of
//! `data/npc-pricing.csv`), and once it stops the price recovers to the base — through the market role, with
//! the desk's prices in the store. An operator's edited rules take effect at the next start without a rebuild.

mod common;

use common::*;
use orrery_market::npc::UNIT_FACTOR;
use orrery_market_role::{MarketService, Op, RateLimiter};

const PERIOD_MS: u64 = 3_600_000;

#[tokio::test]
async fn sustained_selling_moves_the_npc_price_and_it_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = file_store(&dir).await;
    let mut market = open(&store).await;
    let hub = three_stations(&setup())[0].0;
    market.submit(&Op::OpenDesk { station: hub, item: VELDSPAR, rules_csv: rules_csv() }, 0).expect("desk");
    market.submit(&Op::Grant { character: 1, amount: 10_000_000 }, 0).expect("grant");
    market.commit().await.expect("commit");
    let base_buy = store.economy().desks().await.expect("desks")[0].buy_price;

    let mut now = 0;
    for _ in 0..20 {
        now += PERIOD_MS;
        market.submit(&Op::Mine { character: 1, station: hub, item: VELDSPAR, quantity: 500_000 }, now).expect("mine");
        let sell = Op::Place {
            character: 1,
            docked_at: Some(hub),
            buy: false,
            station: hub,
            item: VELDSPAR,
            quantity: 500_000,
            price: 1,
            expires_at: now + 1,
        };
        market.submit(&sell, now).expect("sell to the NPC");
        market.submit(&Op::NpcPeriod, now).expect("period");
        market.commit().await.expect("commit");
    }
    let fallen = store.economy().desks().await.expect("desks")[0];
    assert!(fallen.buy_price < base_buy * 90 / 100, "the price fell: {} from {base_buy}", fallen.buy_price);
    assert!(fallen.factor_ppm >= UNIT_FACTOR / 2, "and stayed within its bounds");

    for _ in 0..200 {
        now += PERIOD_MS;
        market.submit(&Op::NpcPeriod, now).expect("period");
    }
    market.commit().await.expect("commit");
    let recovered = store.economy().desks().await.expect("desks")[0];
    assert_eq!(recovered.factor_ppm, UNIT_FACTOR, "back at the base price");
    assert_eq!(recovered.buy_price, base_buy);

    // An operator edits the rules (no rebuild): a restarted market retunes its desks.
    drop(market);
    let mut market = MarketService::open(store.clone(), setup(), RateLimiter::unlimited()).await.expect("reopens");
    let edited =
        rules_csv().replace("ore,1000,500000,200,500000,1000,5000,20000", "ore,4000,500000,200,500000,1000,5000,20000");
    assert_ne!(edited, rules_csv(), "the test edits the ore row");
    market.submit(&Op::Retune { rules_csv: edited }, now).expect("retune");
    market.submit(&Op::NpcPeriod, now + PERIOD_MS).expect("period");
    market.commit().await.expect("commit");
    let wider = store.economy().desks().await.expect("desks")[0];
    assert!(
        wider.buy_price < base_buy * 85 / 100,
        "a 40 % spread: the desk buys at {} (was {base_buy})",
        wider.buy_price
    );
    drop(market);
    open(&store).await;
}
