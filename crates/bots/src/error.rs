//! Why a load-generator run could not start or a hub route could not be planned (the client's own errors are
//! `orrery_client::ClientError`).

/// Why a load-generator run could not start (its counters report everything that goes wrong once running).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `count` was 0.
    #[error("count must be at least 1")]
    NoBots,
    /// `max_connecting` was 0.
    #[error("max_connecting must be at least 1")]
    NoRamp,
    /// The name prefix would make usernames the server refuses.
    #[error("name prefix `{0}`: 2 to 20 characters of [A-Za-z0-9_-] expected")]
    BadPrefix(String),
    /// The password is outside the server's 8–128 bytes.
    #[error("password: 8 to 128 bytes expected")]
    BadPassword,
    /// The `hub` or `mixed` scenario needs a hub.
    #[error("the {0} scenario needs a hub (BotsConfig::hub)")]
    NoHub(&'static str),
    /// The scenario name is not one of idle, travel, hub, mixed.
    #[error("unknown scenario `{0}` (expected idle, travel, hub or mixed)")]
    UnknownScenario(String),
}

/// Why a hub route could not be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    /// The hub system is not in the universe.
    #[error("system {0} is not in the universe")]
    UnknownSystem(u32),
    /// The universe has no trade hub to default to (no high-sec system with a gate).
    #[error("the universe has no trade hub")]
    NoTradeHub,
}
