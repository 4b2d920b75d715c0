//! The order book's rules: price then time, the resting order's price, partial fills, cancel, modify, expiry,
//! and refusals that change nothing.

mod common;

use common::{BOOK, JITA, ROUND_FEES, player, request};
use orrery_market::{
    CloseReason, Depth, Event, Fill, MAX_AMOUNT, Market, MarketError, OrderId, Owner, Side, StationId,
};

fn market() -> Market {
    Market::new(ROUND_FEES)
}

fn place(market: &mut Market, owner: Owner, side: Side, quantity: i64, price: i64) -> (OrderId, Vec<Event>) {
    let mut events = Vec::new();
    let id = market.place(&request(owner, side, quantity, price), 0, &mut events).expect("a valid order");
    (id, events)
}

fn fills(events: &[Event]) -> Vec<&Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Filled(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[test]
fn a_buy_order_takes_the_lowest_ask_first_and_the_oldest_at_a_price() {
    let mut m = market();
    let (a, _) = place(&mut m, player(1), Side::Sell, 10, 100);
    let (b, _) = place(&mut m, player(2), Side::Sell, 10, 100);
    let (c, _) = place(&mut m, player(3), Side::Sell, 10, 99);
    let (buy, events) = place(&mut m, player(4), Side::Buy, 25, 100);
    let trades: Vec<(OrderId, u64, u64)> = fills(&events).iter().map(|f| (f.sell_order, f.quantity, f.price)).collect();
    assert_eq!(trades, vec![(c, 10, 99), (a, 10, 100), (b, 5, 100)]);
    assert!(fills(&events).iter().all(|f| f.buy_order == buy && f.resting == Side::Sell));
    // C and A are used up, B rests with 5, the buy order filled completely.
    assert!(m.order(a).is_none() && m.order(c).is_none() && m.order(buy).is_none());
    assert_eq!(m.order(b).map(|o| o.remaining), Some(5));
    assert_eq!(
        events.last(),
        Some(&Event::Closed {
            order: buy,
            owner: player(4),
            side: Side::Buy,
            item: BOOK.item,
            station: JITA,
            reason: CloseReason::Filled,
            released: 0
        })
    );
}

#[test]
fn a_sell_order_takes_the_highest_bid_first() {
    let mut m = market();
    let (low, _) = place(&mut m, player(1), Side::Buy, 10, 90);
    let (high, _) = place(&mut m, player(2), Side::Buy, 10, 95);
    let (_, events) = place(&mut m, player(3), Side::Sell, 15, 80);
    let trades: Vec<(OrderId, u64, u64)> = fills(&events).iter().map(|f| (f.buy_order, f.quantity, f.price)).collect();
    assert_eq!(trades, vec![(high, 10, 95), (low, 5, 90)]);
}

#[test]
fn trades_are_at_the_resting_orders_price_and_tax_is_on_the_sellers_proceeds() {
    let mut m = market();
    place(&mut m, player(1), Side::Sell, 10, 100);
    let (_, events) = place(&mut m, player(2), Side::Buy, 10, 120);
    let fill = fills(&events)[0];
    assert_eq!((fill.price, fill.buy_price, fill.quantity), (100, 120, 10));
    assert_eq!(fill.sales_tax, 100); // 10 % of 1,000
    assert_eq!(fill.station, JITA);
}

#[test]
fn what_does_not_fill_rests_and_pays_the_broker_fee_on_the_rest_only() {
    let mut m = market();
    place(&mut m, player(1), Side::Sell, 4, 100);
    let (buy, events) = place(&mut m, player(2), Side::Buy, 10, 100);
    assert_eq!(fills(&events).len(), 1);
    assert_eq!(m.order(buy).map(|o| o.remaining), Some(6));
    // Escrow taken for all 10 at placement; the broker fee is 1 % of the 600 that rests.
    assert!(matches!(events[0], Event::Placed { escrow: 1_000, quantity: 10, .. }));
    assert_eq!(events.last(), Some(&Event::BrokerFee { order: buy, owner: player(2), amount: 6 }));
    assert_eq!(m.depth(BOOK, 5), Depth { bids: vec![(100, 6)], asks: vec![] });
}

#[test]
fn orders_that_do_not_cross_rest_on_both_sides_in_price_order() {
    let mut m = market();
    for (side, price) in [(Side::Buy, 90), (Side::Sell, 110), (Side::Buy, 95), (Side::Sell, 105), (Side::Buy, 95)] {
        let (_, events) = place(&mut m, player(1), side, 3, price);
        assert!(fills(&events).is_empty());
    }
    assert_eq!(m.depth(BOOK, 5), Depth { bids: vec![(95, 6), (90, 3)], asks: vec![(105, 3), (110, 3)] });
    assert_eq!(m.best(BOOK, Side::Buy), Some(95));
    assert_eq!(m.best(BOOK, Side::Sell), Some(105));
    assert_eq!(m.len(), 5);
}

#[test]
fn cancel_releases_the_escrow_and_only_the_owner_may_cancel() {
    let mut m = market();
    let (buy, _) = place(&mut m, player(1), Side::Buy, 10, 50);
    let before = m.clone();
    let mut events = Vec::new();
    let error = m.cancel(player(2), buy, &mut events).unwrap_err();
    assert_eq!(error, MarketError::NotOwner { order: buy, owner: player(1), caller: player(2) });
    assert_eq!(error.to_string(), "order 1 belongs to character 1, not to character 2");
    assert_eq!(m, before);
    assert!(events.is_empty());

    m.cancel(player(1), buy, &mut events).expect("the owner cancels");
    assert!(matches!(events[..], [Event::Closed { reason: CloseReason::Cancelled, released: 500, .. }]));
    assert!(m.is_empty());
    assert_eq!(m.cancel(player(1), buy, &mut events), Err(MarketError::UnknownOrder(buy)));
}

#[test]
fn a_price_change_loses_time_priority() {
    let mut m = market();
    let (a, _) = place(&mut m, player(1), Side::Buy, 5, 100);
    let (b, _) = place(&mut m, player(2), Side::Buy, 5, 100);
    let mut events = Vec::new();
    m.modify(player(1), a, 101, &mut events).expect("a valid price");
    m.modify(player(1), a, 100, &mut events).expect("a valid price");
    let queue: Vec<OrderId> = m.level(BOOK, Side::Buy, 100).iter().map(|o| o.id).collect();
    assert_eq!(queue, vec![b, a]);
    // The relist fee is charged on each change.
    let fees = events.iter().filter(|e| matches!(e, Event::BrokerFee { .. })).count();
    assert_eq!(fees, 2);
}

#[test]
fn a_price_change_that_crosses_trades_at_once() {
    let mut m = market();
    let (sell, _) = place(&mut m, player(1), Side::Sell, 5, 100);
    let (buy, _) = place(&mut m, player(2), Side::Buy, 8, 90);
    let mut events = Vec::new();
    m.modify(player(2), buy, 105, &mut events).expect("a valid price");
    assert!(matches!(events[0], Event::Repriced { old_price: 90, new_price: 105, remaining: 8, .. }));
    let fill = fills(&events)[0];
    assert_eq!(
        (fill.sell_order, fill.quantity, fill.price, fill.buy_price, fill.resting),
        (sell, 5, 100, 105, Side::Sell)
    );
    assert_eq!(m.order(buy).map(|o| (o.price, o.remaining)), Some((105, 3)));
}

#[test]
fn a_price_change_to_the_same_price_is_refused() {
    let mut m = market();
    let (a, _) = place(&mut m, player(1), Side::Sell, 5, 100);
    let mut events = Vec::new();
    assert_eq!(m.modify(player(1), a, 100, &mut events), Err(MarketError::UnchangedPrice { order: a, price: 100 }));
    assert_eq!(m.modify(player(1), a, 0, &mut events), Err(MarketError::NonPositivePrice(0)));
    assert!(events.is_empty());
}

#[test]
fn orders_expire_in_order_of_expiry_and_release_their_escrow() {
    let mut m = market();
    let mut events = Vec::new();
    let late = m.place(
        &orrery_market::OrderRequest { expires_at: 30, ..request(player(1), Side::Sell, 5, 100) },
        0,
        &mut events,
    );
    let early = m.place(
        &orrery_market::OrderRequest { expires_at: 20, ..request(player(2), Side::Buy, 5, 50) },
        0,
        &mut events,
    );
    let (late, early) = (late.expect("valid"), early.expect("valid"));
    events.clear();
    m.expire(19, &mut events);
    assert!(events.is_empty());
    m.expire(30, &mut events);
    let closed: Vec<(OrderId, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Closed { order, reason: CloseReason::Expired, released, .. } => Some((*order, *released)),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![(early, 250), (late, 5)]);
    assert!(m.is_empty());
}

#[test]
fn bad_orders_are_refused_with_what_was_wrong_and_change_nothing() {
    let mut m = market();
    place(&mut m, player(1), Side::Sell, 5, 100);
    let before = m.clone();
    let mut events = Vec::new();
    let cases = [
        (request(player(2), Side::Buy, 0, 100), MarketError::NonPositiveQuantity(0)),
        (request(player(2), Side::Buy, -3, 100), MarketError::NonPositiveQuantity(-3)),
        (request(player(2), Side::Buy, 5, -1), MarketError::NonPositivePrice(-1)),
        (
            request(player(2), Side::Buy, 4, i64::MAX / 2),
            MarketError::ValueOverflow { quantity: 4, price: (i64::MAX / 2) as u64, max: MAX_AMOUNT },
        ),
        (
            orrery_market::OrderRequest { expires_at: 0, ..request(player(2), Side::Buy, 5, 100) },
            MarketError::ExpiryNotInFuture { expires_at: 0, now: 0 },
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(m.place(&bad, 0, &mut events), Err(expected));
    }
    assert_eq!(m, before);
    assert!(events.is_empty());
    assert_eq!(
        MarketError::NonPositivePrice(-1).to_string(),
        "price -1 is not positive; prices are whole money units ≥ 1"
    );
}

#[test]
fn books_are_per_region_and_item() {
    let mut m = market();
    place(&mut m, player(1), Side::Sell, 5, 100);
    let mut events = Vec::new();
    let other_item = orrery_market::BookKey { item: orrery_market::ItemTypeId(35), ..BOOK };
    let other_region = orrery_market::BookKey { region: orrery_market::RegionId(1), ..BOOK };
    for book in [other_item, other_region] {
        let buy = orrery_market::OrderRequest { book, station: StationId(9), ..request(player(2), Side::Buy, 5, 200) };
        m.place(&buy, 0, &mut events).expect("valid");
    }
    assert!(fills(&events).is_empty());
    assert_eq!(m.len(), 3);
}

#[test]
fn the_same_operations_give_the_same_events() {
    let run = || {
        let mut m = market();
        let mut all = Vec::new();
        for i in 0..200i64 {
            let side = if i % 3 == 0 { Side::Buy } else { Side::Sell };
            let mut events = Vec::new();
            m.place(&request(player((i % 7) as u64), side, 1 + i % 5, 90 + (i * 37) % 21), 0, &mut events).ok();
            all.extend(events);
        }
        all
    };
    assert_eq!(run(), run());
}

#[test]
fn expiry_stays_right_after_many_orders_leave_early() {
    // Enough cancels that the expiry queue drops its stale entries (it rebuilds once they outnumber the open
    // orders by more than 1,024), then every remaining order still expires exactly once, in order.
    let mut m = market();
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for i in 0..5_000u64 {
        let order = orrery_market::OrderRequest { expires_at: 10_000 - i, ..request(player(i % 3), Side::Buy, 1, 50) };
        ids.push(m.place(&order, 0, &mut events).expect("valid"));
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 5 != 0 {
            m.cancel(player(i as u64 % 3), *id, &mut events).expect("the owner cancels");
        }
    }
    events.clear();
    m.expire(10_000, &mut events);
    let expired: Vec<OrderId> = events
        .iter()
        .filter_map(|e| match e {
            Event::Closed { order, reason: CloseReason::Expired, .. } => Some(*order),
            _ => None,
        })
        .collect();
    // Later orders expire earlier: the kept ones, latest first.
    let kept: Vec<OrderId> = ids.iter().step_by(5).rev().copied().collect();
    assert_eq!(expired, kept);
    assert!(m.is_empty());
}

#[test]
fn daily_history_counts_open_high_low_close_and_volume_per_book() {
    let mut m = market();
    let mut history = orrery_market::History::new();
    fn trade(m: &mut Market, history: &mut orrery_market::History, day: u64, price: i64, quantity: i64) {
        let (_, events) = place(m, player(1), Side::Sell, quantity, price);
        history.record_events(day, &events);
        let (_, events) = place(m, player(2), Side::Buy, quantity, price);
        history.record_events(day, &events);
    }
    for (price, quantity) in [(100, 5), (120, 1), (90, 2), (110, 3)] {
        trade(&mut m, &mut history, 7, price, quantity);
    }
    trade(&mut m, &mut history, 8, 105, 10);
    let day = history.day(BOOK, 7).expect("day 7 traded");
    assert_eq!((day.open, day.high, day.low, day.close), (100, 120, 90, 110));
    assert_eq!((day.volume, day.value, day.trades), (11, 500 + 120 + 180 + 330, 4));
    let days: Vec<u64> = history.days(BOOK).map(|(d, _)| d).collect();
    assert_eq!(days, vec![7, 8]);
    let other = orrery_market::BookKey { item: orrery_market::ItemTypeId(35), ..BOOK };
    assert_eq!(history.days(other).count(), 0);
}
