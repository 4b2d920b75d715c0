//! A model of everything the market moves: wallets, escrow per order, hangars per station, and the counters of
//! the faucets (where money and items come from) and the sinks (where they go). It applies the market's
//! [`Event`]s, so that conservation can be checked after any sequence of them:
//!
//! * money: Σ wallets + Σ escrowed money + sinks − faucets = 0;
//! * for every item type: Σ hangars + Σ escrowed items + sinks − faucets = 0.
//!
//! (Both start at 0 because even the money a new character starts with is counted, as a grant.) The runtime's
//! store tables will hold the same quantities; this model is what the property tests check the market against,
//! and what the store's own conservation check will be compared with.

use std::collections::BTreeMap;

use crate::event::{Event, Fill};
use crate::ids::{CharacterId, ItemTypeId, MAX_AMOUNT, Money, OrderId, Owner, Quantity, Side, StationId};

/// What an order holds in escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A buy order's money: `remaining × price`, paid out to sellers (and back to the buyer) as it fills.
    Money(Money),
    /// A sell order's items, taken from the hangar at its station and delivered to buyers as it fills.
    Items(Quantity),
}

/// The escrow of one player order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escrow {
    /// The character whose order it is, to whom what is left goes back when the order closes.
    pub owner: CharacterId,
    /// The order's station: where escrowed items go back into the hangar.
    pub station: StationId,
    /// The order's item type (what escrowed items are).
    pub item: ItemTypeId,
    /// What is held now.
    pub held: Held,
}

/// Where money came from and went, in total since the ledger began.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoneyFlows {
    /// Faucet: money characters were given (starting wallets).
    pub grants: Money,
    /// Faucet: money NPC buy orders paid players.
    pub npc_purchases: Money,
    /// Sink: broker fees.
    pub broker_fees: Money,
    /// Sink: sales tax.
    pub sales_tax: Money,
    /// Sink: money players paid NPC sell orders.
    pub npc_sales: Money,
}

impl MoneyFlows {
    /// All money that came into the game (grants and NPC purchases); `u128` so the sum of counters cannot
    /// overflow.
    pub fn faucets(&self) -> u128 {
        u128::from(self.grants) + u128::from(self.npc_purchases)
    }

    /// All money that left the game (broker fees, sales tax, NPC sales); `u128` for the same reason.
    pub fn sinks(&self) -> u128 {
        u128::from(self.broker_fees) + u128::from(self.sales_tax) + u128::from(self.npc_sales)
    }
}

/// Where items of one type came from and went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemFlows {
    /// Faucet: ore mined.
    pub mined: Quantity,
    /// Faucet: items NPC sell orders delivered.
    pub npc_sales: Quantity,
    /// Sink: items NPC buy orders took out of the game.
    pub npc_purchases: Quantity,
}

/// Why the ledger could not apply an event or an operation. Applying the market's events after the
/// [`Exchange`](crate::Exchange)'s checks never fails; these say which invariant a wrong sequence broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A debit (escrow, a fee, a repricing) larger than the wallet: no balance may go negative.
    #[error("{character} has {has} money, {needed} is needed")]
    InsufficientFunds {
        /// Whose wallet.
        character: CharacterId,
        /// What the event takes from it.
        needed: Money,
        /// What it holds.
        has: Money,
    },
    /// A sell order's escrow larger than the hangar at its station.
    #[error("{character} has {has} of item type {item} at station {station}, {needed} are needed")]
    InsufficientItems {
        /// Whose hangar.
        character: CharacterId,
        /// The hangar's station.
        station: StationId,
        /// The item type.
        item: ItemTypeId,
        /// What the event takes from it.
        needed: Quantity,
        /// What it holds.
        has: Quantity,
    },
    /// A fill, repricing or close of a player order the ledger holds no escrow for (never placed, or already
    /// closed).
    #[error("order {0} holds no escrow in the ledger")]
    NoEscrow(OrderId),
    /// More was to be taken from an order's escrow than it holds, or of the wrong kind (money from a sell order,
    /// items from a buy order).
    #[error("order {order}'s escrow holds {held:?}, but {wanted} {what} was to be taken from it")]
    EscrowShort {
        /// The order.
        order: OrderId,
        /// What its escrow holds.
        held: Held,
        /// How much was to be taken.
        wanted: u64,
        /// What was to be taken ("money", "items", "released"), for the message.
        what: &'static str,
    },
    /// A faucet would push the money supply or an item type's supply above [`MAX_AMOUNT`], after which some
    /// balance could overflow.
    #[error("{what} would exceed the largest amount the ledger holds ({MAX_AMOUNT})")]
    SupplyOverflow {
        /// Which supply, and after what, for the message.
        what: String,
    },
    /// An event's `quantity × price` is above [`MAX_AMOUNT`] (the market never makes one; a store's rows or a
    /// test's sequence might).
    #[error("{quantity} × {price} is more than the largest amount the ledger holds ({MAX_AMOUNT})")]
    AmountOverflow {
        /// The quantity.
        quantity: Quantity,
        /// The price per unit.
        price: Money,
    },
    /// A fill whose amounts break the market's rules (a price above the buy order's, nothing traded, a sales tax
    /// above the value), refused before it changes any balance.
    #[error("a fill the market cannot have made ({problem}): {fill:?}")]
    BadFill {
        /// The fill, as given.
        fill: Box<Fill>,
        /// Which rule it breaks.
        problem: &'static str,
    },
}

/// `quantity × price`, refused above [`MAX_AMOUNT`]. The market's events never exceed it (it checks every order's
/// value); the ledger checks anyway, because it also applies events that did not come from this market (a
/// store's rows, a test's sequence).
fn amount(quantity: Quantity, price: Money) -> Result<Money, LedgerError> {
    quantity.checked_mul(price).filter(|&v| v <= MAX_AMOUNT).ok_or(LedgerError::AmountOverflow { quantity, price })
}

/// Balances and flows; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    wallets: BTreeMap<CharacterId, Money>,
    hangars: BTreeMap<(CharacterId, StationId, ItemTypeId), Quantity>,
    escrow: BTreeMap<OrderId, Escrow>,
    money: MoneyFlows,
    items: BTreeMap<ItemTypeId, ItemFlows>,
    /// All money that exists: Σ wallets + Σ escrowed money. Kept ≤ [`MAX_AMOUNT`] at the faucets, so no balance
    /// can overflow.
    money_supply: Money,
    /// All items of each type that exist, bounded the same way.
    item_supply: BTreeMap<ItemTypeId, Quantity>,
}

impl Ledger {
    /// An empty ledger: no money, no items, no escrow, all flows 0 (so both identities start at 0).
    pub fn new() -> Self {
        Ledger::default()
    }

    /// A character's wallet (0 for one the ledger has never seen).
    pub fn wallet(&self, character: CharacterId) -> Money {
        self.wallets.get(&character).copied().unwrap_or(0)
    }

    /// How many items of a type a character has in their hangar at a station (items are kept per station; a sell
    /// order can only use those at its own station).
    pub fn hangar(&self, character: CharacterId, station: StationId, item: ItemTypeId) -> Quantity {
        self.hangars.get(&(character, station, item)).copied().unwrap_or(0)
    }

    /// Every wallet the ledger has seen, by character (some may hold 0).
    pub fn wallets(&self) -> impl Iterator<Item = (CharacterId, Money)> + '_ {
        self.wallets.iter().map(|(&c, &m)| (c, m))
    }

    /// Every hangar holding items, by character, station and item type.
    pub fn hangars(&self) -> impl Iterator<Item = ((CharacterId, StationId, ItemTypeId), Quantity)> + '_ {
        self.hangars.iter().filter(|&(_, &q)| q > 0).map(|(&k, &q)| (k, q))
    }

    /// What an open player order holds in escrow; `None` for NPC orders and closed orders.
    pub fn escrow(&self, order: OrderId) -> Option<&Escrow> {
        self.escrow.get(&order)
    }

    /// Every order holding escrow.
    pub fn escrows(&self) -> impl Iterator<Item = (OrderId, &Escrow)> {
        self.escrow.iter().map(|(&id, e)| (id, e))
    }

    /// The money faucets and sinks since the ledger began, for the economy's figures and the money identity.
    pub fn money_flows(&self) -> &MoneyFlows {
        &self.money
    }

    /// One item type's faucets and sinks since the ledger began (all 0 for a type that never moved).
    pub fn item_flows(&self, item: ItemTypeId) -> ItemFlows {
        self.items.get(&item).copied().unwrap_or_default()
    }

    /// All money held: wallets and escrow.
    pub fn money_supply(&self) -> Money {
        self.money_supply
    }

    /// Σ wallets + Σ escrowed money + sinks − faucets, counted from the balances themselves (not from the kept
    /// supply): 0 while money is conserved.
    pub fn money_imbalance(&self) -> i128 {
        let wallets: u128 = self.wallets.values().map(|&m| u128::from(m)).sum();
        let escrowed: u128 = self
            .escrow
            .values()
            .map(|e| match e.held {
                Held::Money(m) => u128::from(m),
                Held::Items(_) => 0,
            })
            .sum();
        (wallets + escrowed + self.money.sinks()) as i128 - self.money.faucets() as i128
    }

    /// Σ hangars + Σ escrowed items + sinks − faucets for one item type: 0 while items are conserved.
    pub fn item_imbalance(&self, item: ItemTypeId) -> i128 {
        let hangars: u128 = self.hangars.iter().filter(|((_, _, i), _)| *i == item).map(|(_, &q)| u128::from(q)).sum();
        let escrowed: u128 = self
            .escrow
            .values()
            .filter(|e| e.item == item)
            .map(|e| match e.held {
                Held::Items(q) => u128::from(q),
                Held::Money(_) => 0,
            })
            .sum();
        let flows = self.item_flows(item);
        (hangars + escrowed + u128::from(flows.npc_purchases)) as i128
            - (u128::from(flows.mined) + u128::from(flows.npc_sales)) as i128
    }

    /// Every item type the ledger has seen.
    pub fn item_types(&self) -> impl Iterator<Item = ItemTypeId> + '_ {
        self.item_supply.keys().copied()
    }

    /// Faucet: gives a character money (a starting wallet).
    pub fn grant(&mut self, character: CharacterId, amount: Money) -> Result<(), LedgerError> {
        self.mint_money(amount, "a grant")?;
        self.money.grants += amount;
        *self.wallets.entry(character).or_default() += amount;
        Ok(())
    }

    /// Faucet: ore a character mined, delivered to their hangar at the station they docked at.
    pub fn mine(
        &mut self,
        character: CharacterId,
        station: StationId,
        item: ItemTypeId,
        quantity: Quantity,
    ) -> Result<(), LedgerError> {
        self.mint_items(item, quantity)?;
        self.items.entry(item).or_default().mined += quantity;
        *self.hangars.entry((character, station, item)).or_default() += quantity;
        Ok(())
    }

    /// Applies one event. An error means the events do not follow from this ledger (an escrow missing or
    /// short, a debit beyond a balance): the [`Exchange`](crate::Exchange) checks balances first, so for its
    /// events this never fails, and the property tests hold it to that.
    pub fn apply(&mut self, event: &Event) -> Result<(), LedgerError> {
        match event {
            Event::Placed { order, owner: Owner::Character(character), side, book, station, escrow, .. } => {
                let held = match side {
                    Side::Buy => {
                        self.debit(*character, *escrow)?;
                        Held::Money(*escrow)
                    }
                    Side::Sell => {
                        self.take_items(*character, *station, book.item, *escrow)?;
                        Held::Items(*escrow)
                    }
                };
                self.escrow.insert(*order, Escrow { owner: *character, station: *station, item: book.item, held });
            }
            Event::Repriced {
                order,
                owner: Owner::Character(character),
                side: Side::Buy,
                remaining,
                old_price,
                new_price,
            } => {
                let (old, new) = (amount(*remaining, *old_price)?, amount(*remaining, *new_price)?);
                if new > old {
                    self.debit(*character, new - old)?;
                    self.add_to_escrow(*order, new - old)?;
                } else {
                    self.take_from_escrow(*order, Held::Money(old - new))?;
                    *self.wallets.entry(*character).or_default() += old - new;
                }
            }
            Event::Filled(fill) => self.settle(fill)?,
            Event::BrokerFee { owner: Owner::Character(character), amount, .. } => {
                self.debit(*character, *amount)?;
                self.money_supply -= amount;
                self.money.broker_fees += amount;
            }
            Event::Closed { order, owner: Owner::Character(character), released, .. } => {
                let escrow = self.escrow.remove(order).ok_or(LedgerError::NoEscrow(*order))?;
                let leftover = match escrow.held {
                    Held::Money(m) => m,
                    Held::Items(q) => q,
                };
                if leftover != *released {
                    self.escrow.insert(*order, escrow.clone());
                    return Err(LedgerError::EscrowShort {
                        order: *order,
                        held: escrow.held,
                        wanted: *released,
                        what: "released",
                    });
                }
                match escrow.held {
                    Held::Money(m) => *self.wallets.entry(*character).or_default() += m,
                    Held::Items(q) => *self.hangars.entry((*character, escrow.station, escrow.item)).or_default() += q,
                }
            }
            // NPC orders hold no escrow and pay no fees; a repriced sell order's escrow (items) does not change.
            Event::Placed { .. } | Event::Repriced { .. } | Event::BrokerFee { .. } | Event::Closed { .. } => {}
        }
        Ok(())
    }

    /// Moves what a fill moves: the buyer's escrowed money to the seller (less tax) and the buyer's wallet (the
    /// price improvement), the seller's escrowed items to the buyer's hangar at the sell order's station; an NPC
    /// side is a faucet or a sink.
    fn settle(&mut self, fill: &Fill) -> Result<(), LedgerError> {
        let item = fill.book.item;
        if fill.price > fill.buy_price || fill.quantity == 0 {
            return Err(LedgerError::BadFill {
                fill: Box::new(fill.clone()),
                problem: "a price above the buy order's, or nothing traded",
            });
        }
        let value = amount(fill.quantity, fill.price)?;
        let escrowed = amount(fill.quantity, fill.buy_price)?;
        let improvement = escrowed - value;
        if fill.sales_tax > value {
            return Err(LedgerError::BadFill {
                fill: Box::new(fill.clone()),
                problem: "a sales tax above the value traded",
            });
        }
        // The faucets first, so that what is taken out below never exceeds what exists.
        if let Owner::Npc(_) = fill.buyer {
            self.mint_money(value, "an NPC purchase")?;
            self.money.npc_purchases += value;
        }
        if let Owner::Npc(_) = fill.seller {
            self.mint_items(item, fill.quantity)?;
            self.items.entry(item).or_default().npc_sales += fill.quantity;
        }
        match fill.buyer {
            Owner::Character(buyer) => {
                // The escrowed money stays in the supply: it goes to the seller (or to the NPC sink below) and
                // the price improvement back to the buyer.
                self.take_from_escrow(fill.buy_order, Held::Money(escrowed))?;
                *self.wallets.entry(buyer).or_default() += improvement;
                *self.hangars.entry((buyer, fill.station, item)).or_default() += fill.quantity;
            }
            Owner::Npc(_) => {
                // The items an NPC buys leave the game.
                if let Some(supply) = self.item_supply.get_mut(&item) {
                    *supply -= fill.quantity;
                }
                self.items.entry(item).or_default().npc_purchases += fill.quantity;
            }
        }
        match fill.seller {
            Owner::Character(seller) => {
                self.take_from_escrow(fill.sell_order, Held::Items(fill.quantity))?;
                *self.wallets.entry(seller).or_default() += value - fill.sales_tax;
                self.money_supply -= fill.sales_tax;
                self.money.sales_tax += fill.sales_tax;
            }
            Owner::Npc(_) => {
                self.money_supply -= value;
                self.money.npc_sales += value;
            }
        }
        Ok(())
    }

    fn debit(&mut self, character: CharacterId, amount: Money) -> Result<(), LedgerError> {
        let has = self.wallet(character);
        if has < amount {
            return Err(LedgerError::InsufficientFunds { character, needed: amount, has });
        }
        self.wallets.insert(character, has - amount);
        Ok(())
    }

    fn take_items(
        &mut self,
        character: CharacterId,
        station: StationId,
        item: ItemTypeId,
        quantity: Quantity,
    ) -> Result<(), LedgerError> {
        let has = self.hangar(character, station, item);
        if has < quantity {
            return Err(LedgerError::InsufficientItems { character, station, item, needed: quantity, has });
        }
        if has == quantity {
            self.hangars.remove(&(character, station, item));
        } else {
            self.hangars.insert((character, station, item), has - quantity);
        }
        Ok(())
    }

    fn add_to_escrow(&mut self, order: OrderId, amount: Money) -> Result<(), LedgerError> {
        let escrow = self.escrow.get_mut(&order).ok_or(LedgerError::NoEscrow(order))?;
        if let Held::Money(m) = &mut escrow.held {
            *m += amount;
        }
        Ok(())
    }

    fn take_from_escrow(&mut self, order: OrderId, wanted: Held) -> Result<(), LedgerError> {
        let escrow = self.escrow.get_mut(&order).ok_or(LedgerError::NoEscrow(order))?;
        match (&mut escrow.held, wanted) {
            (Held::Money(have), Held::Money(want)) if *have >= want => *have -= want,
            (Held::Items(have), Held::Items(want)) if *have >= want => *have -= want,
            (held, Held::Money(want)) => {
                return Err(LedgerError::EscrowShort { order, held: *held, wanted: want, what: "money" });
            }
            (held, Held::Items(want)) => {
                return Err(LedgerError::EscrowShort { order, held: *held, wanted: want, what: "items" });
            }
        }
        Ok(())
    }

    fn mint_money(&mut self, amount: Money, what: &str) -> Result<(), LedgerError> {
        match self.money_supply.checked_add(amount) {
            Some(supply) if supply <= MAX_AMOUNT => {
                self.money_supply = supply;
                Ok(())
            }
            _ => Err(LedgerError::SupplyOverflow { what: format!("the money supply after {what} of {amount}") }),
        }
    }

    fn mint_items(&mut self, item: ItemTypeId, quantity: Quantity) -> Result<(), LedgerError> {
        let supply = self.item_supply.entry(item).or_default();
        match supply.checked_add(quantity) {
            Some(total) if total <= MAX_AMOUNT => {
                *supply = total;
                Ok(())
            }
            _ => Err(LedgerError::SupplyOverflow {
                what: format!("the supply of item type {item} after {quantity} more"),
            }),
        }
    }
}
