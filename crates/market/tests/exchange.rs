//! The exchange: refusals that change nothing, what one trade moves, and NPC prices that answer to players.

mod common;

use common::{AMARR, JITA, PERIMETER, RIFTER, ROUND_FEES, TRITANIUM, VELDSPAR};
use orrery_market::{
    CharacterId, Event, Exchange, ExchangeError, ItemTypeId, MarketError, OrderId, PlayerOrder, Side, StationId, Trader,
};

const SELLER: CharacterId = CharacterId(1);
const BUYER: CharacterId = CharacterId(2);

fn docked(character: CharacterId, station: StationId) -> Trader {
    Trader { character, docked_at: Some(station) }
}

fn order(side: Side, station: StationId, item: ItemTypeId, quantity: i64, price: i64) -> PlayerOrder {
    PlayerOrder { side, station, item, quantity, price, expires_at: 1_000 }
}

/// A seller with 1,000 Veldspar at Jita and 10,000 money, a buyer with 1,000,000 money.
fn setup() -> Exchange {
    let mut exchange = common::exchange(ROUND_FEES);
    exchange.mine(SELLER, JITA, VELDSPAR, 1_000).expect("ore can be mined");
    exchange.grant(SELLER, 10_000).expect("a grant");
    exchange.grant(BUYER, 1_000_000).expect("a grant");
    exchange
}

fn place(exchange: &mut Exchange, trader: Trader, order: PlayerOrder) -> OrderId {
    exchange.place(trader, order, 0).expect("a valid order").0
}

#[test]
fn bad_requests_are_refused_with_a_clear_error_and_change_nothing() {
    let mut exchange = setup();
    let resting = place(&mut exchange, docked(SELLER, JITA), order(Side::Sell, JITA, VELDSPAR, 10, 2_000));
    let before = common::state(&exchange);
    let not_docked = exchange.place(docked(BUYER, PERIMETER), order(Side::Buy, JITA, VELDSPAR, 1, 2_000), 0);
    assert_eq!(not_docked.unwrap_err(), ExchangeError::NotDocked { station: JITA, docked_at: Some(PERIMETER) });
    let in_space = Trader { character: BUYER, docked_at: None };
    let error = exchange.place(in_space, order(Side::Buy, JITA, VELDSPAR, 1, 2_000), 0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "orders are placed where one is docked: the order is at station 60003760, the character is in space"
    );
    let cases: Vec<(Trader, PlayerOrder, ExchangeError)> = vec![
        (
            docked(BUYER, StationId(5)),
            order(Side::Buy, StationId(5), VELDSPAR, 1, 10),
            ExchangeError::UnknownStation(StationId(5)),
        ),
        (
            docked(BUYER, JITA),
            order(Side::Buy, JITA, ItemTypeId(1), 1, 10),
            ExchangeError::UnknownItemType(ItemTypeId(1)),
        ),
        (
            docked(BUYER, JITA),
            order(Side::Buy, JITA, VELDSPAR, 1_000, 1_000),
            // 1,000,000 in escrow and 1 % broker fee
            ExchangeError::InsufficientFunds { character: BUYER, needed: 1_010_000, has: 1_000_000 },
        ),
        (
            docked(SELLER, JITA),
            order(Side::Sell, JITA, VELDSPAR, 991, 1_000),
            ExchangeError::InsufficientItems {
                character: SELLER,
                station: JITA,
                item: VELDSPAR,
                needed: 991,
                has: 990,
            },
        ),
        (
            docked(SELLER, PERIMETER),
            order(Side::Sell, PERIMETER, VELDSPAR, 1, 1_000),
            ExchangeError::InsufficientItems {
                character: SELLER,
                station: PERIMETER,
                item: VELDSPAR,
                needed: 1,
                has: 0,
            },
        ),
        (docked(BUYER, JITA), order(Side::Buy, JITA, VELDSPAR, 0, 1_000), MarketError::NonPositiveQuantity(0).into()),
        (
            docked(BUYER, JITA),
            order(Side::Buy, JITA, VELDSPAR, 1, -1_000),
            MarketError::NonPositivePrice(-1_000).into(),
        ),
        (
            docked(BUYER, JITA),
            order(Side::Buy, JITA, VELDSPAR, i64::MAX, 2),
            MarketError::ValueOverflow { quantity: i64::MAX as u64, price: 2, max: i64::MAX as u64 }.into(),
        ),
    ];
    for (trader, bad, expected) in cases {
        assert_eq!(exchange.place(trader, bad, 0).unwrap_err(), expected);
        assert_eq!(common::state(&exchange), before);
    }
    assert_eq!(
        exchange.cancel(BUYER, resting).unwrap_err(),
        MarketError::NotOwner {
            order: resting,
            owner: orrery_market::Owner::Character(SELLER),
            caller: common::player(2)
        }
        .into()
    );
    // The seller has 10,000 − 200 (broker fee) left: a relist fee of 1 % of 10 × 200,000 is more than that.
    assert_eq!(
        exchange.modify(SELLER, resting, 200_000).unwrap_err(),
        ExchangeError::InsufficientFunds { character: SELLER, needed: 20_000, has: 9_800 }
    );
    assert_eq!(
        exchange.mine(SELLER, JITA, TRITANIUM, 5).unwrap_err().to_string(),
        "item type 34 is mineral, not ore: only ore can be mined"
    );
    assert_eq!(exchange.mine(SELLER, JITA, VELDSPAR, -5).unwrap_err(), ExchangeError::NonPositiveQuantity(-5));
    assert_eq!(common::state(&exchange), before);
}

#[test]
fn a_trade_moves_escrow_fees_and_items_as_the_rules_say() {
    let mut exchange = setup();
    let sell = place(&mut exchange, docked(SELLER, JITA), order(Side::Sell, JITA, VELDSPAR, 100, 1_000));
    let ledger = exchange.ledger();
    assert_eq!(ledger.wallet(SELLER), 10_000 - 1_000); // broker fee: 1 % of 100,000
    assert_eq!(ledger.hangar(SELLER, JITA, VELDSPAR), 900); // 100 in escrow
    let (_, events) =
        exchange.place(docked(BUYER, JITA), order(Side::Buy, JITA, VELDSPAR, 100, 1_200), 0).expect("valid");
    assert!(events.iter().any(|e| matches!(e, Event::Filled(f) if f.sell_order == sell && f.price == 1_000)));
    let ledger = exchange.ledger();
    // The buyer pays the resting price; the 200 a unit offered above it never leaves the wallet for good.
    assert_eq!(ledger.wallet(BUYER), 1_000_000 - 100_000);
    assert_eq!(ledger.hangar(BUYER, JITA, VELDSPAR), 100);
    // The seller receives 100,000 less 10 % sales tax.
    assert_eq!(ledger.wallet(SELLER), 9_000 + 90_000);
    let flows = ledger.money_flows();
    assert_eq!((flows.broker_fees, flows.sales_tax), (1_000, 10_000));
    assert_eq!(ledger.escrows().count(), 0);
    assert_eq!(ledger.money_imbalance(), 0);
    assert_eq!(ledger.item_imbalance(VELDSPAR), 0);
}

#[test]
fn items_change_hands_at_the_sell_orders_station() {
    let mut exchange = setup();
    exchange.mine(SELLER, PERIMETER, VELDSPAR, 10).expect("ore");
    place(&mut exchange, docked(SELLER, PERIMETER), order(Side::Sell, PERIMETER, VELDSPAR, 10, 1_000));
    place(&mut exchange, docked(BUYER, JITA), order(Side::Buy, JITA, VELDSPAR, 10, 1_000));
    assert_eq!(exchange.ledger().hangar(BUYER, PERIMETER, VELDSPAR), 10);
    assert_eq!(exchange.ledger().hangar(BUYER, JITA, VELDSPAR), 0);
    // Amarr is another region: its book does not see The Forge's orders.
    exchange.mine(SELLER, AMARR, VELDSPAR, 10).expect("ore");
    place(&mut exchange, docked(SELLER, AMARR), order(Side::Sell, AMARR, VELDSPAR, 10, 1));
    assert_eq!(exchange.ledger().hangar(BUYER, AMARR, VELDSPAR), 0);
}

#[test]
fn cancel_and_expiry_return_the_escrow_but_not_the_broker_fee() {
    let mut exchange = setup();
    let buy = place(&mut exchange, docked(BUYER, JITA), order(Side::Buy, JITA, VELDSPAR, 10, 500));
    let sell = exchange
        .place(docked(SELLER, JITA), PlayerOrder { expires_at: 50, ..order(Side::Sell, JITA, VELDSPAR, 10, 900) }, 0)
        .expect("valid")
        .0;
    exchange.cancel(BUYER, buy).expect("the owner cancels");
    assert_eq!(exchange.ledger().wallet(BUYER), 1_000_000 - 50);
    exchange.expire(49).expect("nothing due");
    assert!(exchange.market().order(sell).is_some());
    exchange.expire(50).expect("the sell order expires");
    assert!(exchange.market().is_empty());
    assert_eq!(exchange.ledger().hangar(SELLER, JITA, VELDSPAR), 1_000);
    assert_eq!(exchange.ledger().money_imbalance(), 0);
}

/// The test: sustained player selling moves the NPC price down, within its bounds, and without trade it
/// recovers. Uses the shipped rules (`data/npc-pricing.csv`).
#[test]
fn sustained_selling_to_an_npc_lowers_its_prices_and_they_recover() {
    let rules = common::npc_rules();
    let mut exchange = common::exchange(ROUND_FEES);
    let desk = exchange.open_npc_desk(JITA, VELDSPAR, &rules, 0).expect("ore has an NPC rule");
    let rule = *rules.get(orrery_market::ItemGroup::Ore).expect("an ore rule");
    let quotes = |exchange: &Exchange| exchange.desks()[desk.0 as usize].price.quotes(&rule);
    let start = quotes(&exchange);
    assert_eq!(exchange.market().best(common::BOOK_VELDSPAR, Side::Buy), Some(start.buy));
    exchange.grant(SELLER, 1_000_000_000).expect("a grant");

    // Each period the miner dumps the NPC's whole buy stock on it (selling at 1 fills at the NPC's price).
    let mut buy_prices = vec![start.buy];
    for period in 1..=30u64 {
        exchange.mine(SELLER, JITA, VELDSPAR, rule.stock as i64).expect("ore");
        let dump = PlayerOrder { expires_at: period + 10, ..order(Side::Sell, JITA, VELDSPAR, rule.stock as i64, 1) };
        exchange.place(docked(SELLER, JITA), dump, period).expect("a valid sale");
        assert_eq!(exchange.ledger().hangar(SELLER, JITA, VELDSPAR), 0, "the NPC bought it all in period {period}");
        exchange.npc_period(period).expect("a new period");
        buy_prices.push(quotes(&exchange).buy);
    }
    assert!(buy_prices.windows(2).all(|w| w[1] <= w[0]), "the price only fell: {buy_prices:?}");
    let low = *buy_prices.last().expect("prices");
    assert!(low * 100 < start.buy * 90, "the NPC buy price fell by more than 10 %: {} → {low}", start.buy);
    let floor = 1_500 * u64::from(rule.min_bp) / 10_000;
    assert!(exchange.desks()[0].price.mid() >= floor, "the price stayed within its bounds");
    assert_eq!(exchange.market().best(common::BOOK_VELDSPAR, Side::Buy), Some(low), "the NPC order moved too");
    let paid = exchange.ledger().money_flows().npc_purchases;
    assert!(paid > 0 && exchange.ledger().item_flows(VELDSPAR).npc_purchases == 30 * rule.stock);

    // Then nobody trades: the price recovers all the way to the base.
    let mut recovering = vec![low];
    for period in 31..=200u64 {
        exchange.npc_period(period).expect("a new period");
        recovering.push(quotes(&exchange).buy);
    }
    assert!(recovering.windows(2).all(|w| w[1] >= w[0]), "the price only rose: {recovering:?}");
    assert_eq!(quotes(&exchange), start);
    assert_eq!(exchange.ledger().money_imbalance(), 0);
    assert_eq!(exchange.ledger().item_imbalance(VELDSPAR), 0);
}

#[test]
fn buying_out_npc_stock_raises_its_prices() {
    let rules = common::npc_rules();
    let mut exchange = common::exchange(ROUND_FEES);
    exchange.open_npc_desk(JITA, VELDSPAR, &rules, 0).expect("ore has an NPC rule");
    let rule = *rules.get(orrery_market::ItemGroup::Ore).expect("an ore rule");
    let start = exchange.desks()[0].price.quotes(&rule);
    exchange.grant(BUYER, 100_000_000_000).expect("a grant");
    for period in 1..=5u64 {
        let sweep =
            PlayerOrder { expires_at: period + 10, ..order(Side::Buy, JITA, VELDSPAR, rule.stock as i64, 100_000) };
        exchange.place(docked(BUYER, JITA), sweep, period).expect("a valid purchase");
        exchange.npc_period(period).expect("a new period");
    }
    let now = exchange.desks()[0].price.quotes(&rule);
    assert!(now.sell > start.sell && now.buy > start.buy, "{start:?} → {now:?}");
    assert_eq!(exchange.ledger().hangar(BUYER, JITA, VELDSPAR), 5 * rule.stock);
    assert_eq!(exchange.ledger().item_flows(VELDSPAR).npc_sales, 5 * rule.stock);
    assert_eq!(exchange.ledger().money_imbalance(), 0);
}

#[test]
fn a_group_without_an_npc_rule_gets_no_desk() {
    let mut exchange = common::exchange(ROUND_FEES);
    let error = exchange.open_npc_desk(JITA, ItemTypeId(639), &common::npc_rules(), 0).unwrap_err();
    assert_eq!(error.to_string(), "no NPC price rule for the group battleship (data/npc-pricing.csv)");
    assert!(exchange.open_npc_desk(JITA, RIFTER, &common::npc_rules(), 0).is_ok());
}

#[test]
fn a_desk_whose_stock_could_overflow_at_its_highest_price_is_refused() {
    let mut rules = common::npc_rules();
    let ore = *rules.get(orrery_market::ItemGroup::Ore).expect("an ore rule");
    rules.insert(orrery_market::ItemGroup::Ore, orrery_market::NpcRule { stock: u64::MAX / 4_000, ..ore });
    let mut exchange = common::exchange(ROUND_FEES);
    let before = common::state(&exchange);
    let error = exchange.open_npc_desk(JITA, VELDSPAR, &rules, 0).unwrap_err();
    assert!(matches!(error, ExchangeError::Market(MarketError::ValueOverflow { .. })), "{error}");
    assert_eq!(common::state(&exchange), before);
}

#[test]
fn the_ledger_refuses_fills_the_market_cannot_have_made() {
    let mut ledger = orrery_market::Ledger::new();
    let fill = orrery_market::Fill {
        buy_order: OrderId(1),
        sell_order: OrderId(2),
        buyer: orrery_market::Owner::Npc(orrery_market::NpcTraderId(0)),
        seller: orrery_market::Owner::Npc(orrery_market::NpcTraderId(1)),
        book: common::BOOK,
        station: JITA,
        quantity: 10,
        price: 100,
        buy_price: 100,
        sales_tax: 0,
        resting: Side::Sell,
    };
    let bad = [
        orrery_market::Fill { price: 101, ..fill.clone() },
        orrery_market::Fill { sales_tax: 1_001, ..fill.clone() },
        orrery_market::Fill { quantity: u64::MAX / 2, ..fill.clone() },
    ];
    for bad in bad {
        assert!(ledger.apply(&Event::Filled(bad.clone())).is_err(), "{bad:?} was applied");
        assert_eq!(ledger, orrery_market::Ledger::new());
    }
    ledger.apply(&Event::Filled(fill)).expect("an NPC-to-NPC fill is a faucet and a sink");
    assert_eq!(ledger.money_imbalance(), 0);
    assert_eq!(ledger.item_imbalance(common::TRITANIUM), 0);
}
