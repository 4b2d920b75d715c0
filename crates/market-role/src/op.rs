//! The operations of the market role, as they are logged: each is replayed through the deterministic core at
//! start, so the log alone rebuilds the books, the balances and the NPC prices.

use orrery_market::{
    CharacterId, Event, Exchange, ExchangeError, ItemTypeId, NpcRules, OrderId, PlayerOrder, Side, StationId, Trader,
};
use orrery_universe::Input;
use serde::{Deserialize, Serialize};

/// One market operation (JSON in `econ_log.op`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Faucet: a character's starting money.
    Grant {
        /// Who.
        character: u64,
        /// How much.
        amount: u64,
    },
    /// Faucet: ore a character mined, delivered to their hangar at the station they docked at.
    Mine {
        /// Who.
        character: u64,
        /// Where they docked.
        station: u64,
        /// The ore's type.
        item: u32,
        /// How much (signed, as from the wire).
        quantity: i64,
    },
    /// A player's new order.
    Place {
        /// Who.
        character: u64,
        /// Where they are docked, as the role checked it (`None`: in space).
        docked_at: Option<u64>,
        /// `true` buy, `false` sell.
        buy: bool,
        /// The order's station.
        station: u64,
        /// Its item type.
        item: u32,
        /// Units (signed, as from the wire).
        quantity: i64,
        /// Price per unit (signed, as from the wire).
        price: i64,
        /// When it expires (ms since the Unix epoch).
        expires_at: u64,
    },
    /// A price change of an open order.
    Modify {
        /// Who asks (must own the order).
        character: u64,
        /// Which order.
        order: u64,
        /// Its new price (signed, as from the wire).
        price: i64,
    },
    /// A cancel.
    Cancel {
        /// Who asks (must own the order).
        character: u64,
        /// Which order.
        order: u64,
    },
    /// Every order due by now leaves the book.
    Expire,
    /// The end of an NPC pricing period.
    NpcPeriod,
    /// An NPC desk opens at a hub station.
    OpenDesk {
        /// The hub station.
        station: u64,
        /// The item type it trades.
        item: u32,
        /// The NPC pricing rules in force (the CSV text of `data/npc-pricing.csv`), so the replay does not
        /// depend on the file as it is later.
        rules_csv: String,
    },
    /// An operator changed `data/npc-pricing.csv`: every desk takes its group's new rule.
    Retune {
        /// The new rules' CSV text.
        rules_csv: String,
    },
}

/// What a successful operation gave back besides its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpResult {
    /// The new order's id (place) or the NPC desk's id (open desk).
    pub id: Option<u64>,
}

/// Why an operation was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The core refused it.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The NPC rules text of an operation did not parse.
    #[error("NPC pricing rules: {0}")]
    Rules(String),
}

/// Parses the CSV text of NPC pricing rules.
pub fn parse_rules(csv: &str) -> Result<NpcRules, OpError> {
    let mut bytes = csv.as_bytes();
    NpcRules::from_csv(Input::new("npc-pricing.csv", &mut bytes)).map_err(|e| OpError::Rules(e.to_string()))
}

/// Runs one operation on the exchange at time `now`, appending its events to `events`. A refused operation
/// changes nothing.
pub fn apply(exchange: &mut Exchange, op: &Op, now: u64, events: &mut Vec<Event>) -> Result<OpResult, OpError> {
    let mut id = None;
    match *op {
        Op::Grant { character, amount } => exchange.grant(CharacterId(character), amount)?,
        Op::Mine { character, station, item, quantity } => {
            exchange.mine(CharacterId(character), StationId(station), ItemTypeId(item), quantity)?;
        }
        Op::Place { character, docked_at, buy, station, item, quantity, price, expires_at } => {
            let trader = Trader { character: CharacterId(character), docked_at: docked_at.map(StationId) };
            let side = if buy { Side::Buy } else { Side::Sell };
            let order =
                PlayerOrder { side, station: StationId(station), item: ItemTypeId(item), quantity, price, expires_at };
            let (order, placed) = exchange.place(trader, order, now)?;
            events.extend_from_slice(placed);
            id = Some(order.0);
        }
        Op::Modify { character, order, price } => {
            events.extend_from_slice(exchange.modify(CharacterId(character), OrderId(order), price)?);
        }
        Op::Cancel { character, order } => {
            events.extend_from_slice(exchange.cancel(CharacterId(character), OrderId(order))?);
        }
        Op::Expire => events.extend_from_slice(exchange.expire(now)?),
        Op::NpcPeriod => events.extend_from_slice(exchange.npc_period(now)?),
        Op::OpenDesk { station, item, ref rules_csv } => {
            let rules = parse_rules(rules_csv)?;
            let desk = exchange.open_npc_desk(StationId(station), ItemTypeId(item), &rules, now)?;
            id = Some(u64::from(desk.0));
            events.extend_from_slice(exchange.last_events());
        }
        Op::Retune { ref rules_csv } => {
            exchange.retune_desks(&parse_rules(rules_csv)?)?;
        }
    }
    Ok(OpResult { id })
}
