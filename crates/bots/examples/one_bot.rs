//! One scripted player, step by step, with the client library: register (or log in), create a character,
//! undock, warp to a stargate, jump, say hello, log out. A starting point for a client, and a quick manual
//! check of a running server.
//!
//! ```text
//! cargo run -p orrery-bots --example one_bot -- [ADDR] [USERNAME]
//! cargo run -p orrery-bots --example one_bot -- ws://127.0.0.1:7778/ pilot01
//! ```

use std::time::Duration;

use orrery_bots::orrery_proto::v1::server_envelope::Body as Msg;
use orrery_bots::orrery_proto::v1::{self, CelestialKind, ShipMotion, client_envelope::Body as Cmd};
use orrery_bots::{Client, ClientError, JUMP_RANGE_M, delta_is_new};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ClientError> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "127.0.0.1:7777".into());
    let username = args.next().unwrap_or_else(|| "example01".into());

    let mut client = Client::connect(&target).await?;
    println!("connected to {target} over {}", if client.is_websocket() { "WebSocket" } else { "TCP" });
    let session = client.register_or_login(&username, "example-password").await?;
    println!("account {} ({} characters)", session.account_id, session.characters.len());
    let character = match session.characters.into_iter().next() {
        Some(character) => character,
        None => client.create_character(&username).await?,
    };
    let snapshot = client.undock(character.character_id).await?;
    println!(
        "{} undocked in {} ({}), node {}, tick {}, {} ships, time dilation {:.0} %",
        character.name,
        snapshot.system_name,
        snapshot.system_id,
        snapshot.node_id,
        snapshot.tick,
        snapshot.ships.len(),
        f64::from(snapshot.tidi_permille) / 10.0
    );
    println!("rtt {:?}", client.ping().await?);

    let Some(gate) = snapshot.celestials.iter().find(|c| c.kind == CelestialKind::Stargate as i32).cloned() else {
        println!("no stargate here; logging out");
        return client.logout().await;
    };
    println!("warping to {} (to system {})", gate.name, gate.destination_system_id);
    client.send(Cmd::WarpTo(v1::WarpTo { object_id: gate.id, range_m: 0 })).await?;

    // Follow the deltas until the ship stops near the gate (give up after two minutes).
    let (mut system, mut tick, ship_id) = (snapshot.system_id, snapshot.tick, snapshot.your_ship_id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut arrived = false;
    while !arrived {
        let Some(envelope) = client.next_event_until(deadline).await? else {
            println!("still not at the gate after two minutes");
            break;
        };
        match envelope.body {
            Some(Msg::Delta(delta)) if delta_is_new(&delta, system, tick) => {
                tick = delta.tick;
                for ship in delta.moved.iter().filter(|s| s.ship_id == ship_id) {
                    let motion = ShipMotion::try_from(ship.motion).unwrap_or(ShipMotion::Unspecified);
                    let distance = distance(ship.position, gate.position);
                    println!("tick {tick}: {motion:?}, {distance:.0} m from the gate");
                    arrived = motion == ShipMotion::Idle && distance <= JUMP_RANGE_M;
                }
            }
            Some(Msg::Error(error)) => println!("error {:?}: {}", error.code(), error.reason),
            _ => {}
        }
    }
    if arrived {
        let answer = client.request(Cmd::Jump(v1::Jump { gate_id: gate.id }), Duration::from_secs(30)).await?;
        if let Some(Msg::Snapshot(destination)) = answer.body {
            (system, tick) = (destination.system_id, destination.tick);
            println!("jumped to {} ({system}) on node {}, tick {tick}", destination.system_name, destination.node_id);
        }
    }
    client.send(Cmd::Chat(v1::Chat { text: format!("o7 from {username}") })).await?;
    // Our own line comes back in a delta, like everyone else's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Some(envelope) = client.next_event_until(deadline).await? {
        if let Some(Msg::Delta(delta)) = envelope.body
            && delta_is_new(&delta, system, tick)
        {
            tick = delta.tick;
            if let Some(line) = delta.chat.iter().find(|l| l.character_id == character.character_id) {
                println!("local: <{}> {}", line.pilot, line.text);
                break;
            }
        }
    }
    client.logout().await?;
    println!("logged out");
    Ok(())
}

fn distance(a: Option<v1::Vec3>, b: Option<v1::Vec3>) -> f64 {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let d = |p: i64, q: i64| (p as f64) - (q as f64);
    (d(a.x, b.x).powi(2) + d(a.y, b.y).powi(2) + d(a.z, b.z).powi(2)).sqrt()
}
