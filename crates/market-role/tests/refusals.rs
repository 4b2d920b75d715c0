//! Bad input gets a clear error and changes nothing — not in memory, not in the store.

mod common;

use common::*;
use orrery_market::{ExchangeError, MarketError};
use orrery_market_role::{MarketService, Op, OpError, RateLimiter, SubmitError};

fn refused(result: Result<orrery_market_role::OpResult, SubmitError>) -> ExchangeError {
    match result {
        Err(SubmitError::Refused(OpError::Exchange(e))) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_orders_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = file_store(&dir).await;
    let mut market = open(&store).await;
    let [hub, elsewhere, _] = three_stations(&setup());
    market.submit(&Op::Grant { character: 1, amount: 1_000_000 }, 0).expect("grant");
    market.submit(&Op::Grant { character: 2, amount: 1_000_000 }, 0).expect("grant");
    market.submit(&Op::Mine { character: 1, station: hub.0, item: VELDSPAR, quantity: 100 }, 0).expect("mine");
    let sell_from = |docked_at: Option<u64>, quantity: i64, price: i64| Op::Place {
        character: 1,
        docked_at,
        buy: false,
        station: hub.0,
        item: VELDSPAR,
        quantity,
        price,
        expires_at: 1_000,
    };
    let sell = |quantity, price| sell_from(Some(hub.0), quantity, price);
    let order = market.submit(&sell(10, 5_000), 1).expect("a good order").id.expect("its id");
    market.commit().await.expect("commit");
    let before = store.economy().economy_balances().await.expect("balances");
    let log_before = store.economy().economy_log().await.expect("log").len();
    let ledger_before = market.exchange().ledger().clone();

    assert!(matches!(
        refused(market.submit(&sell(0, 5_000), 2)),
        ExchangeError::Market(MarketError::NonPositiveQuantity(0))
    ));
    assert!(matches!(
        refused(market.submit(&sell(-5, 5_000), 2)),
        ExchangeError::Market(MarketError::NonPositiveQuantity(-5))
    ));
    assert!(matches!(refused(market.submit(&sell(5, 0), 2)), ExchangeError::Market(MarketError::NonPositivePrice(0))));
    assert!(matches!(
        refused(market.submit(&sell(5, -1), 2)),
        ExchangeError::Market(MarketError::NonPositivePrice(-1))
    ));
    assert!(matches!(
        refused(market.submit(&sell(i64::MAX, i64::MAX), 2)),
        ExchangeError::Market(MarketError::ValueOverflow { .. })
    ));
    assert!(matches!(
        refused(market.submit(&sell(91, 5_000), 2)),
        ExchangeError::InsufficientItems { needed: 91, has: 90, .. }
    ));
    let buy_too_much = Op::Place {
        character: 2,
        docked_at: Some(hub.0),
        buy: true,
        station: hub.0,
        item: VELDSPAR,
        quantity: 1_000,
        price: 1_000,
        expires_at: 1_000,
    };
    assert!(matches!(refused(market.submit(&buy_too_much, 2)), ExchangeError::InsufficientFunds { .. }));
    let not_docked = sell_from(Some(elsewhere.0), 5, 5_000);
    assert!(matches!(refused(market.submit(&not_docked, 2)), ExchangeError::NotDocked { .. }));
    let in_space = sell_from(None, 5, 5_000);
    assert!(matches!(refused(market.submit(&in_space, 2)), ExchangeError::NotDocked { docked_at: None, .. }));
    assert!(matches!(
        refused(market.submit(&Op::Cancel { character: 2, order }, 2)),
        ExchangeError::Market(MarketError::NotOwner { .. })
    ));
    assert!(matches!(
        refused(market.submit(&Op::Modify { character: 2, order, price: 4_000 }, 2)),
        ExchangeError::Market(MarketError::NotOwner { .. })
    ));
    assert!(matches!(
        refused(market.submit(&Op::Cancel { character: 1, order: 999 }, 2)),
        ExchangeError::Market(MarketError::UnknownOrder(_))
    ));

    assert_eq!(market.pending_operations(), 0, "no refusal is logged");
    assert_eq!(market.commit().await.expect("commit"), 0);
    assert_eq!(market.exchange().ledger(), &ledger_before, "memory unchanged");
    assert_eq!(store.economy().economy_balances().await.expect("balances"), before, "store unchanged");
    assert_eq!(store.economy().economy_log().await.expect("log").len(), log_before);
}

#[tokio::test]
async fn a_flood_of_orders_is_rate_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = file_store(&dir).await;
    let mut market = MarketService::open(store.clone(), setup(), RateLimiter::new(5, 10)).await.expect("opens");
    let hub = three_stations(&setup())[0];
    market.submit(&Op::Grant { character: 1, amount: 100_000_000 }, 0).expect("grant");
    let mut limited = 0;
    for i in 0..50 {
        let op = Op::Place {
            character: 1,
            docked_at: Some(hub.0),
            buy: true,
            station: hub.0,
            item: TRITANIUM,
            quantity: 1,
            price: 100 + i,
            expires_at: 10_000,
        };
        match market.submit(&op, 5) {
            Ok(_) => {}
            Err(SubmitError::RateLimited(1)) => limited += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(limited, 40, "a burst of 10, then refused");
    assert_eq!(market.exchange().market().len(), 10, "refused orders changed nothing");
    // A second later there is room again, and other characters were never limited.
    let op = Op::Cancel { character: 1, order: 1 };
    market.submit(&op, 1_005).expect("the bucket refilled");
    market.submit(&Op::Grant { character: 2, amount: 1 }, 5).expect("grants are not rate limited");
}
