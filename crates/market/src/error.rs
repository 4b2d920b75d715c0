//! The market's refusals. Every one is raised before anything changes, so a refused operation leaves the market as
//! it was.

use crate::ids::{OrderId, Owner};

/// Why the order book refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error("quantity {0} is not positive; an order needs at least 1 item")]
    NonPositiveQuantity(i64),
    #[error("price {0} is not positive; prices are whole money units ≥ 1")]
    NonPositivePrice(i64),
    #[error("{quantity} items at {price} each is worth more than the largest amount the market holds ({max})")]
    ValueOverflow { quantity: u64, price: u64, max: u64 },
    #[error("the order would expire at {expires_at}, which is not after now ({now})")]
    ExpiryNotInFuture { expires_at: u64, now: u64 },
    #[error("there is no open order {0} (never placed, or already filled, cancelled or expired)")]
    UnknownOrder(OrderId),
    #[error("order {order} belongs to {owner}, not to {caller}")]
    NotOwner { order: OrderId, owner: Owner, caller: Owner },
    #[error("order {order} already has price {price}")]
    UnchangedPrice { order: OrderId, price: u64 },
}
