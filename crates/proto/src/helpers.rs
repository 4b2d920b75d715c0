//! Small constructors for the envelopes every role builds, so that the `oneof` nesting is written once.

use crate::v1::{self, server_envelope::Body};

/// A server envelope answering `request_id` with `body`.
pub fn reply(request_id: u32, body: Body) -> v1::ServerEnvelope {
    v1::ServerEnvelope { request_id, body: Some(body) }
}

/// An error answer: a code and a reason that says what was wrong and where.
pub fn error(request_id: u32, code: v1::ErrorCode, reason: impl Into<String>) -> v1::ServerEnvelope {
    reply(request_id, Body::Error(v1::Error { code: code as i32, reason: reason.into() }))
}

/// The short name of a client envelope's body, for logs and metrics ("chat", "warp_to", …; "empty" when the
/// body is missing).
pub fn command_name(envelope: &v1::ClientEnvelope) -> &'static str {
    use v1::client_envelope::Body as B;
    match &envelope.body {
        None => "empty",
        Some(B::Register(_)) => "register",
        Some(B::Login(_)) => "login",
        Some(B::Resume(_)) => "resume",
        Some(B::CreateCharacter(_)) => "create_character",
        Some(B::Undock(_)) => "undock",
        Some(B::Approach(_)) => "approach",
        Some(B::Stop(_)) => "stop",
        Some(B::WarpTo(_)) => "warp_to",
        Some(B::Jump(_)) => "jump",
        Some(B::Chat(_)) => "chat",
        Some(B::Logout(_)) => "logout",
        Some(B::Ping(_)) => "ping",
        Some(B::Orbit(_)) => "orbit",
        Some(B::Lock(_)) => "lock",
        Some(B::Unlock(_)) => "unlock",
        Some(B::ActivateModule(_)) => "activate_module",
        Some(B::DeactivateModule(_)) => "deactivate_module",
        Some(B::PlaceOrder(_)) => "place_order",
        Some(B::ModifyOrder(_)) => "modify_order",
        Some(B::CancelOrder(_)) => "cancel_order",
        Some(B::GetMarketDepth(_)) => "get_market_depth",
        Some(B::GetMyOrders(_)) => "get_my_orders",
        Some(B::GetWallet(_)) => "get_wallet",
        Some(B::GetTransactions(_)) => "get_transactions",
        Some(B::GetMarketHistory(_)) => "get_market_history",
    }
}

/// The bus subject of a system's inbox.
pub fn system_subject(system_id: u32) -> String {
    format!("system.{system_id}")
}

/// The bus subject of a system's per-tick deltas.
pub fn delta_subject(system_id: u32) -> String {
    format!("system.{system_id}.delta")
}

/// The bus subject of a proxy's inbox.
pub fn proxy_subject(proxy_id: u32) -> String {
    format!("proxy.{proxy_id}")
}

/// The bus subject of the market role's inbox (requests from proxies).
pub const MARKET_SUBJECT: &str = "market";

/// Whether a client envelope is a market request (the proxy forwards it to the market role).
pub fn is_market_request(envelope: &v1::ClientEnvelope) -> bool {
    use v1::client_envelope::Body as B;
    matches!(
        envelope.body,
        Some(
            B::PlaceOrder(_)
                | B::ModifyOrder(_)
                | B::CancelOrder(_)
                | B::GetMarketDepth(_)
                | B::GetMyOrders(_)
                | B::GetWallet(_)
                | B::GetTransactions(_)
                | B::GetMarketHistory(_)
        )
    )
}

/// The bus subject of a sol node's inbox.
pub fn node_subject(node_id: u32) -> String {
    format!("node.{node_id}")
}

/// The bus subject on which a sol node publishes its [`v1::NodeReport`] (its health and heartbeat).
pub fn node_report_subject(node_id: u32) -> String {
    format!("node.{node_id}.report")
}

/// The bus subject of cluster-wide broadcasts.
pub const CLUSTER_SUBJECT: &str = "cluster";

/// The bus subject of the coordinator's inbox (the steps of a live migration).
pub const COORDINATOR_SUBJECT: &str = "coordinator";

/// Stamps the [`v1::SystemInbox`] messages one publisher sends with its origin and a count, so that a system's
/// new node can tell, during a live migration, which held messages its old node already took: per subject,
/// messages of one publisher arrive in the order sent, on every subscription.
#[derive(Debug)]
pub struct Stamper {
    origin: u64,
    next: std::sync::atomic::AtomicU64,
}

impl Stamper {
    /// A stamper with a random origin (never 0, which marks unstamped messages).
    #[must_use]
    pub fn random() -> Stamper {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher
            .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        hasher.write_u32(std::process::id());
        Stamper { origin: hasher.finish().max(1), next: std::sync::atomic::AtomicU64::new(1) }
    }

    /// This publisher's origin.
    #[must_use]
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// `message` stamped with this publisher's origin and its next count.
    #[must_use]
    pub fn stamp(&self, mut message: v1::SystemInbox) -> v1::SystemInbox {
        message.origin = self.origin;
        message.seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        message
    }

    /// `body` as a stamped, encoded [`v1::SystemInbox`], ready to publish on a system's subject.
    #[must_use]
    pub fn encode(&self, body: v1::system_inbox::Body) -> bytes::Bytes {
        use prost::Message as _;
        bytes::Bytes::from(self.stamp(v1::SystemInbox { body: Some(body), origin: 0, seq: 0 }).encode_to_vec())
    }
}
