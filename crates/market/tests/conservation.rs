//! The trust tests, as properties over random sequences of orders (some of them bad), fills, cancels,
//! price changes, expiries, mining and NPC periods, with several characters trading in two regions:
//!
//! * money and every item type are conserved: Σ wallets + Σ escrow + sinks − faucets stays 0;
//! * the ledger's escrow is exactly what the open orders hold, and no order fills beyond its quantity;
//! * no book is ever crossed (the best bid is below the best ask);
//! * a refused operation changes nothing.

mod common;

use std::collections::HashMap;

use common::{AMARR, JITA, PERIMETER, RIFTER, TRITANIUM, VELDSPAR};
use orrery_market::{
    CharacterId, Event, Exchange, ExchangeError, Fees, ItemTypeId, OrderId, Owner, PlayerOrder, Side, StationId,
    Trader, escrow,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const CHARACTERS: u64 = 4;
const STATIONS: [StationId; 3] = [JITA, PERIMETER, AMARR];
const ITEMS: [ItemTypeId; 3] = [VELDSPAR, TRITANIUM, RIFTER];

#[derive(Debug, Clone)]
enum Price {
    /// A share of the item's base price, in percent: around the NPC prices, so orders cross often.
    Percent(u64),
    /// A raw value: 0, negative or huge.
    Raw(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Place { who: u64, side: Side, station: usize, docked: bool, item: usize, quantity: i64, price: Price, ttl: u64 },
    Cancel { who: u64, pick: usize },
    Modify { who: u64, pick: usize, price: Price },
    Mine { who: u64, station: usize, quantity: i64 },
    Wait { ticks: u64 },
    NpcPeriod,
}

fn price() -> impl Strategy<Value = Price> {
    prop_oneof![
        9 => (50u64..=150).prop_map(Price::Percent),
        1 => prop_oneof![Just(0i64), Just(-7), Just(i64::MAX), Just(i64::MAX / 3)].prop_map(Price::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    prop_oneof![
        8 => (0..CHARACTERS, side, 0..STATIONS.len(), prop::bool::weighted(0.95), 0..ITEMS.len(), -1i64..60, price(), 0u64..40)
            .prop_map(|(who, side, station, docked, item, quantity, price, ttl)| Op::Place {
                who, side, station, docked, item, quantity, price, ttl
            }),
        2 => (0..CHARACTERS, any::<usize>()).prop_map(|(who, pick)| Op::Cancel { who, pick }),
        2 => (0..CHARACTERS, any::<usize>(), price()).prop_map(|(who, pick, price)| Op::Modify { who, pick, price }),
        2 => (0..CHARACTERS, 0..STATIONS.len(), -1i64..200).prop_map(|(who, station, quantity)| Op::Mine { who, station, quantity }),
        1 => (0u64..15).prop_map(|ticks| Op::Wait { ticks }),
        1 => Just(Op::NpcPeriod),
    ]
}

fn resolve(exchange: &Exchange, item: ItemTypeId, price: &Price) -> i64 {
    match price {
        Price::Percent(p) => {
            let base = exchange.catalog().get(item).map_or(1, |t| t.base_price);
            (base * p / 100).max(1) as i64
        }
        Price::Raw(raw) => *raw,
    }
}

/// The market with NPC desks at Jita (The Forge) and Amarr (Domain), characters with starting money, and every
/// fill counted against its orders' quantities.
struct World {
    exchange: Exchange,
    now: u64,
    placed: HashMap<OrderId, u64>,
    filled: HashMap<OrderId, u64>,
}

impl World {
    fn new() -> World {
        let fees = Fees { broker_fee_bp: 250, min_broker_fee: 100, sales_tax_bp: 500 };
        let mut exchange = common::exchange(fees);
        let rules = common::npc_rules();
        for character in 0..CHARACTERS {
            exchange.grant(CharacterId(character), 2_000_000_000_000).expect("a grant");
        }
        let mut world = World { exchange, now: 0, placed: HashMap::new(), filled: HashMap::new() };
        for (station, item) in [(JITA, VELDSPAR), (JITA, TRITANIUM), (AMARR, VELDSPAR), (JITA, RIFTER)] {
            world.exchange.open_npc_desk(station, item, &rules, 0).expect("a desk");
        }
        // The desks' opening orders (nothing else is in the book yet, so none of them traded).
        for order in world.exchange.market().orders() {
            world.placed.insert(order.id, order.remaining);
        }
        world
    }

    fn record(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Placed { order, quantity, .. } => {
                    assert!(self.placed.insert(*order, *quantity).is_none(), "order {order} placed twice");
                }
                Event::Filled(fill) => {
                    for order in [fill.buy_order, fill.sell_order] {
                        *self.filled.entry(order).or_default() += fill.quantity;
                    }
                }
                _ => {}
            }
        }
    }

    /// The open orders of `who`, by id, for picking one at random.
    fn orders_of(&self, who: u64) -> Vec<OrderId> {
        let owner = Owner::Character(CharacterId(who));
        self.exchange.market().orders().iter().filter(|o| o.owner == owner).map(|o| o.id).collect()
    }

    fn run(&mut self, op: &Op) -> Result<Vec<Event>, ExchangeError> {
        let now = self.now;
        let exchange = &mut self.exchange;
        match *op {
            Op::Place { who, side, station, docked, item, quantity, ref price, ttl } => {
                let (station, item) = (STATIONS[station], ITEMS[item]);
                let docked_at = if docked { Some(station) } else { None };
                let trader = Trader { character: CharacterId(who), docked_at };
                let price = resolve(exchange, item, price);
                let order = PlayerOrder { side, station, item, quantity, price, expires_at: now + ttl };
                exchange.place(trader, order, now).map(|(_, events)| events.to_vec())
            }
            Op::Cancel { who, pick } => {
                // Mostly one's own orders; sometimes another's (refused) or one already gone.
                let mine = self.orders_of(who);
                let target = match mine.len() {
                    0 => OrderId(pick as u64 % 50),
                    n => mine[pick % n],
                };
                let target = if pick % 10 == 0 { OrderId(pick as u64 % 50) } else { target };
                self.exchange.cancel(CharacterId(who), target).map(<[Event]>::to_vec)
            }
            Op::Modify { who, pick, ref price } => {
                let mine = self.orders_of(who);
                let Some(&target) = mine.get(pick % mine.len().max(1)) else {
                    return self.exchange.modify(CharacterId(who), OrderId(pick as u64), 5).map(<[Event]>::to_vec);
                };
                let item = self.exchange.market().order(target).map_or(VELDSPAR, |o| o.book.item);
                let price = resolve(&self.exchange, item, price);
                self.exchange.modify(CharacterId(who), target, price).map(<[Event]>::to_vec)
            }
            Op::Mine { who, station, quantity } => {
                exchange.mine(CharacterId(who), STATIONS[station], VELDSPAR, quantity).map(|()| Vec::new())
            }
            Op::Wait { ticks } => {
                self.now += ticks;
                exchange.expire(self.now).map(<[Event]>::to_vec)
            }
            Op::NpcPeriod => exchange.npc_period(now).map(<[Event]>::to_vec),
        }
    }

    fn check_invariants(&self) {
        let ledger = self.exchange.ledger();
        assert_eq!(ledger.money_imbalance(), 0, "money is not conserved: {:?}", ledger.money_flows());
        for item in ITEMS {
            assert_eq!(
                ledger.item_imbalance(item),
                0,
                "item type {item} is not conserved: {:?}",
                ledger.item_flows(item)
            );
        }
        let market = self.exchange.market();
        let mut player_orders = 0;
        for order in market.orders() {
            let filled = self.filled.get(&order.id).copied().unwrap_or(0);
            let placed = self.placed.get(&order.id).copied().unwrap_or(0);
            assert_eq!(filled + order.remaining, placed, "order {} filled {filled} of {placed}", order.id);
            if let Owner::Character(_) = order.owner {
                player_orders += 1;
                let held = ledger.escrow(order.id).map(|e| match e.held {
                    orrery_market::Held::Money(m) | orrery_market::Held::Items(m) => m,
                });
                assert_eq!(held, Some(escrow(order.owner, order.side, order.price, order.remaining)), "{order:?}");
            }
        }
        assert_eq!(ledger.escrows().count(), player_orders, "escrow held for orders no longer open");
        for (order, filled) in &self.filled {
            assert!(filled <= self.placed.get(order).unwrap_or(&0), "order {order} filled beyond its quantity");
        }
        for region in [common::THE_FORGE, common::DOMAIN] {
            for item in ITEMS {
                let book = orrery_market::BookKey { region, item };
                if let (Some(bid), Some(ask)) = (market.best(book, Side::Buy), market.best(book, Side::Sell)) {
                    assert!(bid < ask, "book {book:?} is crossed: bid {bid} ≥ ask {ask}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn money_and_items_are_conserved_and_refusals_change_nothing(ops in prop::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        world.check_invariants();
        for op in &ops {
            let before = common::state(&world.exchange);
            match world.run(op) {
                Ok(events) => world.record(&events),
                Err(ExchangeError::Inconsistent(e)) => panic!("the ledger disagreed with the market after {op:?}: {e}"),
                Err(_) => {
                    prop_assert_eq!(&common::state(&world.exchange), &before, "a refused {:?} changed something", op);
                }
            }
            world.check_invariants();
        }
    }
}

/// A long fixed run with many trades, so that the properties above are known to see fills, NPC trades, expiries
/// and fees, not only refusals.
#[test]
fn a_long_run_trades_with_players_and_npcs_and_conserves_everything() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 3_000).new_tree(&mut runner).expect("ops").current();
    let mut world = World::new();
    let mut fills = (0, 0);
    for op in &ops {
        if let Ok(events) = world.run(op) {
            for event in &events {
                if let Event::Filled(fill) = event {
                    match fill.npc().next() {
                        Some(_) => fills.1 += 1,
                        None => fills.0 += 1,
                    }
                }
            }
            world.record(&events);
        }
        world.check_invariants();
    }
    let flows = world.exchange.ledger().money_flows();
    assert!(fills.0 > 20 && fills.1 > 100, "player-to-player and NPC fills: {fills:?}");
    assert!(
        flows.broker_fees > 0 && flows.sales_tax > 0 && flows.npc_purchases > 0 && flows.npc_sales > 0,
        "{flows:?}"
    );
}
