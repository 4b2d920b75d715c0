//! What a load-generator run does: where to connect, how many bots, which scenario, for how long.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;
use crate::route::HubRoute;
use orrery_client::ClientOptions;

/// The password of every bot account: fixed, so that a later run logs in to the accounts an earlier one made.
pub const BOT_PASSWORD: &str = "orrery-bot-password";

/// What the bots of a run do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Log in, undock, ping every 10 s: the cost of a connected, quiet player.
    Idle,
    /// Warp to a random stargate, jump, repeat: the cost of movement and of jumps (across nodes, too).
    Travel,
    /// Travel to one hub system and chat there every 5 s: the cost of a crowd in one system.
    Hub,
    /// 50 % travel, 30 % hub, 20 % idle, by bot index.
    Mixed,
    /// Random-walk until a jump lands on another sol node, then jump back and forth across that border: the
    /// cost and latency of cross-node handoffs (the summary's `cross_node_jump_ms`).
    Border,
    /// Every bot undocks in the hub, takes a side (its character id's parity), orbits, locks and shoots an enemy,
    /// fights on in its pod and comes back in a new frigate; the first bot watches a quiet system instead.
    Fight,
}

/// What one bot does (a scenario assigns one role to each bot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sit in space and ping.
    Idle,
    /// Random-walk the stargate graph.
    Travel,
    /// Go to the hub and chat there.
    Hub,
    /// Find a node border and shuttle across it.
    Border,
}

impl Scenario {
    /// Every scenario, in the order of the command line's help.
    pub const ALL: [Scenario; 6] =
        [Scenario::Idle, Scenario::Travel, Scenario::Hub, Scenario::Mixed, Scenario::Border, Scenario::Fight];

    /// The role of bot `index`. Deterministic, so a run is reproducible and a bot keeps its role across
    /// reconnects; `mixed` interleaves the roles in blocks of ten (0–4 travel, 5–7 hub, 8–9 idle), so any
    /// prefix of bots has about the right mix.
    pub fn role_of(self, index: usize) -> Role {
        match self {
            Scenario::Idle | Scenario::Fight => Role::Idle,
            Scenario::Travel => Role::Travel,
            Scenario::Hub => Role::Hub,
            Scenario::Border => Role::Border,
            Scenario::Mixed => match index % 10 {
                0..=4 => Role::Travel,
                5..=7 => Role::Hub,
                _ => Role::Idle,
            },
        }
    }

    /// Whether some bot of this scenario heads for the hub (so the run needs a [`HubRoute`]).
    pub fn needs_hub(self) -> bool {
        matches!(self, Scenario::Hub | Scenario::Mixed | Scenario::Fight)
    }

    /// The scenario's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::Travel => "travel",
            Scenario::Hub => "hub",
            Scenario::Mixed => "mixed",
            Scenario::Border => "border",
            Scenario::Fight => "fight",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| ConfigError::UnknownScenario(text.to_string()))
    }
}

/// A load-generator run. Build it with [`BotsConfig::new`] and struct update for the rest.
#[derive(Debug, Clone)]
pub struct BotsConfig {
    /// Where to connect: `host:port` for TCP, or a `ws://host:port/` URL for WebSocket.
    pub connect: String,
    /// How many bots (one connection and one tokio task each).
    pub count: usize,
    /// What they do.
    pub scenario: Scenario,
    /// How long they do it; every bot then logs out within [`BotsConfig::grace`].
    pub duration: Duration,
    /// Seed of the bots' choices (bot `i` draws from stream `i` of a ChaCha8 generator seeded with it).
    pub seed: u64,
    /// Account names are `{name_prefix}{index}`; characters get the same name.
    pub name_prefix: String,
    /// The accounts' password.
    pub password: String,
    /// Where hub bots go, and how (required by the `hub` and `mixed` scenarios).
    pub hub: Option<HubRoute>,
    /// At most this many bots connect and log in at once: a ramp, so that ten thousand bots do not all hit
    /// the server's password hashing in the same second.
    pub max_connecting: usize,
    /// Time allowed at the end for `Logout` and its `Ok`.
    pub grace: Duration,
    /// Options of every bot's connection.
    pub client: ClientOptions,
}

impl BotsConfig {
    /// A run of `count` bots against `connect`, with the defaults for everything else (seed 1, prefix `bot`,
    /// 200 connecting at once, 3 s grace, no hub).
    pub fn new(connect: impl Into<String>, count: usize, scenario: Scenario, duration: Duration) -> BotsConfig {
        BotsConfig {
            connect: connect.into(),
            count,
            scenario,
            duration,
            seed: 1,
            name_prefix: "bot".into(),
            password: BOT_PASSWORD.into(),
            hub: None,
            max_connecting: 200,
            grace: Duration::from_secs(3),
            client: ClientOptions { request_timeout: Duration::from_secs(30), ..ClientOptions::default() },
        }
    }

    /// Checks what the server would refuse anyway, before ten thousand bots find out one by one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.count == 0 {
            return Err(ConfigError::NoBots);
        }
        if self.max_connecting == 0 {
            return Err(ConfigError::NoRamp);
        }
        let prefix_ok = (2..=20).contains(&self.name_prefix.len())
            && self.name_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err(ConfigError::BadPrefix(self.name_prefix.clone()));
        }
        if !(8..=128).contains(&self.password.len()) {
            return Err(ConfigError::BadPassword);
        }
        if self.scenario.needs_hub() && self.hub.is_none() {
            return Err(ConfigError::NoHub(self.scenario.as_str()));
        }
        Ok(())
    }

    /// The account (and character) name of bot `index`.
    pub fn username(&self, index: usize) -> String {
        format!("{}{index}", self.name_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_assigns_half_travel_three_tenths_hub_one_fifth_idle() {
        let roles: Vec<Role> = (0..1000).map(|i| Scenario::Mixed.role_of(i)).collect();
        let count = |role| roles.iter().filter(|&&r| r == role).count();
        assert_eq!((count(Role::Travel), count(Role::Hub), count(Role::Idle)), (500, 300, 200));
        assert_eq!(Scenario::Mixed.role_of(0), Role::Travel);
        assert_eq!(Scenario::Mixed.role_of(5), Role::Hub);
        assert_eq!(Scenario::Mixed.role_of(9), Role::Idle);
        assert_eq!(Scenario::Mixed.role_of(19), Role::Idle, "same role every ten bots");
    }

    #[test]
    fn single_role_scenarios_give_everyone_that_role() {
        for index in [0, 7, 9999] {
            assert_eq!(Scenario::Idle.role_of(index), Role::Idle);
            assert_eq!(Scenario::Travel.role_of(index), Role::Travel);
            assert_eq!(Scenario::Hub.role_of(index), Role::Hub);
        }
    }

    #[test]
    fn scenarios_parse_from_their_names() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.as_str().parse::<Scenario>(), Ok(scenario));
        }
        assert_eq!(" Travel ".parse::<Scenario>(), Ok(Scenario::Travel));
        assert_eq!("warp".parse::<Scenario>(), Err(ConfigError::UnknownScenario("warp".into())));
    }

    #[test]
    fn validation_catches_what_the_server_would_refuse() {
        let base = BotsConfig::new("127.0.0.1:7777", 10, Scenario::Idle, Duration::from_secs(5));
        assert_eq!(base.validate(), Ok(()));
        assert_eq!(BotsConfig { count: 0, ..base.clone() }.validate(), Err(ConfigError::NoBots));
        assert_eq!(BotsConfig { max_connecting: 0, ..base.clone() }.validate(), Err(ConfigError::NoRamp));
        assert!(matches!(
            BotsConfig { name_prefix: "b".into(), ..base.clone() }.validate(),
            Err(ConfigError::BadPrefix(_))
        ));
        assert!(matches!(
            BotsConfig { name_prefix: "bot one".into(), ..base.clone() }.validate(),
            Err(ConfigError::BadPrefix(_))
        ));
        assert_eq!(BotsConfig { password: "short".into(), ..base.clone() }.validate(), Err(ConfigError::BadPassword));
        assert_eq!(
            BotsConfig { scenario: Scenario::Mixed, ..base.clone() }.validate(),
            Err(ConfigError::NoHub("mixed"))
        );
        let with_hub = BotsConfig { scenario: Scenario::Hub, hub: Some(HubRoute::without_map(1)), ..base.clone() };
        assert_eq!(with_hub.validate(), Ok(()));
        assert_eq!(base.username(42), "bot42");
    }
}
