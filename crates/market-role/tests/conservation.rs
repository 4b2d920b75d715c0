//! Conservation against the REAL store (SQLite files): random sequences of orders, fills, cancels, price
//! changes, expiries, mining, grants and NPC periods by several characters, committed in random batches. After
//! every commit the identities hold over the stored rows alone; at the end the market reopens from the store
//! (replaying its log) and finds exactly the stored balances.

mod common;

use common::*;
use orrery_market_role::{Op, stored_imbalances};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Op(OpSpec),
    Commit,
    Wait(u64),
}

#[derive(Debug, Clone)]
enum OpSpec {
    Place { character: u64, at: usize, docked: usize, buy: bool, veldspar: bool, quantity: i64, price: i64, life: u64 },
    Modify { character: u64, order: u64, price: i64 },
    Cancel { character: u64, order: u64 },
    Mine { character: u64, at: usize, quantity: i64 },
    Grant { character: u64, amount: u64 },
    Expire,
    NpcPeriod,
}

fn step() -> impl Strategy<Value = Step> {
    let character = 1u64..=4;
    let price = prop_oneof![8 => 1_000i64..2_000, 1 => -5i64..=0, 1 => Just(i64::MAX)];
    let quantity = prop_oneof![8 => 1i64..400, 1 => -3i64..=0, 1 => Just(i64::MAX / 2)];
    prop_oneof![
        8 => (character.clone(), 0usize..3, 0usize..4, any::<bool>(), any::<bool>(), quantity.clone(), price.clone(), 1u64..20_000)
            .prop_map(|(character, at, docked, buy, veldspar, quantity, price, life)| Step::Op(OpSpec::Place {
                character, at, docked, buy, veldspar, quantity, price, life
            })),
        2 => (character.clone(), 1u64..60, price).prop_map(|(character, order, price)| Step::Op(OpSpec::Modify { character, order, price })),
        2 => (character.clone(), 1u64..60).prop_map(|(character, order)| Step::Op(OpSpec::Cancel { character, order })),
        2 => (character.clone(), 0usize..3, quantity).prop_map(|(character, at, quantity)| Step::Op(OpSpec::Mine { character, at, quantity })),
        1 => (character, 0u64..5_000_000).prop_map(|(character, amount)| Step::Op(OpSpec::Grant { character, amount })),
        1 => Just(Step::Op(OpSpec::Expire)),
        1 => Just(Step::Op(OpSpec::NpcPeriod)),
        3 => Just(Step::Commit),
        2 => (1u64..10_000).prop_map(Step::Wait),
    ]
}

fn to_op(spec: &OpSpec, stations: &[orrery_market::StationId; 3], now: u64) -> Op {
    match *spec {
        OpSpec::Place { character, at, docked, buy, veldspar, quantity, price, life } => Op::Place {
            character,
            docked_at: stations.get(docked).map(|s| s.0),
            buy,
            station: stations[at].0,
            item: if veldspar { VELDSPAR } else { TRITANIUM },
            quantity,
            price,
            expires_at: now + life,
        },
        OpSpec::Modify { character, order, price } => Op::Modify { character, order, price },
        OpSpec::Cancel { character, order } => Op::Cancel { character, order },
        OpSpec::Mine { character, at, quantity } => {
            Op::Mine { character, station: stations[at].0, item: VELDSPAR, quantity }
        }
        OpSpec::Grant { character, amount } => Op::Grant { character, amount },
        OpSpec::Expire => Op::Expire,
        OpSpec::NpcPeriod => Op::NpcPeriod,
    }
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = file_store(&dir).await;
    let stations = three_stations(&setup());
    let mut market = open(&store).await;
    let mut now = 1_000u64;
    for character in 1..=4 {
        market
            .submit(&Op::Grant { character, amount: 50_000_000 }, now)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    for item in [VELDSPAR, TRITANIUM] {
        market
            .submit(&Op::OpenDesk { station: stations[0].0, item, rules_csv: rules_csv() }, now)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    for step in &steps {
        match step {
            Step::Op(spec) => {
                // Refusals are part of the sequence: they must change nothing.
                let _ = market.submit(&to_op(spec, &stations, now), now);
            }
            Step::Wait(ms) => now += ms,
            Step::Commit => {
                market.commit().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let balances =
                    store.economy().economy_balances().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(stored_imbalances(&balances), vec![], "after a commit");
            }
        }
        prop_assert_eq!(market.exchange().ledger().money_imbalance(), 0);
    }
    market.commit().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    let balances = store.economy().economy_balances().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(stored_imbalances(&balances), vec![]);
    let open_orders = market.exchange().market().len();
    drop(market);
    // A restart replays the log and checks it against the stored rows (it refuses to open on any difference).
    let reopened = open(&store).await;
    prop_assert_eq!(reopened.exchange().market().len(), open_orders);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn money_and_items_are_conserved_in_the_store(steps in proptest::collection::vec(step(), 1..120)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(run(steps))?;
    }
}

/// A long fixed run that is known to trade (so the property is not vacuously about refusals).
#[tokio::test]
async fn a_long_run_trades_and_conserves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = file_store(&dir).await;
    let stations = three_stations(&setup());
    let mut market = open(&store).await;
    for character in 1..=4 {
        market.submit(&Op::Grant { character, amount: 500_000_000 }, 0).expect("grant");
        market
            .submit(&Op::Mine { character, station: stations[0].0, item: VELDSPAR, quantity: 100_000 }, 0)
            .expect("mine");
    }
    market.submit(&Op::OpenDesk { station: stations[0].0, item: VELDSPAR, rules_csv: rules_csv() }, 0).expect("desk");
    let mut fills = 0;
    for i in 0..2_000u64 {
        let character = 1 + i % 4;
        let op = Op::Place {
            character,
            docked_at: Some(stations[0].0),
            buy: i % 3 != 0,
            station: stations[0].0,
            item: VELDSPAR,
            quantity: 10 + (i % 50) as i64,
            price: 1_300 + ((i * 37) % 400) as i64,
            expires_at: i + 500,
        };
        let _ = market.submit(&op, i);
        if i.is_multiple_of(50) {
            market.submit(&Op::Expire, i).expect("expire");
        }
        if i.is_multiple_of(97)
            && let Err(e) = market.commit().await
        {
            panic!("commit: {e:?}")
        }
    }
    if let Err(e) = market.commit().await {
        panic!("commit: {e:?}")
    }
    for character in 1..=4 {
        fills += store.economy().transactions(character, 10_000).await.expect("transactions").len();
    }
    assert!(fills > 100, "the run traded: {fills} fills");
    let balances = store.economy().economy_balances().await.expect("balances");
    assert_eq!(stored_imbalances(&balances), vec![]);
    drop(market);
    let reopened = open(&store).await;
    assert_eq!(reopened.exchange().ledger().money_imbalance(), 0);
}
