//! The market role's engine: the pure [`Exchange`] in memory, in front of the store.
//!
//! * [`MarketService::submit`] runs one operation at once in memory (so later operations of the same tick see
//!   its effect) and remembers what it changed; a refused operation changes nothing and is not logged.
//! * [`MarketService::commit`] writes everything the operations since the last commit changed — the
//!   operations themselves (the log), wallets, hangars, orders with their escrow, journal lines, fills, faucet
//!   and sink counters, daily history, NPC desks — in ONE store transaction. A client is answered only after
//!   the commit that holds its operation (the caller keeps the answers until then), so an answered trade is
//!   durable and an unanswered one may be lost whole, never half.
//! * [`MarketService::open`] replays the stored log through a fresh exchange (the core is deterministic) and
//!   checks that the replay gives exactly the stored wallets, hangars and open orders: a half-written batch, a
//!   lost escrow or an order filled twice would show here, and the service refuses to start.
//!
//! If a commit fails the memory is ahead of the store; the service then refuses everything
//! ([`ServiceError::Broken`]) and must be opened again, which rebuilds it from what the store holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use orrery_market::{
    BookKey, CharacterId, CloseReason, Event, Exchange, Fees, Held, ItemCatalog, ItemTypeId, OrderId, Owner, Side,
    Station, StationId,
};
use orrery_store::{
    DeskRow, EconomyBalances, EconomyBatch, EconomyLogRow, FlowRow, HangarRow, HistoryRow, JournalRow, OrderRow,
    OrderState, OwnerRef, Store, StoreError, TransactionRow, WalletRow,
};

use crate::op::{Op, OpError, OpResult, apply};
use crate::rate::RateLimiter;

/// Milliseconds in a day: `day = at_ms / DAY_MS` for history and the faucet and sink counters.
pub const DAY_MS: u64 = 86_400_000;

/// What the market trades and where: the same on every start (the replay depends on it).
#[derive(Debug, Clone)]
pub struct MarketSetup {
    /// Fees charged.
    pub fees: Fees,
    /// The item types (`data/items.csv`); types may be added, never removed or renumbered.
    pub catalog: ItemCatalog,
    /// The stations (`orrery_market::stations` of the universe).
    pub stations: Vec<Station>,
}

/// Why the service failed (not a client's refused operation, which is [`OpError`]).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// A logged operation could not be decoded or no longer applies: the log and this build disagree.
    #[error("economy log entry {seq}: {problem}")]
    Replay {
        /// The log entry.
        seq: u64,
        /// What went wrong.
        problem: String,
    },
    /// The replayed log does not give the stored balances: the store is not what the log says.
    #[error("the stored economy disagrees with its log: {0}")]
    Mismatch(String),
    /// A commit failed earlier; the service must be opened again from the store.
    #[error("a commit failed; the market must be reopened from the store")]
    Broken,
}

/// A refused or failed submission.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The operation was refused; nothing changed.
    #[error(transparent)]
    Refused(#[from] OpError),
    /// The character sent more operations than the rate limit allows; nothing changed.
    #[error("character {0} is sending orders too fast")]
    RateLimited(u64),
    /// The service cannot take operations.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What changed since the last commit.
#[derive(Debug, Default)]
struct Pending {
    log: Vec<EconomyLogRow>,
    wallets: BTreeSet<CharacterId>,
    hangars: BTreeSet<(CharacterId, StationId, ItemTypeId)>,
    orders: BTreeSet<u64>,
    journal: Vec<JournalRow>,
    transactions: Vec<TransactionRow>,
    flows: BTreeMap<(u64, &'static str, u32), u64>,
    history: BTreeSet<(BookKey, u64)>,
    desks: bool,
}

/// The market engine; see the module documentation.
pub struct MarketService {
    exchange: Exchange,
    history: orrery_market::History,
    /// Rows of open orders, and of orders closed since the last commit (written, then dropped).
    orders: HashMap<u64, OrderRow>,
    store: Arc<dyn Store>,
    next_seq: u64,
    pending: Pending,
    events: Vec<Event>,
    rate: RateLimiter,
    broken: bool,
    stations: Vec<Station>,
    /// Characters that got their starting money (a [`Op::Grant`] is in the log).
    granted: std::collections::HashSet<u64>,
}

impl MarketService {
    /// Opens the market over `store`: replays its log and checks the result against the stored balances.
    pub async fn open(store: Arc<dyn Store>, setup: MarketSetup, rate: RateLimiter) -> Result<Self, ServiceError> {
        let mut exchange = Exchange::new(setup.fees, setup.catalog);
        for station in &setup.stations {
            exchange.add_station(station.id, station.region);
        }
        let mut service = MarketService {
            exchange,
            history: orrery_market::History::new(),
            orders: HashMap::new(),
            store: store.clone(),
            next_seq: 1,
            pending: Pending::default(),
            events: Vec::new(),
            rate,
            broken: false,
            stations: setup.stations.clone(),
            granted: std::collections::HashSet::new(),
        };
        let log = store.economy().economy_log().await?;
        for entry in &log {
            if entry.seq != service.next_seq {
                return Err(ServiceError::Replay { seq: entry.seq, problem: format!("expected {}", service.next_seq) });
            }
            let op: Op = serde_json::from_str(&entry.op)
                .map_err(|e| ServiceError::Replay { seq: entry.seq, problem: e.to_string() })?;
            service
                .run(&op, entry.at_ms)
                .map_err(|e| ServiceError::Replay { seq: entry.seq, problem: e.to_string() })?;
            service.next_seq += 1;
        }
        service.pending = Pending::default();
        service.orders.retain(|_, row| row.state == OrderState::Open);
        let balances = store.economy().economy_balances().await?;
        service.check_against(&balances)?;
        tracing::info!(operations = log.len(), open_orders = service.exchange.market().len(), "market replayed");
        Ok(service)
    }

    /// The exchange (books, ledger, desks), read-only.
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// Whether a character was ever granted money (so the role grants a starting wallet once).
    pub fn was_granted(&self, character: u64) -> bool {
        self.granted.contains(&character)
    }

    /// The stations the market knows.
    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    /// The daily history as replayed and traded since.
    pub fn history(&self) -> &orrery_market::History {
        &self.history
    }

    /// Operations submitted since the last commit.
    pub fn pending_operations(&self) -> usize {
        self.pending.log.len()
    }

    /// Runs a player's (or the role's own) operation now, in memory; it is durable after the next
    /// [`MarketService::commit`]. Player operations (place, modify, cancel) count against the character's rate
    /// limit.
    pub fn submit(&mut self, op: &Op, now: u64) -> Result<OpResult, SubmitError> {
        if self.broken {
            return Err(ServiceError::Broken.into());
        }
        if let Op::Place { character, .. } | Op::Modify { character, .. } | Op::Cancel { character, .. } = *op
            && !self.rate.allow(character, now)
        {
            return Err(SubmitError::RateLimited(character));
        }
        let result = self.run(op, now)?;
        let text = serde_json::to_string(op).map_err(|e| OpError::Rules(e.to_string()))?;
        self.pending.log.push(EconomyLogRow { seq: self.next_seq, at_ms: now, op: text });
        self.next_seq += 1;
        Ok(result)
    }

    /// Writes everything since the last commit in one transaction. On failure the service is broken (see the
    /// module documentation).
    pub async fn commit(&mut self) -> Result<usize, ServiceError> {
        if self.broken {
            return Err(ServiceError::Broken);
        }
        if self.pending.log.is_empty() {
            return Ok(0);
        }
        let batch = self.batch();
        let count = batch.log.len();
        if let Err(e) = self.store.economy().commit_economy(&batch).await {
            self.broken = true;
            return Err(e.into());
        }
        self.pending = Pending::default();
        self.orders.retain(|_, row| row.state == OrderState::Open);
        Ok(count)
    }

    /// Runs an operation and records what it changed.
    fn run(&mut self, op: &Op, now: u64) -> Result<OpResult, OpError> {
        self.events.clear();
        let result = apply(&mut self.exchange, op, now, &mut self.events)?;
        let day = now / DAY_MS;
        match *op {
            Op::Grant { character, amount } => {
                self.granted.insert(character);
                self.pending.wallets.insert(CharacterId(character));
                self.journal(character, now, "grant", amount as i64, None);
                self.flow(day, "grant", 0, amount);
            }
            Op::Mine { character, station, item, quantity } => {
                self.pending.hangars.insert((CharacterId(character), StationId(station), ItemTypeId(item)));
                self.flow(day, "mined", item, quantity as u64);
            }
            Op::OpenDesk { .. } | Op::NpcPeriod | Op::Retune { .. } => self.pending.desks = true,
            _ => {}
        }
        let events = std::mem::take(&mut self.events);
        for event in &events {
            self.track(event, now, day);
        }
        self.events = events;
        Ok(result)
    }

    fn journal(&mut self, character: u64, at_ms: u64, kind: &'static str, amount: i64, order: Option<u64>) {
        if amount != 0 {
            self.pending.journal.push(JournalRow { character_id: character, at_ms, kind, amount, order_id: order });
        }
    }

    fn flow(&mut self, day: u64, kind: &'static str, type_id: u32, amount: u64) {
        if amount > 0 {
            *self.pending.flows.entry((day, kind, type_id)).or_default() += amount;
        }
    }

    /// Records what one event changed.
    fn track(&mut self, event: &Event, now: u64, day: u64) {
        match event {
            Event::Placed { order, owner, side, book, station, price, quantity, expires_at, escrow } => {
                self.orders.insert(
                    order.0,
                    OrderRow {
                        order_id: order.0,
                        owner: owner_ref(*owner),
                        buy: *side == Side::Buy,
                        region_id: book.region.0,
                        type_id: book.item.0,
                        station_id: station.0,
                        price: *price,
                        quantity: *quantity,
                        remaining: *quantity,
                        escrow: *escrow,
                        state: OrderState::Open,
                        placed_at_ms: now,
                        // NPC orders never expire (u64::MAX); the column is signed.
                        expires_at_ms: (*expires_at).min(i64::MAX as u64),
                    },
                );
                self.pending.orders.insert(order.0);
                if let Owner::Character(c) = owner {
                    match side {
                        Side::Buy => {
                            self.pending.wallets.insert(*c);
                            self.journal(c.0, now, "buy_escrow", -(*escrow as i64), Some(order.0));
                        }
                        Side::Sell => {
                            self.pending.hangars.insert((*c, *station, book.item));
                        }
                    }
                }
            }
            Event::Repriced { order, owner, side, remaining, old_price, new_price } => {
                if let Some(row) = self.orders.get_mut(&order.0) {
                    row.price = *new_price;
                }
                self.pending.orders.insert(order.0);
                if let (Owner::Character(c), Side::Buy) = (owner, side) {
                    self.pending.wallets.insert(*c);
                    let change = i128::from(*remaining) * (i128::from(*old_price) - i128::from(*new_price));
                    self.journal(c.0, now, "reprice_escrow", change as i64, Some(order.0));
                }
            }
            Event::Filled(fill) => {
                for id in [fill.buy_order, fill.sell_order] {
                    if let Some(row) = self.orders.get_mut(&id.0) {
                        row.remaining -= fill.quantity.min(row.remaining);
                    }
                    self.pending.orders.insert(id.0);
                }
                let item = fill.book.item;
                let value = fill.quantity * fill.price;
                match fill.buyer {
                    Owner::Character(c) => {
                        self.pending.wallets.insert(c);
                        self.pending.hangars.insert((c, fill.station, item));
                        let refund = fill.quantity * (fill.buy_price - fill.price);
                        self.journal(c.0, now, "purchase_refund", refund as i64, Some(fill.buy_order.0));
                    }
                    Owner::Npc(_) => {
                        self.flow(day, "npc_purchase", 0, value);
                        self.flow(day, "npc_purchase", item.0, fill.quantity);
                    }
                }
                match fill.seller {
                    Owner::Character(c) => {
                        self.pending.wallets.insert(c);
                        self.journal(c.0, now, "sale", value as i64, Some(fill.sell_order.0));
                        self.journal(c.0, now, "sales_tax", -(fill.sales_tax as i64), Some(fill.sell_order.0));
                        self.flow(day, "sales_tax", 0, fill.sales_tax);
                    }
                    Owner::Npc(_) => {
                        self.flow(day, "npc_sale", 0, value);
                        self.flow(day, "npc_sale", item.0, fill.quantity);
                    }
                }
                self.pending.transactions.push(TransactionRow {
                    at_ms: now,
                    buy_order: fill.buy_order.0,
                    sell_order: fill.sell_order.0,
                    buyer: owner_ref(fill.buyer),
                    seller: owner_ref(fill.seller),
                    station_id: fill.station.0,
                    region_id: fill.book.region.0,
                    type_id: item.0,
                    quantity: fill.quantity,
                    price: fill.price,
                    sales_tax: fill.sales_tax,
                });
                self.history.record(day, fill);
                self.pending.history.insert((fill.book, day));
                if fill.npc().next().is_some() {
                    self.pending.desks = true;
                }
            }
            Event::BrokerFee { order, owner, amount } => {
                if let Owner::Character(c) = owner {
                    self.pending.wallets.insert(*c);
                    self.journal(c.0, now, "broker_fee", -(*amount as i64), Some(order.0));
                    self.flow(day, "broker_fee", 0, *amount);
                }
            }
            Event::Closed { order, owner, side, item, station, reason, released } => {
                if let Some(row) = self.orders.get_mut(&order.0) {
                    row.state = match reason {
                        CloseReason::Filled => OrderState::Filled,
                        CloseReason::Cancelled => OrderState::Cancelled,
                        CloseReason::Expired => OrderState::Expired,
                    };
                }
                self.pending.orders.insert(order.0);
                if let Owner::Character(c) = owner {
                    match side {
                        Side::Buy => {
                            self.pending.wallets.insert(*c);
                            self.journal(c.0, now, "escrow_refund", *released as i64, Some(order.0));
                        }
                        Side::Sell => {
                            self.pending.hangars.insert((*c, *station, *item));
                        }
                    }
                }
            }
        }
    }

    /// The rows the pending operations changed, as they stand now.
    fn batch(&self) -> EconomyBatch {
        let ledger = self.exchange.ledger();
        let wallets =
            self.pending.wallets.iter().map(|&c| WalletRow { character_id: c.0, balance: ledger.wallet(c) }).collect();
        let hangars = self
            .pending
            .hangars
            .iter()
            .map(|&(c, s, i)| HangarRow {
                character_id: c.0,
                station_id: s.0,
                type_id: i.0,
                quantity: ledger.hangar(c, s, i),
            })
            .collect();
        let orders = self
            .pending
            .orders
            .iter()
            .filter_map(|id| self.orders.get(id))
            .map(|row| OrderRow { escrow: self.escrow_of(row), ..*row })
            .collect();
        let flows = self
            .pending
            .flows
            .iter()
            .map(|(&(day, kind, type_id), &amount)| FlowRow { day, kind: kind.to_owned(), type_id, amount })
            .collect();
        let history = self
            .pending
            .history
            .iter()
            .filter_map(|&(book, day)| {
                self.history.day(book, day).map(|d| HistoryRow {
                    region_id: book.region.0,
                    type_id: book.item.0,
                    day,
                    open: d.open,
                    high: d.high,
                    low: d.low,
                    close: d.close,
                    volume: d.volume,
                    fills: d.trades,
                })
            })
            .collect();
        let desks = if self.pending.desks { self.desk_rows() } else { Vec::new() };
        EconomyBatch {
            log: self.pending.log.clone(),
            wallets,
            hangars,
            orders,
            journal: self.pending.journal.clone(),
            transactions: self.pending.transactions.clone(),
            flows,
            history,
            desks,
        }
    }

    /// Every NPC desk's current prices.
    pub fn desk_rows(&self) -> Vec<DeskRow> {
        self.exchange
            .desks()
            .iter()
            .map(|d| {
                let quotes = d.price.quotes(&d.rule);
                DeskRow {
                    desk_id: d.id.0,
                    station_id: d.station.0,
                    type_id: d.book.item.0,
                    factor_ppm: d.price.factor_ppm,
                    buy_price: quotes.buy,
                    sell_price: quotes.sell,
                }
            })
            .collect()
    }

    fn escrow_of(&self, row: &OrderRow) -> u64 {
        match self.exchange.ledger().escrow(OrderId(row.order_id)).map(|e| e.held) {
            Some(Held::Money(m)) => m,
            Some(Held::Items(q)) => q,
            None => 0,
        }
    }

    /// Checks that the stored balances are what this exchange holds.
    fn check_against(&self, stored: &EconomyBalances) -> Result<(), ServiceError> {
        let ledger = self.exchange.ledger();
        let mine: Vec<WalletRow> = ledger
            .wallets()
            .filter(|&(_, m)| m > 0)
            .map(|(c, m)| WalletRow { character_id: c.0, balance: m })
            .collect();
        let theirs: Vec<WalletRow> = stored.wallets.iter().copied().filter(|w| w.balance > 0).collect();
        if mine != theirs {
            return Err(ServiceError::Mismatch(format!("wallets: replayed {mine:?}, stored {theirs:?}")));
        }
        let mine: Vec<HangarRow> = ledger
            .hangars()
            .map(|((c, s, i), q)| HangarRow { character_id: c.0, station_id: s.0, type_id: i.0, quantity: q })
            .collect();
        if mine != stored.hangars {
            return Err(ServiceError::Mismatch(format!("hangars: replayed {mine:?}, stored {:?}", stored.hangars)));
        }
        let mut mine: Vec<OrderRow> =
            self.orders.values().map(|row| OrderRow { escrow: self.escrow_of(row), ..*row }).collect();
        mine.sort_by_key(|o| o.order_id);
        if mine != stored.open_orders {
            return Err(ServiceError::Mismatch(format!(
                "open orders: replayed {} ({:?}…), stored {} ({:?}…)",
                mine.len(),
                mine.first(),
                stored.open_orders.len(),
                stored.open_orders.first()
            )));
        }
        for order in &mine {
            let resting = self.exchange.market().order(OrderId(order.order_id));
            if resting.map(|r| (r.remaining, r.price)) != Some((order.remaining, order.price)) {
                return Err(ServiceError::Mismatch(format!("order {} is not in the book as stored", order.order_id)));
            }
        }
        Ok(())
    }
}

fn owner_ref(owner: Owner) -> OwnerRef {
    match owner {
        Owner::Character(c) => OwnerRef::Character(c.0),
        Owner::Npc(n) => OwnerRef::Npc(n.0),
    }
}

/// The conservation identities over the STORED rows, independent of any memory: for money, Σ wallets + Σ open
/// player buy orders' escrow + sinks − faucets; for every item type, Σ hangars + Σ open player sell orders'
/// escrow + sinks − faucets. Every one must be 0; returns the ones that are not, as `(type_id, imbalance)`
/// (type 0 is money).
pub fn stored_imbalances(balances: &EconomyBalances) -> Vec<(u32, i128)> {
    let mut sums: BTreeMap<u32, i128> = BTreeMap::new();
    for w in &balances.wallets {
        *sums.entry(0).or_default() += i128::from(w.balance);
    }
    for h in &balances.hangars {
        *sums.entry(h.type_id).or_default() += i128::from(h.quantity);
    }
    for o in &balances.open_orders {
        if let OwnerRef::Character(_) = o.owner {
            let key = if o.buy { 0 } else { o.type_id };
            *sums.entry(key).or_default() += i128::from(o.escrow);
        }
    }
    for f in &balances.flows {
        let faucet = matches!(
            (f.type_id == 0, f.kind.as_str()),
            (true, "grant" | "npc_purchase") | (false, "mined" | "npc_sale")
        );
        let sign = if faucet { -1 } else { 1 };
        *sums.entry(f.type_id).or_default() += sign * i128::from(f.amount);
    }
    sums.into_iter().filter(|&(_, v)| v != 0).collect()
}
