//! The seed corpus: valid encodings of every message the targets decode, so that the fuzzer starts from
//! inputs that reach deep into each message instead of rediscovering the protobuf wire format.
//!
//! Committed as `fuzz/corpus/<target>/seed-<name>`. `crates/proto/tests/fuzz_regressions.rs` (which includes
//! this file) checks that the committed files are exactly what [`seeds`] makes and replays them; after a
//! change of the `.proto` files, rewrite them with
//! `ORRERY_WRITE_SEEDS=1 cargo test -p orrery-proto --test fuzz_regressions committed_seeds`.

use bytes::Bytes;
use orrery_proto::v1::{self, client_envelope::Body as C, server_envelope::Body as S};
use prost::Message;

/// One seed file: the target it belongs to, its name (without the `seed-` prefix) and its bytes.
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Every seed of every target.
pub fn seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed { target, name: name.to_owned(), bytes });
    };

    let clients = client_envelopes();
    for (name, envelope) in &clients {
        add("client_envelope", name, envelope.encode_to_vec());
    }
    // The byte-level example of docs/protocol.md.
    add("client_envelope", "doc-ping", vec![0x08, 0x07, 0xd2, 0x01, 0x02, 0x08, 0x01]);

    let servers = server_envelopes();
    for (name, envelope) in &servers {
        add("server_envelope", name, envelope.encode_to_vec());
    }
    add("server_envelope", "doc-pong", vec![0x08, 0x07, 0x7a, 0x02, 0x08, 0x01]);

    for (name, bytes) in bus_messages(&servers) {
        add("bus_messages", &name, bytes);
    }

    // frame_split: [limit selector, read-size seed, stream…]. Selector 202 is DEFAULT_MAX_FRAME; the seed's top
    // two bits pick reads of 0–1, 0–7, 0–300 bytes or everything at once.
    let mut stream = Vec::new();
    for (_, envelope) in &clients {
        stream.extend_from_slice(&orrery_proto::frame::encode(envelope));
    }
    for (seed, reads) in [(0x11, "bytewise"), (0x45, "small-reads"), (0x8a, "medium-reads"), (0xc0, "one-read")] {
        add("frame_split", &format!("all-commands-{reads}"), [&[202, seed][..], &stream].concat());
    }
    let ping = orrery_proto::frame::encode(&clients[clients.len() - 1].1);
    // Exactly at the limit, then a truncated frame (the reader must wait for the rest).
    let at_limit = [&[ping.len() as u8 - 4, 0x47][..], &ping, &ping[..ping.len() - 2]].concat();
    add("frame_split", "at-limit-then-partial", at_limit);
    // Zero-length frames (empty envelopes) between real ones.
    add("frame_split", "empty-frames", [&[202, 0x33][..], &[0; 8], &ping, &[0; 4]].concat());
    // A length above the limit after a good frame.
    add("frame_split", "too-large", [&[16, 0x52][..], &ping, &[0, 0, 0, 17], &[0; 17]].concat());
    // The server's delta subject carries TCP-framed server envelopes, which a client splits.
    let mut deltas = vec![203, 0x9c];
    for (_, envelope) in &servers {
        deltas.extend_from_slice(&orrery_proto::frame::encode(envelope));
    }
    add("frame_split", "server-stream", deltas);

    seeds
}

fn vec3(x: i64, y: i64, z: i64) -> Option<v1::Vec3> {
    Some(v1::Vec3 { x, y, z })
}

fn client_envelopes() -> Vec<(&'static str, v1::ClientEnvelope)> {
    let body = |request_id: u32, body: C| v1::ClientEnvelope { request_id, body: Some(body) };
    let approach = |target| C::Approach(v1::Approach { target: Some(target) });
    vec![
        ("client-empty", v1::ClientEnvelope { request_id: 9, body: None }),
        (
            "client-register",
            body(1, C::Register(v1::Register { username: "pilot_1".into(), password: "hunter2hunter2".into() })),
        ),
        ("client-login", body(2, C::Login(v1::Login { username: "pilot-2".into(), password: "correct horse".into() }))),
        ("client-resume", body(3, C::Resume(v1::Resume { token: "0f".repeat(32) }))),
        (
            "client-create-character",
            body(
                4,
                C::CreateCharacter(v1::CreateCharacter {
                    name: "Ada Lovelace".into(),
                    start_system: Some(v1::create_character::StartSystem::StartSystemName("Jita".into())),
                }),
            ),
        ),
        ("client-undock", body(5, C::Undock(v1::Undock { character_id: 42 }))),
        (
            "client-approach-point",
            body(6, approach(v1::approach::Target::Point(v1::Vec3 { x: -1_500, y: 0, z: 1 << 40 }))),
        ),
        ("client-approach-object", body(7, approach(v1::approach::Target::ObjectId(1 << 63 | 17)))),
        ("client-stop", body(8, C::Stop(v1::Stop {}))),
        ("client-warp-to", body(9, C::WarpTo(v1::WarpTo { object_id: 1 << 63 | 3, range_m: 15_000 }))),
        ("client-jump", body(10, C::Jump(v1::Jump { gate_id: 1 << 63 | 4 }))),
        ("client-chat", body(11, C::Chat(v1::Chat { text: "o7 fly safe — ✈".into() }))),
        ("client-logout", body(12, C::Logout(v1::Logout {}))),
        ("client-orbit", body(13, C::Orbit(v1::Orbit { object_id: 17, radius_m: 5_000 }))),
        ("client-lock", body(14, C::Lock(v1::Lock { target_id: 17 }))),
        ("client-unlock", body(15, C::Unlock(v1::Unlock { target_id: 17 }))),
        ("client-activate-module", body(16, C::ActivateModule(v1::ActivateModule { module: 2, target_id: 17 }))),
        ("client-deactivate-module", body(17, C::DeactivateModule(v1::DeactivateModule { module: u32::MAX }))),
        // Last: the frame_split seeds use it.
        ("client-ping", body(u32::MAX, C::Ping(v1::Ping { nonce: u64::MAX }))),
    ]
}

fn ship(ship_id: u64, motion: v1::ShipMotion) -> v1::ShipState {
    v1::ShipState {
        ship_id,
        character_id: ship_id + 1000,
        pilot: format!("pilot {ship_id}"),
        position: vec3(1_000_000, -2, i64::MIN / 2),
        velocity: vec3(300, 0, -300),
        motion: motion as i32,
    }
}

fn celestial(id: u64, kind: v1::CelestialKind, destination_system_id: u32) -> v1::Celestial {
    v1::Celestial {
        id: 1 << 63 | id,
        kind: kind as i32,
        name: format!("celestial {id}"),
        position: vec3(7_480_000_000_000, 0, -3),
        destination_system_id,
    }
}

fn chat_line() -> v1::ChatLine {
    v1::ChatLine { character_id: 1001, pilot: "pilot 1".into(), text: "hello".into() }
}

fn character(character_id: u64, in_space: bool) -> v1::Character {
    v1::Character {
        character_id,
        name: "Ada Lovelace".into(),
        ship_id: character_id + 7,
        system_id: 30_000_142,
        in_space,
        system_name: "Jita".into(),
    }
}

fn server_envelopes() -> Vec<(&'static str, v1::ServerEnvelope)> {
    use v1::{CelestialKind as K, ShipMotion as M};
    let body = |request_id: u32, body: S| v1::ServerEnvelope { request_id, body: Some(body) };
    vec![
        ("server-empty", v1::ServerEnvelope { request_id: 0, body: None }),
        ("server-error", orrery_proto::error(3, v1::ErrorCode::InvalidArgument, "chat.text: 612 bytes, at most 500")),
        (
            "server-logged-in",
            body(
                1,
                S::LoggedIn(v1::LoggedIn {
                    account_id: 77,
                    token: "ab".repeat(32),
                    characters: vec![character(5, false), character(6, true)],
                    trade_hubs: vec![v1::SystemRef { system_id: 30_000_142, name: "Jita".into() }],
                }),
            ),
        ),
        (
            "server-character-created",
            body(2, S::CharacterCreated(v1::CharacterCreated { character: Some(character(8, false)) })),
        ),
        (
            "server-snapshot",
            body(
                3,
                S::Snapshot(v1::SystemSnapshot {
                    system_id: 30_000_142,
                    system_name: "Jita".into(),
                    sim_time_ms: 123_456,
                    your_ship_id: 1,
                    celestials: vec![
                        celestial(0, K::Star, 0),
                        celestial(1, K::Planet, 0),
                        celestial(2, K::Stargate, 30_000_144),
                    ],
                    ships: vec![ship(1, M::Idle), ship(2, M::Warping)],
                    tidi_permille: 1000,
                    tick_ms: 1000,
                    tick: 99,
                    node_id: 1,
                    chat: vec![chat_line()],
                }),
            ),
        ),
        (
            "server-delta",
            body(
                0,
                S::Delta(v1::SystemDelta {
                    system_id: 30_000_142,
                    tick: 100,
                    sim_time_ms: 124_456,
                    tidi_permille: 450,
                    moved: vec![ship(1, M::Aligning)],
                    arrived: vec![ship(3, M::Approaching)],
                    departed: vec![2, u64::MAX],
                    chat: vec![chat_line(), chat_line()],
                    new_celestials: vec![celestial(9, K::Stargate, 7)],
                    kills: vec![kill_report()],
                    fight: fight_events(),
                }),
            ),
        ),
        ("server-pong", body(7, S::Pong(v1::Pong { nonce: 1 }))),
        ("server-ok", body(8, S::Ok(v1::Ok {}))),
        ("server-notice", body(0, S::Notice(v1::Notice { text: "server shutting down in 60 s".into() }))),
        ("server-queued", body(5, S::Queued(v1::Queued { system_id: 30_000_142, position: 3, cap: 100 }))),
    ]
}

fn kill_report() -> v1::KillReport {
    let attacker = |ship_id, damage| v1::Attacker { ship_id, character_id: ship_id + 1000, ship_type_id: 639, damage };
    v1::KillReport {
        victim_ship_id: 2,
        victim_character_id: 1002,
        ship_type_id: 587,
        capsule: false,
        sim_time_ms: 124_300,
        position: Some(v1::Vec3 { x: -7, y: 0, z: i64::MAX }),
        final_blow: Some(attacker(1, 187.5)),
        attackers: vec![attacker(1, 1_012.25), attacker(3, 0.0)],
        wreck_id: 44,
    }
}

fn fight_events() -> Vec<v1::FightEvent> {
    use v1::fight_event::Event as E;
    let lock = v1::LockChange { ship_id: 1, target_id: 2 };
    [
        E::Locked(lock),
        E::LockLost(lock),
        E::Damage(v1::FightDamage {
            attacker_id: 1,
            target_id: 2,
            module: 3,
            damage: 0.0,
            missile_id: 0,
            sim_time_ms: 124_100,
        }),
        E::MissileLaunched(v1::MissileLaunched {
            missile_id: 43,
            attacker_id: 3,
            target_id: 2,
            module: 0,
            position: Some(v1::Vec3 { x: 1, y: 2, z: 3 }),
            velocity: Some(v1::Vec3 { x: 3_750, y: 0, z: 0 }),
            sim_time_ms: 124_200,
        }),
        E::MissileGone(v1::MissileGone { missile_id: 43, end: v1::MissileEnd::TargetGone as i32 }),
        E::Disrupted(v1::Disrupted { ship_id: 3, target_id: 2, until_ms: 129_000 }),
        E::DestroyedShipId(2),
        E::WreckAppeared(v1::Wreck {
            wreck_id: 44,
            position: Some(v1::Vec3 { x: -7, y: 0, z: 9 }),
            ship_type_id: 587,
            character_id: 1002,
        }),
        E::WreckGoneId(40),
    ]
    .into_iter()
    .map(|event| v1::FightEvent { event: Some(event) })
    .collect()
}

fn bus_messages(servers: &[(&str, v1::ServerEnvelope)]) -> Vec<(String, Vec<u8>)> {
    use v1::{cluster_event::Body as E, node_inbox::Body as N, proxy_inbox::Body as P, system_inbox::Body as I};
    let route = Some(v1::SessionRoute { proxy_id: 1, session_id: 12 });
    let record = Some(v1::ShipRecord {
        ship_id: 1,
        character_id: 1001,
        pilot: "pilot 1".into(),
        system_id: 30_000_142,
        position: Some(v1::Vec3d { x: 1.5e12, y: -0.0, z: f64::MIN_POSITIVE }),
        velocity: Some(v1::Vec3d { x: 300.0, y: 0.0, z: -1.0e-3 }),
        handoff_seq: 4,
        ..Default::default()
    });
    let inbox = |body: I| v1::SystemInbox { body: Some(body), origin: 0, seq: 0 }.encode_to_vec();
    let event = |body: E| v1::ClusterEvent { body: Some(body) }.encode_to_vec();
    let proxy = |body: P| v1::ProxyInbox { session_id: 12, body: Some(body) }.encode_to_vec();
    let envelope = |name: &str| {
        let (_, envelope) = servers.iter().find(|(n, _)| *n == name).expect("a server seed");
        Bytes::from(envelope.encode_to_vec())
    };
    let chat = v1::ClientEnvelope { request_id: 11, body: Some(C::Chat(v1::Chat { text: "o7".into() })) };
    let notice = || v1::Notice { text: "maintenance at 11:00".into() };
    vec![
        ("system-command".into(), inbox(I::Command(v1::SessionCommand { route, ship_id: 1, envelope: Some(chat) }))),
        ("system-enter".into(), inbox(I::Enter(v1::EnterSpace { route, request_id: 5, ship: record.clone() }))),
        (
            "system-handoff".into(),
            inbox(I::Handoff(v1::Handoff {
                route,
                request_id: 10,
                ship: record,
                from_system_id: 30_000_144,
                arrival_gate_id: 1 << 63 | 2,
            })),
        ),
        ("system-leave".into(), inbox(I::Leave(v1::LeaveSpace { ship_id: 1, route, request_id: 12, owner: route }))),
        ("system-inject-fault".into(), inbox(I::InjectFault(v1::InjectFault { panic: true, burn_ms_per_tick: 250 }))),
        ("system-add-celestial".into(), inbox(I::AddCelestial(celestial(5, v1::CelestialKind::Stargate, 9)))),
        (
            "node-host".into(),
            v1::NodeInbox {
                body: Some(N::Host(v1::HostSystem {
                    system_id: 9,
                    name: "Arena 9".into(),
                    celestials: vec![celestial(0, v1::CelestialKind::Star, 0)],
                    ..v1::HostSystem::default()
                })),
            }
            .encode_to_vec(),
        ),
        (
            "system-command-stamped".into(),
            v1::SystemInbox {
                body: Some(I::Leave(v1::LeaveSpace { ship_id: 1, route, request_id: 13, owner: route })),
                origin: 0x005e_ed0f_0e1c,
                seq: u64::MAX,
            }
            .encode_to_vec(),
        ),
        (
            "node-prepare".into(),
            v1::NodeInbox {
                body: Some(N::Prepare(v1::MoveStep { move_id: 7, system_id: 30_000_142, from_node: 0, to_node: 1 })),
            }
            .encode_to_vec(),
        ),
        (
            "node-transfer".into(),
            v1::NodeInbox {
                body: Some(N::Transfer(v1::SystemTransfer {
                    step: Some(v1::MoveStep { move_id: 7, system_id: 30_000_142, from_node: 0, to_node: 1 }),
                    sim: Bytes::from_static(&[0xff, 0x01, 0x00]),
                    tick_ms: 1000,
                    max_players: 100,
                    pilots: vec![v1::ShipPilot { ship_id: 1, route }],
                    jumped: vec![v1::Forwarding { ship_id: 2, destination: 30_000_144, left_at_tick: 99 }],
                    inbox: vec![Bytes::from_static(b"\x0a\x00")],
                    seen: [(0x5eed, 41)].into_iter().collect(),
                    next_tick_in_ms: 250,
                    ..v1::SystemTransfer::default()
                })),
            }
            .encode_to_vec(),
        ),
        (
            "coordinator-failed".into(),
            v1::CoordinatorInbox {
                body: Some(v1::coordinator_inbox::Body::Failed(v1::MoveFailed {
                    step: Some(v1::MoveStep { move_id: 7, system_id: 30_000_142, from_node: 0, to_node: 1 }),
                    reason: "node 1 already hosts system 30000142".into(),
                })),
            }
            .encode_to_vec(),
        ),
        ("cluster-notice".into(), event(E::Notice(notice()))),
        (
            "cluster-settings".into(),
            event(E::Settings(v1::LiveSettings {
                idle_timeout_s: 300,
                rate_limit_per_s: 20,
                max_players: 2000,
                // One entry per map: a HashMap's order (and so the encoding) varies between runs.
                system_max_players: [(30_000_142, 100)].into_iter().collect(),
                tick_ms: 1000,
                system_tick_ms: [(9, 100)].into_iter().collect(),
                tidi_floor: 0.1,
                max_frame_bytes: 65_536,
                motd: "welcome".into(),
            })),
        ),
        ("cluster-shutting-down".into(), event(E::ShuttingDown(notice()))),
        ("cluster-system-added".into(), event(E::SystemAdded(9))),
        ("proxy-forward".into(), proxy(P::Forward(envelope("server-pong")))),
        (
            "proxy-entered".into(),
            proxy(P::Entered(v1::Entered {
                system_id: 30_000_142,
                snapshot: envelope("server-snapshot"),
                handoff_seq: 4,
                ship_id: 1,
            })),
        ),
        ("proxy-left".into(), proxy(P::Left(envelope("server-ok")))),
    ]
}
