//! The market's refusals. Every one is raised before anything changes, so a refused operation leaves the market as
//! it was.

use crate::ids::{OrderId, Owner};

/// Why the order book refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// The order's quantity (as it came from the wire, signed) was 0 or negative: an order must trade something.
    #[error("quantity {0} is not positive; an order needs at least 1 item")]
    NonPositiveQuantity(i64),
    /// The price per unit (as it came from the wire, signed) was 0 or negative: nothing is given away through the
    /// book.
    #[error("price {0} is not positive; prices are whole money units ≥ 1")]
    NonPositivePrice(i64),
    #[error("{quantity} items at {price} each is worth more than the largest amount the market holds ({max})")]
    /// `quantity × price` exceeds [`MAX_AMOUNT`](crate::MAX_AMOUNT), so the order's escrow or a fill's value
    /// could not be stored in a signed 64-bit column.
    ValueOverflow {
        /// The quantity asked for.
        quantity: u64,
        /// The price per unit asked for.
        price: u64,
        /// The limit the product broke, for the message.
        max: u64,
    },
    #[error("the order would expire at {expires_at}, which is not after now ({now})")]
    /// The order would already have expired when placed, so it could never rest.
    ExpiryNotInFuture {
        /// The expiry asked for, in the caller's time unit.
        expires_at: u64,
        /// The time of the operation, in the same unit.
        now: u64,
    },
    /// A cancel or modify named an order that is not open: a client may act on a stale view of its orders.
    #[error("there is no open order {0} (never placed, or already filled, cancelled or expired)")]
    UnknownOrder(OrderId),
    #[error("order {order} belongs to {owner}, not to {caller}")]
    /// Someone other than the owner tried to cancel or modify an order.
    NotOwner {
        /// The order acted on.
        order: OrderId,
        /// Whose it is.
        owner: Owner,
        /// Who asked.
        caller: Owner,
    },
    #[error("order {order} already has price {price}")]
    /// A modify to the price the order already has: refused rather than charging a relist fee and losing the
    /// order's time priority for nothing.
    UnchangedPrice {
        /// The order acted on.
        order: OrderId,
        /// Its current (and requested) price.
        price: u64,
    },
}
