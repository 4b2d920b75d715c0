//! The economy's durable state (issue 23, migration `0005_economy.sql`): wallets, hangars, market orders with
//! their escrow, the wallet journal, transactions, faucet and sink counters per day, daily market history, NPC
//! desks and the market role's operation log.
//!
//! The store does not match orders or check balances — the market role does, with the pure core
//! (`orrery-market`). What the store guarantees is atomicity: one [`EconomyBatch`] (the operations of one market
//! tick, with every row they changed) is written in ONE transaction, so money, items, escrow and the fills that
//! moved them are all there or none of them is. It also checks the rows it is given (no negative balance, ids in
//! range) before anything is written, and reads back nothing it does not check.
//!
//! [`EconomyStore`] is a trait of its own, reached through [`crate::Store::economy`], so that the accounts and
//! ships half of the store and the economy half grow independently.

use crate::StoreError;

/// Money, as the economy's integer unit (hundredths of a credit). Never a float.
pub type Amount = u64;

/// One operation of the market role, as logged: replaying the log through the deterministic core rebuilds the
/// books and balances exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EconomyLogRow {
    /// Its place in the log, from 1, without gaps.
    pub seq: u64,
    /// When the role ran it (milliseconds since the Unix epoch): the `now` the core was given.
    pub at_ms: u64,
    /// The operation, encoded by the role (JSON); the store keeps what it is given.
    pub op: String,
}

/// A character's wallet, absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalletRow {
    /// Whose wallet.
    pub character_id: u64,
    /// What it holds now.
    pub balance: Amount,
}

/// What a character keeps of one item type at one station, absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HangarRow {
    /// Whose hangar.
    pub character_id: u64,
    /// Where.
    pub station_id: u64,
    /// Which item type (`data/items.csv`).
    pub type_id: u32,
    /// How many, now.
    pub quantity: u64,
}

/// Who owns an order or took part in a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnerRef {
    /// A player character (id from 1).
    Character(u64),
    /// An NPC trader desk (id from 0).
    Npc(u32),
}

/// An order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderState {
    /// Resting in the book, holding its escrow.
    Open,
    /// Fully traded.
    Filled,
    /// Cancelled by its owner.
    Cancelled,
    /// Past its expiry.
    Expired,
}

/// A market order as it stands, absolute (written whole on every change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRow {
    /// The id the market gave it.
    pub order_id: u64,
    /// Its owner.
    pub owner: OwnerRef,
    /// `true` for a buy order (holds money), `false` for a sell order (holds items).
    pub buy: bool,
    /// The region whose book it is in.
    pub region_id: u32,
    /// The item type.
    pub type_id: u32,
    /// Where it was placed.
    pub station_id: u64,
    /// Price per unit.
    pub price: Amount,
    /// Quantity when placed.
    pub quantity: u64,
    /// What is left to fill.
    pub remaining: u64,
    /// What it holds in escrow now (money for a player's buy order, items for a player's sell order, else 0).
    pub escrow: u64,
    /// Open or how it closed.
    pub state: OrderState,
    /// When it was placed (ms since the Unix epoch).
    pub placed_at_ms: u64,
    /// When it expires (ms since the Unix epoch).
    pub expires_at_ms: u64,
}

/// A line of a character's wallet journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// Whose wallet.
    pub character_id: u64,
    /// When.
    pub at_ms: u64,
    /// What for: `grant`, `buy_escrow`, `escrow_refund`, `sale`, `sales_tax`, `broker_fee`, `reprice_escrow`.
    pub kind: &'static str,
    /// Signed: what came in (positive) or went out (negative).
    pub amount: i64,
    /// The order it concerns, if any.
    pub order_id: Option<u64>,
}

/// A fill, as the transaction history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionRow {
    /// When.
    pub at_ms: u64,
    /// The buy order.
    pub buy_order: u64,
    /// The sell order.
    pub sell_order: u64,
    /// Who bought.
    pub buyer: OwnerRef,
    /// Who sold.
    pub seller: OwnerRef,
    /// Where the items changed hands (the sell order's station).
    pub station_id: u64,
    /// The book's region.
    pub region_id: u32,
    /// The item type.
    pub type_id: u32,
    /// Units traded.
    pub quantity: u64,
    /// Price per unit.
    pub price: Amount,
    /// Sales tax the seller paid (a sink).
    pub sales_tax: Amount,
}

/// A faucet or sink counter of one day: added to what the day already has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowRow {
    /// Days since the Unix epoch.
    pub day: u64,
    /// `grant`, `npc_purchase`, `broker_fee`, `sales_tax`, `npc_sale` (money, `type_id` 0); `mined`, `npc_sale`,
    /// `npc_purchase` (items).
    pub kind: String,
    /// 0 for money, else the item type.
    pub type_id: u32,
    /// How much (a delta when written, the day's total when read).
    pub amount: u64,
}

/// One day of one book: open, high, low, close, volume; absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRow {
    /// The region.
    pub region_id: u32,
    /// The item type.
    pub type_id: u32,
    /// Days since the Unix epoch.
    pub day: u64,
    /// First fill's price.
    pub open: Amount,
    /// Highest fill price.
    pub high: Amount,
    /// Lowest fill price.
    pub low: Amount,
    /// Last fill's price.
    pub close: Amount,
    /// Units traded.
    pub volume: u64,
    /// Number of fills.
    pub fills: u64,
}

/// An NPC desk's current prices, absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskRow {
    /// The desk.
    pub desk_id: u32,
    /// Its trade hub station.
    pub station_id: u64,
    /// What it trades.
    pub type_id: u32,
    /// Its price factor in millionths of the base price.
    pub factor_ppm: u64,
    /// What it pays players.
    pub buy_price: Amount,
    /// What it asks.
    pub sell_price: Amount,
}

/// Everything one batch of market operations changed, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EconomyBatch {
    /// The operations, in order; their `seq` must follow the log's last without a gap.
    pub log: Vec<EconomyLogRow>,
    /// Wallets as they now stand.
    pub wallets: Vec<WalletRow>,
    /// Hangars as they now stand (0 is written as 0, not deleted).
    pub hangars: Vec<HangarRow>,
    /// Orders as they now stand.
    pub orders: Vec<OrderRow>,
    /// New journal lines.
    pub journal: Vec<JournalRow>,
    /// New fills.
    pub transactions: Vec<TransactionRow>,
    /// Faucet and sink deltas per day.
    pub flows: Vec<FlowRow>,
    /// History rows as they now stand.
    pub history: Vec<HistoryRow>,
    /// NPC desks as they now stand.
    pub desks: Vec<DeskRow>,
}

impl EconomyBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

/// The balances the store holds: what a restarted market role checks its replay against, and what the
/// conservation check sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EconomyBalances {
    /// Every wallet, by character.
    pub wallets: Vec<WalletRow>,
    /// Every hangar row with items, by character, station, item type.
    pub hangars: Vec<HangarRow>,
    /// Every open order, by id.
    pub open_orders: Vec<OrderRow>,
    /// Each faucet and sink summed over all days, by kind and type (`day` 0).
    pub flows: Vec<FlowRow>,
}

/// The most traded item types over some days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradedItem {
    /// The item type.
    pub type_id: u32,
    /// Units traded.
    pub volume: u64,
    /// Fills.
    pub fills: u64,
}

/// The economy's half of the store; see the module documentation. Reached through [`crate::Store::economy`].
#[async_trait::async_trait]
pub trait EconomyStore: Send + Sync {
    /// Writes one batch in one transaction. [`StoreError::Conflict`] if its first log `seq` is not the one after
    /// the stored log's last (another market role wrote meanwhile, or a batch is written twice);
    /// [`StoreError::Invalid`] for a value a column cannot hold. Nothing is written in either case.
    async fn commit_economy(&self, batch: &EconomyBatch) -> Result<(), StoreError>;

    /// The whole operation log, in order.
    async fn economy_log(&self) -> Result<Vec<EconomyLogRow>, StoreError>;

    /// Every balance and the faucet and sink totals.
    async fn economy_balances(&self) -> Result<EconomyBalances, StoreError>;

    /// A character's latest journal lines, newest first.
    async fn wallet_journal(&self, character_id: u64, limit: u32) -> Result<Vec<JournalRow>, StoreError>;

    /// A character's latest fills (as buyer or seller), newest first.
    async fn transactions(&self, character_id: u64, limit: u32) -> Result<Vec<TransactionRow>, StoreError>;

    /// A character's orders (open and closed), newest first.
    async fn orders_of(&self, character_id: u64, limit: u32) -> Result<Vec<OrderRow>, StoreError>;

    /// One book's daily history from `since_day` on, oldest first.
    async fn market_history(&self, region_id: u32, type_id: u32, since_day: u64)
    -> Result<Vec<HistoryRow>, StoreError>;

    /// Faucets and sinks per day from `since_day` on, by day, kind and type.
    async fn flows_since(&self, since_day: u64) -> Result<Vec<FlowRow>, StoreError>;

    /// The `limit` item types with most units traded from `since_day` on, most first.
    async fn most_traded(&self, since_day: u64, limit: u32) -> Result<Vec<TradedItem>, StoreError>;

    /// Every NPC desk's current prices.
    async fn desks(&self) -> Result<Vec<DeskRow>, StoreError>;
}

// ---- statement building ------------------------------------------------------------------------------------

/// A value to bind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

/// Rows per multi-row statement: far below SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// How a backend numbers bind parameters in the multi-row statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` (SQLite: sqlx looks every named parameter up by index, and SQLite's lookup is a linear scan,
    /// so thousands of `$n` in one statement cost quadratic time; anonymous ones bind in order).
    Anonymous,
}

/// `INSERT INTO table (cols) VALUES ($1, …), (…) tail` for `rows` rows.
pub(crate) fn insert_sql(table: &str, columns: &[&str], rows: usize, tail: &str, style: Placeholders) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match style {
                Placeholders::Numbered => sql.push_str(&format!("${n}")),
                Placeholders::Anonymous => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// `ON CONFLICT (keys) DO UPDATE SET c = excluded.c, …` for the other columns.
pub(crate) fn upsert_tail(keys: &[&str], columns: &[&str]) -> String {
    let sets: Vec<String> =
        columns.iter().filter(|c| !keys.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect();
    format!("ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), sets.join(", "))
}

/// A u64 the caller gave, for a BIGINT column.
pub(crate) fn int(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::invalid(format!("{what} {value} is above 2^63-1")))
}

/// A BIGINT read back that must not be negative.
pub(crate) fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is {value}, below 0")))
}

/// A BIGINT read back that must fit 32 bits.
pub(crate) fn small(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} is {value}, outside 0..=2^32-1")))
}

pub(crate) fn owner_args(owner: OwnerRef) -> (i64, i64) {
    match owner {
        OwnerRef::Character(id) => (0, id as i64),
        OwnerRef::Npc(id) => (1, i64::from(id)),
    }
}

pub(crate) fn owner_from(kind: i64, id: i64, what: &str) -> Result<OwnerRef, StoreError> {
    match kind {
        0 if id >= 1 => Ok(OwnerRef::Character(id as u64)),
        1 => Ok(OwnerRef::Npc(small(id, what)?)),
        _ => Err(StoreError::corrupt(format!("{what}: owner kind {kind} with id {id}"))),
    }
}

pub(crate) fn state_arg(state: OrderState) -> i64 {
    match state {
        OrderState::Open => 0,
        OrderState::Filled => 1,
        OrderState::Cancelled => 2,
        OrderState::Expired => 3,
    }
}

pub(crate) fn state_from(value: i64, what: &str) -> Result<OrderState, StoreError> {
    Ok(match value {
        0 => OrderState::Open,
        1 => OrderState::Filled,
        2 => OrderState::Cancelled,
        3 => OrderState::Expired,
        other => return Err(StoreError::corrupt(format!("{what}: order state {other}"))),
    })
}

/// Journal kinds as stored, so that a row read back gets a `&'static str` again.
pub(crate) const JOURNAL_KINDS: &[&str] =
    &["grant", "buy_escrow", "escrow_refund", "sale", "sales_tax", "broker_fee", "reprice_escrow", "purchase_refund"];

/// Every table of a batch as (statement, arguments) pairs, checked: a value no column can hold refuses the whole
/// batch before anything is written.
/// Appends the multi-row statements writing `rows` into `table` (an upsert on `keys` if given).
fn add_rows<'a>(
    out: &mut Vec<(String, Vec<Arg<'a>>)>,
    table: &str,
    columns: &[&str],
    keys: Option<&[&str]>,
    rows: &[Vec<Arg<'a>>],
    style: Placeholders,
) {
    let tail = match (table, keys) {
        // Flows are deltas, added to the day's counter.
        ("econ_flows", _) => {
            "ON CONFLICT (day, kind, type_id) DO UPDATE SET amount = econ_flows.amount + excluded.amount".to_owned()
        }
        (_, Some(keys)) => upsert_tail(keys, columns),
        (_, None) => String::new(),
    };
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        out.push((insert_sql(table, columns, chunk.len(), &tail, style), chunk.concat()));
    }
}

/// Every table of a batch as (statement, arguments) pairs, checked: a value no column can hold refuses the whole
/// batch before anything is written.
pub(crate) fn batch_statements(
    batch: &EconomyBatch,
    style: Placeholders,
) -> Result<Vec<(String, Vec<Arg<'_>>)>, StoreError> {
    let mut out = Vec::new();
    use Arg::{Int, Null, Text};
    let log = batch
        .log
        .iter()
        .map(|r| Ok(vec![Int(int(r.seq, "log seq")?), Int(int(r.at_ms, "log time")?), Text(&r.op)]))
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_log", &["seq", "at_ms", "op"], None, &log, style);
    let wallets = batch
        .wallets
        .iter()
        .map(|w| Ok(vec![Int(int(w.character_id, "character id")?), Int(int(w.balance, "wallet balance")?)]))
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_wallets", &["character_id", "balance"], Some(&["character_id"]), &wallets, style);
    let hangars = batch
        .hangars
        .iter()
        .map(|h| {
            Ok(vec![
                Int(int(h.character_id, "character id")?),
                Int(int(h.station_id, "station id")?),
                Int(i64::from(h.type_id)),
                Int(int(h.quantity, "hangar quantity")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let hangar_keys = ["character_id", "station_id", "type_id"];
    add_rows(
        &mut out,
        "econ_hangars",
        &["character_id", "station_id", "type_id", "quantity"],
        Some(&hangar_keys),
        &hangars,
        style,
    );
    let orders = batch
        .orders
        .iter()
        .map(|o| {
            let (kind, id) = owner_args(o.owner);
            Ok(vec![
                Int(int(o.order_id, "order id")?),
                Int(kind),
                Int(id),
                Int(if o.buy { 0 } else { 1 }),
                Int(i64::from(o.region_id)),
                Int(i64::from(o.type_id)),
                Int(int(o.station_id, "station id")?),
                Int(int(o.price, "price")?),
                Int(int(o.quantity, "quantity")?),
                Int(int(o.remaining, "remaining")?),
                Int(int(o.escrow, "escrow")?),
                Int(state_arg(o.state)),
                Int(int(o.placed_at_ms, "placed at")?),
                Int(int(o.expires_at_ms, "expires at")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_orders", ORDER_COLUMNS, Some(&["order_id"]), &orders, style);
    let journal = batch
        .journal
        .iter()
        .map(|j| {
            Ok(vec![
                Int(int(j.character_id, "character id")?),
                Int(int(j.at_ms, "journal time")?),
                Text(j.kind),
                Int(j.amount),
                j.order_id.map_or(Ok(Null), |o| int(o, "order id").map(Int))?,
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_journal", &["character_id", "at_ms", "kind", "amount", "order_id"], None, &journal, style);
    let transactions = batch
        .transactions
        .iter()
        .map(|t| {
            let (buyer_kind, buyer_id) = owner_args(t.buyer);
            let (seller_kind, seller_id) = owner_args(t.seller);
            Ok(vec![
                Int(int(t.at_ms, "fill time")?),
                Int(int(t.buy_order, "order id")?),
                Int(int(t.sell_order, "order id")?),
                Int(buyer_kind),
                Int(buyer_id),
                Int(seller_kind),
                Int(seller_id),
                Int(int(t.station_id, "station id")?),
                Int(i64::from(t.region_id)),
                Int(i64::from(t.type_id)),
                Int(int(t.quantity, "fill quantity")?),
                Int(int(t.price, "fill price")?),
                Int(int(t.sales_tax, "sales tax")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_transactions", TRANSACTION_COLUMNS, None, &transactions, style);
    let flows = batch
        .flows
        .iter()
        .map(|f| {
            Ok(vec![
                Int(int(f.day, "day")?),
                Text(&f.kind),
                Int(i64::from(f.type_id)),
                Int(int(f.amount, "flow amount")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_flows", &["day", "kind", "type_id", "amount"], None, &flows, style);
    let history = batch
        .history
        .iter()
        .map(|h| {
            Ok(vec![
                Int(i64::from(h.region_id)),
                Int(i64::from(h.type_id)),
                Int(int(h.day, "day")?),
                Int(int(h.open, "open")?),
                Int(int(h.high, "high")?),
                Int(int(h.low, "low")?),
                Int(int(h.close, "close")?),
                Int(int(h.volume, "volume")?),
                Int(int(h.fills, "fills")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_history", HISTORY_COLUMNS, Some(&["region_id", "type_id", "day"]), &history, style);
    let desks = batch
        .desks
        .iter()
        .map(|d| {
            Ok(vec![
                Int(i64::from(d.desk_id)),
                Int(int(d.station_id, "station id")?),
                Int(i64::from(d.type_id)),
                Int(int(d.factor_ppm, "factor")?),
                Int(int(d.buy_price, "price")?),
                Int(int(d.sell_price, "price")?),
            ])
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    add_rows(&mut out, "econ_desks", DESK_COLUMNS, Some(&["desk_id"]), &desks, style);
    Ok(out)
}

pub(crate) const ORDER_COLUMNS: &[&str] = &[
    "order_id",
    "owner_kind",
    "owner_id",
    "side",
    "region_id",
    "type_id",
    "station_id",
    "price",
    "quantity",
    "remaining",
    "escrow",
    "state",
    "placed_at_ms",
    "expires_at_ms",
];
pub(crate) const TRANSACTION_COLUMNS: &[&str] = &[
    "at_ms",
    "buy_order",
    "sell_order",
    "buyer_kind",
    "buyer_id",
    "seller_kind",
    "seller_id",
    "station_id",
    "region_id",
    "type_id",
    "quantity",
    "price",
    "sales_tax",
];
pub(crate) const HISTORY_COLUMNS: &[&str] =
    &["region_id", "type_id", "day", "open", "high", "low", "close", "volume", "fills"];
pub(crate) const DESK_COLUMNS: &[&str] = &["desk_id", "station_id", "type_id", "factor_ppm", "buy_price", "sell_price"];

/// Implements [`EconomyStore`] for `$store` over sqlx database `$db` whose rows are `$row`; like
/// [`crate::backend`], the store type provides `begin_write`, `begin_read` and a `pool` field.
macro_rules! economy_store {
    ($store:ident, $db:ty, $row:ty, $placeholders:expr) => {
        mod economy_store {
            use super::$store;
            use sqlx::Row as _;

            use crate::StoreError;
            use crate::economy::{
                Arg, DeskRow, EconomyBalances, EconomyBatch, EconomyLogRow, EconomyStore, FlowRow, HangarRow,
                HistoryRow, JOURNAL_KINDS, JournalRow, ORDER_COLUMNS, OrderRow, TRANSACTION_COLUMNS, TradedItem,
                TransactionRow, WalletRow, batch_statements, int, owner_from, small, state_from, unsigned,
            };

            fn get(row: &$row, index: usize, what: &str) -> Result<i64, StoreError> {
                match row.try_get::<Option<i64>, _>(index) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(StoreError::corrupt(format!("{what}: column {index} is NULL"))),
                    Err(e) => Err(StoreError::corrupt(format!("{what}: column {index}: {e}"))),
                }
            }

            fn decode_order(row: &$row) -> Result<OrderRow, StoreError> {
                let id = get(row, 0, "order row")?;
                let what = format!("order {id}");
                let u = |i: usize| get(row, i, &what).and_then(|v| unsigned(v, &what));
                let s = |i: usize| get(row, i, &what).and_then(|v| small(v, &what));
                let side = get(row, 3, &what)?;
                if side != 0 && side != 1 {
                    return Err(StoreError::corrupt(format!("{what}: side {side}")));
                }
                Ok(OrderRow {
                    order_id: unsigned(id, &what)?,
                    owner: owner_from(get(row, 1, &what)?, get(row, 2, &what)?, &what)?,
                    buy: side == 0,
                    region_id: s(4)?,
                    type_id: s(5)?,
                    station_id: u(6)?,
                    price: u(7)?,
                    quantity: u(8)?,
                    remaining: u(9)?,
                    escrow: u(10)?,
                    state: state_from(get(row, 11, &what)?, &what)?,
                    placed_at_ms: u(12)?,
                    expires_at_ms: u(13)?,
                })
            }

            fn decode_transaction(row: &$row) -> Result<TransactionRow, StoreError> {
                let what = "transaction row";
                let u = |i: usize| get(row, i, what).and_then(|v| unsigned(v, what));
                let s = |i: usize| get(row, i, what).and_then(|v| small(v, what));
                Ok(TransactionRow {
                    at_ms: u(0)?,
                    buy_order: u(1)?,
                    sell_order: u(2)?,
                    buyer: owner_from(get(row, 3, what)?, get(row, 4, what)?, what)?,
                    seller: owner_from(get(row, 5, what)?, get(row, 6, what)?, what)?,
                    station_id: u(7)?,
                    region_id: s(8)?,
                    type_id: s(9)?,
                    quantity: u(10)?,
                    price: u(11)?,
                    sales_tax: u(12)?,
                })
            }

            fn decode_flow(row: &$row, what: &str) -> Result<FlowRow, StoreError> {
                Ok(FlowRow {
                    day: unsigned(get(row, 0, what)?, what)?,
                    kind: row.try_get::<String, _>(1).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))?,
                    type_id: small(get(row, 2, what)?, what)?,
                    amount: unsigned(get(row, 3, what)?, what)?,
                })
            }

            #[async_trait::async_trait]
            impl EconomyStore for $store {
                async fn commit_economy(&self, batch: &EconomyBatch) -> Result<(), StoreError> {
                    let statements = batch_statements(batch, $placeholders)?;
                    let Some(first) = batch.log.first() else { return Ok(()) };
                    let mut tx = self.begin_write().await?;
                    let last: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(seq) FROM econ_log").fetch_one(&mut *tx).await?;
                    let expected = last.map_or(1, |l| l as u64 + 1);
                    if first.seq != expected {
                        return Err(StoreError::Conflict {
                            what: format!(
                                "economy log: the batch starts at {}, the log's next is {expected}",
                                first.seq
                            ),
                        });
                    }
                    for (sql, args) in &statements {
                        let mut query = sqlx::query(sql);
                        for arg in args {
                            query = match arg {
                                Arg::Int(v) => query.bind(*v),
                                Arg::Text(t) => query.bind(*t),
                                Arg::Null => query.bind(None::<i64>),
                            };
                        }
                        query.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn economy_log(&self) -> Result<Vec<EconomyLogRow>, StoreError> {
                    let rows =
                        sqlx::query("SELECT seq, at_ms, op FROM econ_log ORDER BY seq").fetch_all(&self.pool).await?;
                    rows.iter()
                        .map(|r| {
                            let what = "economy log row";
                            Ok(EconomyLogRow {
                                seq: unsigned(get(r, 0, what)?, what)?,
                                at_ms: unsigned(get(r, 1, what)?, what)?,
                                op: r.try_get(2).map_err(|e| StoreError::corrupt(format!("{what}: op: {e}")))?,
                            })
                        })
                        .collect()
                }

                async fn economy_balances(&self) -> Result<EconomyBalances, StoreError> {
                    let mut tx = self.begin_read().await?;
                    let wallets = sqlx::query("SELECT character_id, balance FROM econ_wallets ORDER BY character_id")
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| {
                            let what = "wallet row";
                            Ok(WalletRow {
                                character_id: unsigned(get(r, 0, what)?, what)?,
                                balance: unsigned(get(r, 1, what)?, what)?,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let hangars = sqlx::query(
                        "SELECT character_id, station_id, type_id, quantity FROM econ_hangars WHERE quantity > 0 \
                         ORDER BY character_id, station_id, type_id",
                    )
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| {
                        let what = "hangar row";
                        Ok(HangarRow {
                            character_id: unsigned(get(r, 0, what)?, what)?,
                            station_id: unsigned(get(r, 1, what)?, what)?,
                            type_id: small(get(r, 2, what)?, what)?,
                            quantity: unsigned(get(r, 3, what)?, what)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                    let sql = format!(
                        "SELECT {} FROM econ_orders WHERE state = 0 ORDER BY order_id",
                        ORDER_COLUMNS.join(", ")
                    );
                    let open_orders = sqlx::query(&sql)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(decode_order)
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let flows = sqlx::query(
                        "SELECT CAST(0 AS BIGINT), kind, type_id, CAST(SUM(amount) AS BIGINT) FROM econ_flows GROUP BY kind, type_id \
                         ORDER BY kind, type_id",
                    )
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| decode_flow(r, "flow totals"))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                    tx.commit().await?;
                    Ok(EconomyBalances { wallets, hangars, open_orders, flows })
                }

                async fn wallet_journal(&self, character_id: u64, limit: u32) -> Result<Vec<JournalRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT character_id, at_ms, kind, amount, order_id FROM econ_journal \
                         WHERE character_id = $1 ORDER BY entry_id DESC LIMIT $2",
                    )
                    .bind(int(character_id, "character id")?)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let what = "journal row";
                            let kind: String =
                                r.try_get(2).map_err(|e| StoreError::corrupt(format!("{what}: kind: {e}")))?;
                            let kind = JOURNAL_KINDS
                                .iter()
                                .copied()
                                .find(|k| *k == kind)
                                .ok_or_else(|| StoreError::corrupt(format!("{what}: unknown kind {kind:?}")))?;
                            let order: Option<i64> =
                                r.try_get(4).map_err(|e| StoreError::corrupt(format!("{what}: order_id: {e}")))?;
                            Ok(JournalRow {
                                character_id: unsigned(get(r, 0, what)?, what)?,
                                at_ms: unsigned(get(r, 1, what)?, what)?,
                                kind,
                                amount: get(r, 3, what)?,
                                order_id: order.map(|o| unsigned(o, what)).transpose()?,
                            })
                        })
                        .collect()
                }

                async fn transactions(
                    &self,
                    character_id: u64,
                    limit: u32,
                ) -> Result<Vec<TransactionRow>, StoreError> {
                    let sql = format!(
                        "SELECT {} FROM econ_transactions WHERE (buyer_kind = 0 AND buyer_id = $1) \
                         OR (seller_kind = 0 AND seller_id = $1) ORDER BY transaction_id DESC LIMIT $2",
                        TRANSACTION_COLUMNS.join(", ")
                    );
                    let rows = sqlx::query(&sql)
                        .bind(int(character_id, "character id")?)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(decode_transaction).collect()
                }

                async fn orders_of(&self, character_id: u64, limit: u32) -> Result<Vec<OrderRow>, StoreError> {
                    let sql = format!(
                        "SELECT {} FROM econ_orders WHERE owner_kind = 0 AND owner_id = $1 \
                         ORDER BY order_id DESC LIMIT $2",
                        ORDER_COLUMNS.join(", ")
                    );
                    let rows = sqlx::query(&sql)
                        .bind(int(character_id, "character id")?)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(decode_order).collect()
                }

                async fn market_history(
                    &self,
                    region_id: u32,
                    type_id: u32,
                    since_day: u64,
                ) -> Result<Vec<HistoryRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT region_id, type_id, day, open, high, low, close, volume, fills FROM econ_history \
                         WHERE region_id = $1 AND type_id = $2 AND day >= $3 ORDER BY day",
                    )
                    .bind(i64::from(region_id))
                    .bind(i64::from(type_id))
                    .bind(int(since_day, "day")?)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let what = "history row";
                            let u = |i: usize| get(r, i, what).and_then(|v| unsigned(v, what));
                            Ok(HistoryRow {
                                region_id: small(get(r, 0, what)?, what)?,
                                type_id: small(get(r, 1, what)?, what)?,
                                day: u(2)?,
                                open: u(3)?,
                                high: u(4)?,
                                low: u(5)?,
                                close: u(6)?,
                                volume: u(7)?,
                                fills: u(8)?,
                            })
                        })
                        .collect()
                }

                async fn flows_since(&self, since_day: u64) -> Result<Vec<FlowRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT day, kind, type_id, amount FROM econ_flows WHERE day >= $1 \
                         ORDER BY day, kind, type_id",
                    )
                    .bind(int(since_day, "day")?)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| decode_flow(r, "flow row")).collect()
                }

                async fn most_traded(&self, since_day: u64, limit: u32) -> Result<Vec<TradedItem>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT type_id, CAST(SUM(volume) AS BIGINT), CAST(SUM(fills) AS BIGINT) FROM econ_history WHERE day >= $1 \
                         GROUP BY type_id ORDER BY SUM(volume) DESC, type_id LIMIT $2",
                    )
                    .bind(int(since_day, "day")?)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let what = "most traded row";
                            Ok(TradedItem {
                                type_id: small(get(r, 0, what)?, what)?,
                                volume: unsigned(get(r, 1, what)?, what)?,
                                fills: unsigned(get(r, 2, what)?, what)?,
                            })
                        })
                        .collect()
                }

                async fn desks(&self) -> Result<Vec<DeskRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT desk_id, station_id, type_id, factor_ppm, buy_price, sell_price FROM econ_desks \
                         ORDER BY desk_id",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let what = "desk row";
                            let u = |i: usize| get(r, i, what).and_then(|v| unsigned(v, what));
                            Ok(DeskRow {
                                desk_id: small(get(r, 0, what)?, what)?,
                                station_id: u(1)?,
                                type_id: small(get(r, 2, what)?, what)?,
                                factor_ppm: u(3)?,
                                buy_price: u(4)?,
                                sell_price: u(5)?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use economy_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_statements_number_their_placeholders() {
        assert_eq!(
            insert_sql("t", &["a", "b"], 2, "", Placeholders::Numbered),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) "
        );
        assert_eq!(insert_sql("t", &["a"], 2, "", Placeholders::Anonymous), "INSERT INTO t (a) VALUES (?), (?) ");
        assert_eq!(
            upsert_tail(&["a"], &["a", "b", "c"]),
            "ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c"
        );
    }

    #[test]
    fn a_value_no_column_can_hold_refuses_the_batch() {
        let batch = EconomyBatch {
            log: vec![EconomyLogRow { seq: 1, at_ms: 0, op: "{}".into() }],
            wallets: vec![WalletRow { character_id: 1, balance: u64::MAX }],
            ..EconomyBatch::default()
        };
        assert!(matches!(batch_statements(&batch, Placeholders::Numbered), Err(StoreError::Invalid { .. })));
    }
}
