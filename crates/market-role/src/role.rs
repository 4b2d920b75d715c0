//! The market as a role on the bus: one task that subscribes to `market`, takes the proxies' forwarded client
//! requests ([`v1::MarketRequest`]), runs them on the [`MarketService`] one at a time (so one character's
//! requests — from however many connections — are serialised), commits every `commit_every` and only then
//! answers the sessions (through `proxy.<id>`), so an answered operation is durable. Timers close expired orders
//! every second and end an NPC pricing period every `npc_period`. It runs inside `orrery run`'s process and as
//! `orrery market` (the same code).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use orrery_bus::Bus;
use orrery_market::{BookKey, ExchangeError, ItemTypeId, MarketError, StationId, station_system};
use orrery_proto::v1::{self, ErrorCode, client_envelope::Body as C, server_envelope::Body as S};
use orrery_proto::{error, reply};
use orrery_store::{OrderState, OwnerRef, Store};
use tokio_util::sync::CancellationToken;

use crate::op::{Op, OpError};
use crate::service::{DAY_MS, MarketService, SubmitError};

/// How the role runs.
#[derive(Debug, Clone)]
pub struct RoleConfig {
    /// How often pending operations are committed (and their clients answered).
    pub commit_every: Duration,
    /// How long an NPC pricing period lasts.
    pub npc_period: Duration,
    /// `data/npc-pricing.csv`, read at start: desks are opened with it and retuned when it changed.
    pub npc_rules: Option<PathBuf>,
    /// Item types with NPC desks at every hub's first station (ore and minerals by default).
    pub desk_items: Vec<u32>,
    /// `data/items.csv` to read instead of the copy built in (types may be added, never removed or renumbered).
    pub items: Option<PathBuf>,
    /// Per-character limit: operations a second sustained, and the burst.
    pub rate_per_s: u64,
    /// See `rate_per_s`.
    pub rate_burst: u64,
}

impl Default for RoleConfig {
    fn default() -> Self {
        RoleConfig {
            commit_every: Duration::from_millis(20),
            npc_period: Duration::from_secs(3_600),
            npc_rules: None,
            desk_items: vec![34, 35, 36, 37, 1230, 1228, 1224, 18],
            items: None,
            rate_per_s: 20,
            rate_burst: 40,
        }
    }
}

/// Every character's starting money: 1,000,000.00 (in hundredths), granted at its first market request.
pub const STARTING_WALLET: u64 = 100_000_000;

/// An answer waiting for the commit of its operation.
struct Waiting {
    proxy_id: u32,
    session_id: u64,
    request_id: u32,
    reply: Reply,
}

/// What to answer: ready, or a read of the committed state made after the commit.
enum Reply {
    Ready(v1::ServerEnvelope),
    Orders(u64),
    Wallet(u64),
    Transactions(u64),
    History { book: BookKey, since_day: u64 },
}

/// Milliseconds since the Unix epoch: the market's `now`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Opens the NPC desks the configuration asks for at every hub (once: they are in the log afterwards) and
/// retunes the existing ones when the rules file changed.
pub fn prepare_desks(market: &mut MarketService, config: &RoleConfig, rules_csv: &str, now: u64) -> Result<(), String> {
    let rules = crate::op::parse_rules(rules_csv).map_err(|e| e.to_string())?;
    let changed = market.exchange().desks().iter().any(|d| {
        market.exchange().catalog().get(d.book.item).and_then(|t| rules.get(t.group)).is_some_and(|r| *r != d.rule)
    });
    if changed {
        market.submit(&Op::Retune { rules_csv: rules_csv.to_owned() }, now).map_err(|e| e.to_string())?;
        tracing::info!("NPC pricing rules changed: desks retuned");
    }
    let hubs: Vec<u64> = {
        let mut seen = std::collections::BTreeSet::new();
        market.stations().iter().filter(|s| s.hub && seen.insert(s.system)).map(|s| s.id.0).collect()
    };
    for station in hubs {
        for &item in &config.desk_items {
            let open = market.exchange().desks().iter().any(|d| d.station.0 == station && d.book.item.0 == item);
            if !open && market.exchange().catalog().get(ItemTypeId(item)).is_some() {
                market
                    .submit(&Op::OpenDesk { station, item, rules_csv: rules_csv.to_owned() }, now)
                    .map_err(|e| format!("NPC desk for {item} at {station}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// The item catalogue built into the binary (`data/items.csv` of the repository).
pub const BUILT_IN_ITEMS: &str = include_str!("../../../data/items.csv");
/// The NPC pricing rules built into the binary (`data/npc-pricing.csv` of the repository).
pub const BUILT_IN_NPC_RULES: &str = include_str!("../../../data/npc-pricing.csv");

/// A running market role.
pub struct MarketHandle {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), crate::ServiceError>>,
}

impl MarketHandle {
    /// Commits what is pending, answers, and stops.
    pub async fn shutdown(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => tracing::error!(%problem, "the market role failed"),
            Err(problem) => tracing::error!(%problem, "the market role's task failed"),
        }
    }
}

/// Opens the market over `store` (replaying and checking its log), opens or retunes the NPC desks, and serves
/// the `market` subject until shut down. Errors say which file or which check failed.
pub async fn start(
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    universe: &orrery_universe::Universe,
    config: RoleConfig,
) -> Result<MarketHandle, String> {
    let read = |path: &Option<PathBuf>, built_in: &str| -> Result<String, String> {
        match path {
            Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display())),
            None => Ok(built_in.to_owned()),
        }
    };
    let items = read(&config.items, BUILT_IN_ITEMS)?;
    let rules = read(&config.npc_rules, BUILT_IN_NPC_RULES)?;
    let mut bytes = items.as_bytes();
    let catalog = orrery_market::ItemCatalog::from_csv(orrery_universe::Input::new("items.csv", &mut bytes))
        .map_err(|e| e.to_string())?;
    let setup = crate::MarketSetup {
        fees: orrery_market::Fees::default(),
        catalog,
        stations: orrery_market::stations(universe),
    };
    let rate = crate::RateLimiter::new(config.rate_per_s, config.rate_burst);
    let mut market = MarketService::open(store.clone(), setup, rate).await.map_err(|e| e.to_string())?;
    prepare_desks(&mut market, &config, &rules, now_ms())?;
    market.commit().await.map_err(|e| e.to_string())?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(bus, store, market, config, stop.clone()));
    Ok(MarketHandle { stop, task })
}

/// Runs the role until `shutdown`; commits what is pending before returning.
pub async fn serve(
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    mut market: MarketService,
    config: RoleConfig,
    shutdown: CancellationToken,
) -> Result<(), crate::ServiceError> {
    let mut inbox = bus.subscribe(orrery_proto::MARKET_SUBJECT).await.map_err(|e| crate::ServiceError::Replay {
        seq: 0,
        problem: format!("subscribing to the market subject: {e}"),
    })?;
    let mut commit = tokio::time::interval(config.commit_every);
    let mut expire = tokio::time::interval(Duration::from_secs(1));
    let mut period = tokio::time::interval(config.npc_period);
    period.tick().await;
    let mut waiting: Vec<Waiting> = Vec::new();
    tracing::info!("market role serving");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            message = inbox.next() => {
                let Some(message) = message else { break };
                if let Some(answer) = handle(&mut market, store.as_ref(), &message).await {
                    waiting.push(answer);
                }
            }
            _ = commit.tick() => {
                market.commit().await?;
                answer(bus.as_ref(), store.as_ref(), &market, &mut waiting).await;
            }
            _ = expire.tick() => {
                let _ = market.submit(&Op::Expire, now_ms());
            }
            _ = period.tick() => {
                let _ = market.submit(&Op::NpcPeriod, now_ms());
            }
        }
    }
    market.commit().await?;
    answer(bus.as_ref(), store.as_ref(), &market, &mut waiting).await;
    tracing::info!("market role stopped");
    Ok(())
}

/// Sends the answers whose operations are now committed (the reads are answered from the committed state too).
async fn answer(bus: &dyn Bus, store: &dyn Store, market: &MarketService, waiting: &mut Vec<Waiting>) {
    for w in waiting.drain(..) {
        let envelope = render(market, store, w.request_id, w.reply).await;
        let inbox =
            v1::ProxyInbox { session_id: w.session_id, body: Some(v1::proxy_inbox::Body::Forward(encode(&envelope))) };
        if let Err(problem) = bus.publish(&orrery_proto::proxy_subject(w.proxy_id), encode(&inbox)).await {
            tracing::warn!(%problem, "market answer not delivered");
        }
    }
}

/// A bus payload: the plain protobuf encoding (no length prefix).
fn encode(message: &impl prost::Message) -> bytes::Bytes {
    bytes::Bytes::from(message.encode_to_vec())
}

/// The answer's envelope; reads are made now, after the commit, from the store and the books.
async fn render(market: &MarketService, store: &dyn Store, request_id: u32, reply_to: Reply) -> v1::ServerEnvelope {
    let body: Result<S, orrery_store::StoreError> = async {
        Ok(match reply_to {
            Reply::Ready(envelope) => return Ok(envelope.body.unwrap_or(S::Ok(v1::Ok {}))),
            Reply::Orders(character) => S::MyOrders(v1::MyOrders {
                orders: store
                    .economy()
                    .orders_of(character, 100)
                    .await?
                    .into_iter()
                    .map(|o| v1::MarketOrder {
                        order_id: o.order_id,
                        station_id: o.station_id,
                        type_id: o.type_id,
                        buy: o.buy,
                        price: o.price,
                        quantity: o.quantity,
                        remaining: o.remaining,
                        escrow: o.escrow,
                        state: match o.state {
                            OrderState::Open => v1::OrderState::Open,
                            OrderState::Filled => v1::OrderState::Filled,
                            OrderState::Cancelled => v1::OrderState::Cancelled,
                            OrderState::Expired => v1::OrderState::Expired,
                        } as i32,
                        placed_at_ms: o.placed_at_ms,
                        expires_at_ms: o.expires_at_ms,
                    })
                    .collect(),
            }),
            Reply::Wallet(character) => {
                let ledger = market.exchange().ledger();
                S::Wallet(v1::Wallet {
                    balance: ledger.wallet(orrery_market::CharacterId(character)),
                    hangar: ledger
                        .hangars()
                        .filter(|((c, _, _), _)| c.0 == character)
                        .map(|((_, s, i), q)| v1::HangarItem { station_id: s.0, type_id: i.0, quantity: q })
                        .collect(),
                    journal: store
                        .economy()
                        .wallet_journal(character, 50)
                        .await?
                        .into_iter()
                        .map(|j| v1::JournalEntry {
                            at_ms: j.at_ms,
                            kind: j.kind.to_owned(),
                            amount: j.amount,
                            order_id: j.order_id.unwrap_or(0),
                        })
                        .collect(),
                })
            }
            Reply::Transactions(character) => S::Transactions(v1::Transactions {
                transactions: store
                    .economy()
                    .transactions(character, 100)
                    .await?
                    .into_iter()
                    .map(|t| v1::MarketTransaction {
                        at_ms: t.at_ms,
                        station_id: t.station_id,
                        type_id: t.type_id,
                        bought: t.buyer == OwnerRef::Character(character),
                        quantity: t.quantity,
                        price: t.price,
                        sales_tax: t.sales_tax,
                    })
                    .collect(),
            }),
            Reply::History { book, since_day } => S::MarketHistory(v1::MarketHistory {
                region_id: book.region.0,
                type_id: book.item.0,
                days: store
                    .economy()
                    .market_history(book.region.0, book.item.0, since_day)
                    .await?
                    .into_iter()
                    .map(|d| v1::HistoryDay {
                        day: d.day,
                        open: d.open,
                        high: d.high,
                        low: d.low,
                        close: d.close,
                        volume: d.volume,
                        fills: d.fills,
                    })
                    .collect(),
            }),
        })
    }
    .await;
    match body {
        Ok(body) => reply(request_id, body),
        Err(problem) => {
            tracing::error!(%problem, "market read failed");
            error(request_id, ErrorCode::MarketUnavailable, "the market's store failed; ask again")
        }
    }
}

/// Checks that `character` is the account's and, for placing, where it is docked: a character whose ship is not
/// in space is docked at the stations of the ship's system.
async fn character_place(
    store: &dyn Store,
    account_id: u64,
    character: u64,
) -> Result<Option<u32>, (ErrorCode, String)> {
    match store.character(character).await {
        Ok(Some(record)) if record.account_id == account_id => {
            Ok((!record.ship.in_space).then_some(record.ship.system_id))
        }
        Ok(_) => Err((ErrorCode::NotYours, format!("character {character} is not yours"))),
        Err(problem) => Err((ErrorCode::MarketUnavailable, format!("looking up character {character}: {problem}"))),
    }
}

/// Handles one forwarded request; returns the answer to send after the next commit (None: nothing to answer).
async fn handle(market: &mut MarketService, store: &dyn Store, message: &[u8]) -> Option<Waiting> {
    let request: v1::MarketRequest = match orrery_proto::frame::decode(message) {
        Ok(request) => request,
        Err(problem) => {
            tracing::warn!(%problem, "undecodable market request");
            return None;
        }
    };
    let route = request.route?;
    let envelope = request.envelope?;
    let request_id = envelope.request_id;
    let later = |reply| Some(Waiting { proxy_id: route.proxy_id, session_id: route.session_id, request_id, reply });
    let answer = |envelope| later(Reply::Ready(envelope));
    let refuse = |code: ErrorCode, reason: String| answer(error(request_id, code, reason));
    let now = now_ms();
    let character = match &envelope.body {
        Some(C::PlaceOrder(p)) => Some(p.character_id),
        Some(C::ModifyOrder(m)) => Some(m.character_id),
        Some(C::CancelOrder(c)) => Some(c.character_id),
        Some(C::GetMyOrders(g)) => Some(g.character_id),
        Some(C::GetWallet(g)) => Some(g.character_id),
        Some(C::GetTransactions(g)) => Some(g.character_id),
        _ => None,
    };
    let mut docked_system = None;
    if let Some(character) = character {
        match character_place(store, request.account_id, character).await {
            Ok(system) => docked_system = system,
            Err((code, reason)) => return refuse(code, reason),
        }
        // A character's first market request brings its starting wallet (a faucet, logged like any other).
        if !market.was_granted(character)
            && let Err(problem) = market.submit(&Op::Grant { character, amount: STARTING_WALLET }, now)
        {
            return answer(refusal(request_id, &problem));
        }
    }
    let submit = |market: &mut MarketService, op: Op| market.submit(&op, now);
    match envelope.body? {
        C::PlaceOrder(p) => {
            let docked_at =
                docked_system.filter(|&s| station_system(StationId(p.station_id)).is_some_and(|x| x.0 == s));
            let duration_s = if p.duration_s == 0 { 90 * 86_400 } else { u64::from(p.duration_s).min(90 * 86_400) };
            let op = Op::Place {
                character: p.character_id,
                // Docked at the order's station when the ship is docked in its system; else where it is.
                docked_at: docked_at
                    .map(|_| p.station_id)
                    .or_else(|| docked_system.map(|s| u64::from(s) * orrery_market::stations::STATION_ID_STRIDE + 1)),
                buy: p.buy,
                station: p.station_id,
                item: p.type_id,
                quantity: p.quantity,
                price: p.price,
                expires_at: now + duration_s * 1_000,
            };
            match submit(market, op) {
                Ok(result) => {
                    let id = result.id.unwrap_or(0);
                    let resting =
                        market.exchange().market().order(orrery_market::OrderId(id)).map_or(0, |o| o.remaining);
                    let filled = (p.quantity as u64).saturating_sub(resting);
                    answer(reply(request_id, S::OrderPlaced(v1::OrderPlaced { order_id: id, filled, resting })))
                }
                Err(e) => answer(refusal(request_id, &e)),
            }
        }
        C::ModifyOrder(m) => {
            match submit(market, Op::Modify { character: m.character_id, order: m.order_id, price: m.price }) {
                Ok(_) => answer(reply(request_id, S::Ok(v1::Ok {}))),
                Err(e) => answer(refusal(request_id, &e)),
            }
        }
        C::CancelOrder(c) => match submit(market, Op::Cancel { character: c.character_id, order: c.order_id }) {
            Ok(_) => answer(reply(request_id, S::Ok(v1::Ok {}))),
            Err(e) => answer(refusal(request_id, &e)),
        },
        C::GetMarketDepth(d) => {
            let Ok(book) = market.exchange().book_at(StationId(d.station_id), ItemTypeId(d.type_id)) else {
                return refuse(
                    ErrorCode::UnknownMarketItem,
                    format!("no station {} or item type {}", d.station_id, d.type_id),
                );
            };
            let levels = if d.levels == 0 { 10 } else { d.levels.min(50) as usize };
            answer(reply(request_id, S::MarketDepth(depth(market, book, levels))))
        }
        C::GetMyOrders(g) => later(Reply::Orders(g.character_id)),
        C::GetWallet(g) => later(Reply::Wallet(g.character_id)),
        C::GetTransactions(g) => later(Reply::Transactions(g.character_id)),
        C::GetMarketHistory(h) => {
            let Ok(book) = market.exchange().book_at(StationId(h.station_id), ItemTypeId(h.type_id)) else {
                return refuse(
                    ErrorCode::UnknownMarketItem,
                    format!("no station {} or item type {}", h.station_id, h.type_id),
                );
            };
            let days = if h.days == 0 { 30 } else { u64::from(h.days.min(365)) };
            later(Reply::History { book, since_day: (now / DAY_MS).saturating_sub(days - 1) })
        }
        _ => refuse(ErrorCode::UnknownMessage, "not a market request".to_owned()),
    }
}

fn depth(market: &MarketService, book: BookKey, levels: usize) -> v1::MarketDepth {
    let d = market.exchange().market().depth(book, levels);
    let level = |&(price, quantity): &(u64, u64)| v1::PriceLevel { price, quantity };
    v1::MarketDepth {
        region_id: book.region.0,
        type_id: book.item.0,
        bids: d.bids.iter().map(level).collect(),
        asks: d.asks.iter().map(level).collect(),
    }
}

/// The error code and reason for a refused operation.
pub fn refusal(request_id: u32, e: &SubmitError) -> v1::ServerEnvelope {
    let code = match e {
        SubmitError::RateLimited(_) => ErrorCode::RateLimited,
        SubmitError::Service(_) => ErrorCode::MarketUnavailable,
        SubmitError::Refused(OpError::Rules(_)) => ErrorCode::Internal,
        SubmitError::Refused(OpError::Exchange(e)) => match e {
            ExchangeError::Market(m) => match m {
                MarketError::NonPositiveQuantity(_) | MarketError::NonPositivePrice(_) => ErrorCode::NonPositiveAmount,
                MarketError::ValueOverflow { .. } => ErrorCode::AmountOverflow,
                MarketError::ExpiryNotInFuture { .. } => ErrorCode::InvalidArgument,
                MarketError::UnknownOrder(_) => ErrorCode::UnknownOrder,
                MarketError::NotOwner { .. } => ErrorCode::NotOrderOwner,
                MarketError::UnchangedPrice { .. } => ErrorCode::UnchangedPrice,
            },
            ExchangeError::UnknownStation(_) | ExchangeError::UnknownItemType(_) => ErrorCode::UnknownMarketItem,
            ExchangeError::NotDocked { .. } => ErrorCode::NotDocked,
            ExchangeError::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            ExchangeError::InsufficientItems { .. } => ErrorCode::InsufficientItems,
            ExchangeError::NonPositiveQuantity(_) => ErrorCode::NonPositiveAmount,
            ExchangeError::NotMinable { .. } => ErrorCode::InvalidArgument,
            ExchangeError::NoNpcRule(_) | ExchangeError::Inconsistent(_) => ErrorCode::Internal,
        },
    };
    error(request_id, code, e.to_string())
}
