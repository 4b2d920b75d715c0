//! A market role killed in the middle of trading (its task dropped at whatever await it was in — between two
//! commits or inside one, with its store connections closed as a killed process's would be) and restarted:
//! no fill half-applied, no escrow lost, no order filled twice. The restart replays the log and refuses to
//! open unless the replay gives exactly the stored wallets, hangars and open orders (remaining quantity, price
//! and escrow of each); the identities are checked over the stored rows; and every commit the killed market
//! reported done is in the log.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use orrery_market_role::{MarketService, Op, RateLimiter, stored_imbalances};
use orrery_store::{SqliteStore, Store};

async fn trade(path: String, round: u64, committed: Arc<AtomicU64>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
    let mut market = MarketService::open(store, setup(), RateLimiter::unlimited()).await.expect("reopens");
    let stations = three_stations(&setup());
    let hub = stations[0].0;
    let mut i = 0u64;
    loop {
        let now = round * 1_000_000 + i;
        let character = 1 + i % 5;
        let op = match i % 7 {
            0 => Op::Grant { character, amount: 2_000_000 },
            1 => Op::Mine { character, station: hub, item: VELDSPAR, quantity: 500 },
            2 | 4 => Op::Place {
                character,
                docked_at: Some(hub),
                buy: i.is_multiple_of(2),
                station: hub,
                item: VELDSPAR,
                quantity: 20 + (i % 90) as i64,
                price: 1_350 + ((i * 31) % 300) as i64,
                expires_at: now + 200,
            },
            3 => Op::Cancel { character, order: i / 3 + 1 },
            5 => Op::Modify { character, order: i / 2 + 1, price: 1_400 + (i % 100) as i64 },
            _ => Op::Expire,
        };
        let _ = market.submit(&op, now);
        if i.is_multiple_of(300) {
            let _ = market.submit(&Op::NpcPeriod, now);
        }
        if i % 25 == 24 {
            let done = market.commit().await.expect("commit");
            committed.fetch_add(done as u64, Ordering::SeqCst);
        }
        i += 1;
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_killed_mid_trading_restarts_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orrery.db").display().to_string();
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let mut market = MarketService::open(store, setup(), RateLimiter::unlimited()).await.expect("opens");
        let hub = three_stations(&setup())[0].0;
        market.submit(&Op::OpenDesk { station: hub, item: VELDSPAR, rules_csv: rules_csv() }, 0).expect("desk");
        market.commit().await.expect("commit");
    }
    let committed = Arc::new(AtomicU64::new(1));
    let mut fills_seen = 0;
    for round in 1..=8u64 {
        let task = tokio::spawn(trade(path.clone(), round, committed.clone()));
        tokio::time::sleep(Duration::from_millis(40 + 37 * round % 90)).await;
        task.abort();
        let outcome = task.await;
        assert!(
            outcome.as_ref().is_err_and(tokio::task::JoinError::is_cancelled),
            "the market was killed, not failed: {outcome:?}"
        );

        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
        // Opening replays the log and checks it against the stored rows.
        let market = MarketService::open(store.clone(), setup(), RateLimiter::unlimited())
            .await
            .unwrap_or_else(|e| panic!("round {round}: the restarted market found {e}"));
        let balances = store.economy().economy_balances().await.expect("balances");
        assert_eq!(stored_imbalances(&balances), vec![], "round {round}");
        let logged = store.economy().economy_log().await.expect("log").len() as u64;
        assert!(logged >= committed.load(Ordering::SeqCst), "round {round}: a reported commit is missing");
        assert_eq!(market.exchange().ledger().money_imbalance(), 0);
        for character in 1..=5 {
            fills_seen += store.economy().transactions(character, 100_000).await.expect("fills").len();
        }
    }
    assert!(committed.load(Ordering::SeqCst) > 100, "the killed markets committed work");
    assert!(fills_seen > 0, "the killed markets traded");
}
