//! The market role in `orrery run`'s process, end to end over the real protocol: a newcomer docked at a trade
//! hub buys ore from the NPC desk, sells it back, sees the fills, the wallet journal and the depth; bad orders
//! get their error codes; and the conservation identities hold over the stored rows.

mod common;

use common::*;
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};

const VELDSPAR: u32 = 1230;

async fn ask(client: &mut Client, body: Cmd) -> Result<Msg, ClientError> {
    let envelope = client.request(body, WAIT).await?;
    envelope.body.ok_or_else(|| panic!("an empty answer"))
}

fn code(result: Result<Msg, ClientError>) -> v1::ErrorCode {
    match result {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_trades_with_the_npc_desk_at_a_hub() {
    let test = TestCluster::start().await;
    let hub = orrery_universe::trade_hubs(&test.universe)[0];
    let hub_system = test.universe.system(hub).id.0;
    let station = u64::from(hub_system) * 100 + 1;

    let mut client = Client::connect(&test.addr()).await.expect("connect");
    let name = name_starting_in(&test, hub_system, "trader");
    client.register_or_login(&name, "correct horse battery").await.expect("login");
    let character = client.create_character(&format!("{name} pilot")).await.expect("character");
    let me = character.character_id;

    let Msg::Wallet(wallet) =
        ask(&mut client, Cmd::GetWallet(v1::GetWallet { character_id: me })).await.expect("wallet")
    else {
        panic!("not a wallet")
    };
    assert_eq!(wallet.balance, orrery_market_role::role::STARTING_WALLET);
    assert_eq!(wallet.journal.first().map(|j| j.kind.as_str()), Some("grant"));

    let depth = Cmd::GetMarketDepth(v1::GetMarketDepth { station_id: station, type_id: VELDSPAR, levels: 5 });
    let Msg::MarketDepth(depth) = ask(&mut client, depth).await.expect("depth") else { panic!("not a depth") };
    let (npc_bid, npc_ask) = (depth.bids[0].price, depth.asks[0].price);
    assert!(npc_bid < npc_ask, "the NPC desk quotes both sides: {depth:?}");

    // Docked at the hub (the new ship is not in space): buy 100 Veldspar from the NPC at its ask.
    let buy = |quantity: i64, price: i64| {
        Cmd::PlaceOrder(v1::PlaceOrder {
            character_id: me,
            station_id: station,
            type_id: VELDSPAR,
            buy: true,
            quantity,
            price,
            duration_s: 3_600,
        })
    };
    let Msg::OrderPlaced(placed) = ask(&mut client, buy(100, npc_ask as i64)).await.expect("buy") else {
        panic!("not placed")
    };
    assert_eq!((placed.filled, placed.resting), (100, 0));
    // And sell them back to the NPC's buy order.
    let sell = Cmd::PlaceOrder(v1::PlaceOrder {
        character_id: me,
        station_id: station,
        type_id: VELDSPAR,
        buy: false,
        quantity: 100,
        price: npc_bid as i64,
        duration_s: 3_600,
    });
    let Msg::OrderPlaced(sold) = ask(&mut client, sell).await.expect("sell") else { panic!("not placed") };
    assert_eq!(sold.filled, 100);

    let Msg::Transactions(fills) =
        ask(&mut client, Cmd::GetTransactions(v1::GetTransactions { character_id: me })).await.expect("fills")
    else {
        panic!("not transactions")
    };
    assert_eq!(fills.transactions.len(), 2);
    let Msg::Wallet(after) =
        ask(&mut client, Cmd::GetWallet(v1::GetWallet { character_id: me })).await.expect("wallet")
    else {
        panic!("not a wallet")
    };
    let tax = fills.transactions.iter().map(|t| t.sales_tax).sum::<u64>();
    assert_eq!(after.balance, wallet.balance - 100 * npc_ask + 100 * npc_bid - tax, "{after:?}");

    // Refusals, each with its code.
    assert_eq!(code(ask(&mut client, buy(0, 100)).await), v1::ErrorCode::NonPositiveAmount);
    assert_eq!(code(ask(&mut client, buy(5, -1)).await), v1::ErrorCode::NonPositiveAmount);
    assert_eq!(code(ask(&mut client, buy(i64::MAX, i64::MAX)).await), v1::ErrorCode::AmountOverflow);
    assert_eq!(code(ask(&mut client, buy(1_000_000, 10_000)).await), v1::ErrorCode::InsufficientFunds);
    let elsewhere = Cmd::PlaceOrder(v1::PlaceOrder {
        character_id: me,
        station_id: u64::from(test.universe.system((hub + 1) % test.universe.len()).id.0) * 100 + 1,
        type_id: VELDSPAR,
        buy: true,
        quantity: 1,
        price: 100,
        duration_s: 60,
    });
    assert_eq!(code(ask(&mut client, elsewhere).await), v1::ErrorCode::NotDocked);
    let not_mine = Cmd::CancelOrder(v1::CancelOrder { character_id: me, order_id: 1 });
    assert_eq!(code(ask(&mut client, not_mine).await), v1::ErrorCode::NotOrderOwner);
    let someone_else = Cmd::GetWallet(v1::GetWallet { character_id: me + 1_000 });
    assert_eq!(code(ask(&mut client, someone_else).await), v1::ErrorCode::NotYours);

    // The stored rows balance.
    let store =
        orrery_store::open(&format!("sqlite://{}", test.dir.path().join("orrery.db").display())).await.expect("store");
    let balances = store.economy().economy_balances().await.expect("balances");
    assert_eq!(orrery_market_role::stored_imbalances(&balances), vec![]);
    test.cluster.shutdown().await;
}
