//! Sessions you can trust, over real sockets: one session per account, one live ship per character, and a
//! reconnect that finds the ship where it is — never an older stored copy (issue 26).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Pilot, TestCluster, WAIT, name_starting_in, pilot, undocked};
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_bots::{Client, ClientError};

/// The farthest a ship moves in one tick outside warp: 300 m/s for the test cluster's 1 s of simulation per
/// tick, plus rounding to whole metres.
const ONE_TICK_OF_TRAVEL_M: f64 = 300.0 + 2.0;

fn distance(a: v1::Vec3, b: v1::Vec3) -> f64 {
    let d = |a: i64, b: i64| (a - b) as f64;
    (d(a.x, b.x).powi(2) + d(a.y, b.y).powi(2) + d(a.z, b.z).powi(2)).sqrt()
}

async fn expect_refused(client: &mut Client, body: Cmd, code: v1::ErrorCode) {
    match client.request(body, WAIT).await {
        Err(ClientError::Server { code: got, reason }) => assert_eq!(got, code, "{reason}"),
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_session_cannot_log_in_again() {
    let test = TestCluster::start().await;
    let mut other = Client::connect(&test.addr()).await.expect("connect");
    other.register_or_login("other_account", "correct horse battery").await.expect("register");
    let mut pilot = pilot(&test.addr(), "first_account").await;
    let login = Cmd::Login(v1::Login { username: "other_account".into(), password: "correct horse battery".into() });
    expect_refused(&mut pilot.client, login, v1::ErrorCode::AlreadyLoggedIn).await;
    let register =
        Cmd::Register(v1::Register { username: "third_account".into(), password: "correct horse battery".into() });
    expect_refused(&mut pilot.client, register, v1::ErrorCode::AlreadyLoggedIn).await;
    let resume = Cmd::Resume(v1::Resume { token: pilot.token.clone() });
    expect_refused(&mut pilot.client, resume, v1::ErrorCode::AlreadyLoggedIn).await;
    // The session still acts for its own account: its ship obeys, and nobody registered "third_account".
    pilot.client.request(Cmd::Ping(v1::Ping { nonce: 1 }), WAIT).await.expect("still open");
    let mut third = Client::connect(&test.addr()).await.expect("connect");
    let login = third.login("third_account", "correct horse battery").await;
    assert!(matches!(login, Err(ClientError::Server { code: v1::ErrorCode::BadCredentials, .. })), "{login:?}");
    test.cluster.shutdown().await;
}

/// Read `client` until the server closes it; the errors it was sent, in order.
async fn errors_until_closed(client: &mut Client) -> Vec<(u32, v1::ErrorCode)> {
    let mut errors = Vec::new();
    loop {
        match client.next_event(WAIT).await {
            Ok(Some(v1::ServerEnvelope { request_id, body: Some(Msg::Error(error)) })) => {
                errors.push((request_id, error.code()));
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("not closed within {WAIT:?}; errors so far {errors:?}"),
            Err(_) => return errors,
        }
    }
}

/// Flies `pilot`'s ship towards a point far away (it keeps moving for the rest of the test).
async fn fly_away(pilot: &mut Pilot) {
    let [x, y, z] = pilot.position();
    let target = v1::Vec3 { x: x as i64 + 10_000_000, y: y as i64, z: z as i64 };
    pilot.command(Cmd::Approach(v1::Approach { target: Some(v1::approach::Target::Point(target)) })).await;
}

/// An observer in the same system: every position it saw of `ship`, by tick.
struct Track {
    positions: BTreeMap<u64, v1::Vec3>,
}

impl Track {
    /// Let `observer` read up to tick `until`, noting where `ship` was.
    async fn follow(&mut self, observer: &mut Pilot, ship: u64, until: u64) {
        while observer.last_tick < until {
            let envelope = observer.client.next_event(WAIT).await.expect("observer connected").expect("deltas");
            if let Some(Msg::Delta(delta)) = &envelope.body
                && let Some(seen) = delta.moved.iter().chain(&delta.arrived).find(|s| s.ship_id == ship)
            {
                self.positions.insert(delta.tick, seen.position.unwrap_or_default());
            }
            observer.absorb(&envelope);
        }
    }

    /// The last position seen strictly before `tick`.
    fn before(&self, tick: u64) -> v1::Vec3 {
        *self.positions.range(..tick).next_back().expect("the ship was seen before").1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_drop_finds_the_live_ship_at_any_delay() {
    // Checkpoints far apart: a reconnect that got the stored copy would be thousands of metres behind.
    let test = TestCluster::start_with(|config| config.checkpoint_every = Duration::from_secs(600)).await;
    let flyer = pilot(&test.addr(), "reconnecting").await;
    let system = flyer.system();
    let mut observer = pilot(&test.addr(), &name_starting_in(&test, system, "watching")).await;
    assert_eq!(observer.system(), system);
    let (ship, character, token) = (flyer.ship_id(), flyer.character.character_id, flyer.token.clone());
    let mut track = Track { positions: BTreeMap::new() };
    let mut client = flyer.client;
    let mut snapshot_tick = flyer.snapshot.tick;
    for delay_ms in [0, 100, 500, 1_000, 2_000] {
        client
            .send(Cmd::Approach(v1::Approach {
                target: Some(v1::approach::Target::Point(v1::Vec3 { x: 1_000_000_000, y: 0, z: 0 })),
            }))
            .await
            .expect("fly");
        // Fly for a few ticks as the observer sees them, then drop the connection without a Logout.
        track.follow(&mut observer, ship, snapshot_tick + 8).await;
        drop(client);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        client = Client::connect(&test.addr()).await.expect("reconnect");
        let resumed = client.resume(&token).await.expect("resume");
        assert_eq!(resumed.characters.len(), 1);
        let snapshot = client.undock(character).await.expect("undock after resume");
        let mine: Vec<_> = snapshot.ships.iter().filter(|s| s.ship_id == ship).collect();
        assert_eq!(mine.len(), 1, "one ship for the character");
        let position = mine[0].position.unwrap_or_default();
        track.follow(&mut observer, ship, snapshot.tick).await;
        let live = track.before(snapshot.tick);
        let off = distance(position, live);
        assert!(
            off <= ONE_TICK_OF_TRAVEL_M,
            "resumed {delay_ms} ms after the drop: the ship is {off:.0} m from where it was last seen live \
             ({position:?} against {live:?})"
        );
        snapshot_tick = snapshot.tick;
    }
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_session_of_an_account_replaces_the_first_and_takes_the_live_ship() {
    let test = TestCluster::start_with(|config| config.checkpoint_every = Duration::from_secs(600)).await;
    let mut first = pilot(&test.addr(), "twice").await;
    let system = first.system();
    let mut observer = pilot(&test.addr(), &name_starting_in(&test, system, "onlooker")).await;
    let (ship, character) = (first.ship_id(), first.character.character_id);
    fly_away(&mut first).await;
    let mut track = Track { positions: BTreeMap::new() };
    track.follow(&mut observer, ship, first.snapshot.tick + 8).await;

    let mut second = Client::connect(&test.addr()).await.expect("connect");
    second.resume(&first.token).await.expect("resume with the token the first session uses");
    let errors = errors_until_closed(&mut first.client).await;
    assert_eq!(errors, vec![(0, v1::ErrorCode::SessionReplaced)], "the first session is told why, then closed");

    let snapshot = second.undock(character).await.expect("the second session undocks");
    let mine: Vec<_> = snapshot.ships.iter().filter(|s| s.ship_id == ship).collect();
    assert_eq!(mine.len(), 1, "one ship for the character");
    track.follow(&mut observer, ship, snapshot.tick).await;
    let off = distance(mine[0].position.unwrap_or_default(), track.before(snapshot.tick));
    assert!(off <= ONE_TICK_OF_TRAVEL_M, "the ship is {off:.0} m from where it was last seen live");
    // The new session steers it.
    second.send(Cmd::Stop(v1::Stop {})).await.expect("stop");
    second.request(Cmd::Ping(v1::Ping { nonce: 2 }), WAIT).await.expect("no error before the pong");
    test.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_another_proxy_replaces_the_session_and_takes_the_live_ship() {
    let test = TestCluster::start_with(|config| config.checkpoint_every = Duration::from_secs(600)).await;
    let second_proxy = common::extra_proxy(&test, |_| {}).await;
    let mut first = pilot(&test.addr(), "two_proxies").await;
    let (ship, character) = (first.ship_id(), first.character.character_id);
    fly_away(&mut first).await;
    first.until(WAIT, "flying", |p| p.me().is_some_and(|s| s.motion == v1::ShipMotion::Approaching as i32)).await;

    let mut second = Client::connect(&second_proxy.tcp_addr().to_string()).await.expect("connect");
    second.login("two_proxies", "correct horse battery").await.expect("login on the other proxy");
    let errors = errors_until_closed(&mut first.client).await;
    assert_eq!(errors, vec![(0, v1::ErrorCode::SessionReplaced)], "closed by a login on the other proxy");
    let snapshot = second.undock(character).await.expect("undock through the other proxy");
    assert_eq!(snapshot.ships.iter().filter(|s| s.ship_id == ship).count(), 1, "one ship for the character");
    let last_seen = first.me().and_then(|s| s.position).expect("seen flying");
    let now = snapshot.ships.iter().find(|s| s.ship_id == ship).and_then(|s| s.position).expect("own ship");
    let elapsed_ticks = snapshot.tick.saturating_sub(first.last_tick) as f64;
    let off = distance(now, last_seen);
    assert!(
        off <= ONE_TICK_OF_TRAVEL_M * (elapsed_ticks + 1.0),
        "{off:.0} m in {elapsed_ticks} ticks: not the live ship"
    );
    second_proxy.shutdown().await;
    test.cluster.shutdown().await;
}

/// How two pilots meet (issue 26): LoggedIn lists the trade hubs; two new characters that choose the same one
/// — by name in any case, or by id — start there and see each other. A start system that does not exist or is
/// not a starting system is refused with NOT_A_STARTING_SYSTEM, naming it, and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_new_characters_choosing_the_same_start_system_meet_there() {
    use v1::create_character::StartSystem::{StartSystemId, StartSystemName};
    let test = TestCluster::start().await;
    let mut first = Client::connect(&test.addr()).await.expect("connect");
    let session = first.register_or_login("meeting_first", "correct horse battery").await.expect("register");
    let hub = session.trade_hubs.first().cloned().expect("LoggedIn lists the trade hubs");
    assert!(!hub.name.is_empty(), "a trade hub has a name: {hub:?}");

    // A low-security system whose name no high-security system shares: refused by name and by id.
    let systems = test.universe.systems();
    let high_named = |name: &str| systems.iter().any(|s| s.is_high_sec() && s.name.eq_ignore_ascii_case(name));
    let low = systems.iter().find(|s| !s.is_high_sec() && !high_named(&s.name)).expect("a low-security system");
    let refusals = [
        (StartSystemName("Nowhere Special".into()), "Nowhere Special".to_owned()),
        (StartSystemId(4_000_000_000), "4000000000".to_owned()),
        (StartSystemName(low.name.to_uppercase()), format!("{} ({})", low.name, low.id.0)),
        (StartSystemId(low.id.0), format!("{} ({})", low.name, low.id.0)),
    ];
    for (start_system, named) in refusals {
        let create = v1::CreateCharacter { name: "Refused Pilot".into(), start_system: Some(start_system) };
        match first.request(Cmd::CreateCharacter(create), WAIT).await {
            Err(ClientError::Server { code, reason }) => {
                assert_eq!(code, v1::ErrorCode::NotAStartingSystem, "{reason}");
                assert!(reason.contains(&named), "the reason names {named}: {reason}");
            }
            other => panic!("expected NOT_A_STARTING_SYSTEM for {named}, got {other:?}"),
        }
    }
    let stored = test.cluster.store().characters(session.account_id).await.expect("characters");
    assert!(stored.is_empty(), "refusals created nothing: {stored:?}");

    let by_name = StartSystemName(hub.name.to_uppercase());
    let character = first.create_character_in("Refused Pilot", Some(by_name)).await.expect("created by name");
    assert_eq!((character.system_id, character.system_name.as_str()), (hub.system_id, hub.name.as_str()));
    let mut first = undocked(first, character, session.token).await;

    let mut second = Client::connect(&test.addr()).await.expect("connect");
    let other_session = second.register_or_login("meeting_second", "correct horse battery").await.expect("register");
    assert_eq!(other_session.trade_hubs, session.trade_hubs, "every player learns the same meeting points");
    let character =
        second.create_character_in("Second Pilot", Some(StartSystemId(hub.system_id))).await.expect("by id");
    assert_eq!(character.system_id, hub.system_id);
    let mut second = undocked(second, character, other_session.token).await;

    assert_eq!((first.system(), second.system()), (hub.system_id, hub.system_id));
    let (first_ship, second_ship) = (first.ship_id(), second.ship_id());
    second.until(WAIT, "the first pilot in the second's view", |p| p.ships.contains_key(&first_ship)).await;
    first.until(WAIT, "the second pilot in the first's view", |p| p.ships.contains_key(&second_ship)).await;
    test.cluster.shutdown().await;
}
