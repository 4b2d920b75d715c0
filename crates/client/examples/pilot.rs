//! A pilot's first flight with the client library: log in (registering the account the first time), undock,
//! warp to a stargate, jump, print what is there, say hello in local chat and log out.
//!
//! ```text
//! cargo run --release -- run                     # a server, in another terminal
//! cargo run -p orrery-client --example pilot -- 127.0.0.1:7777 pilot01 'correct horse battery'
//! cargo run -p orrery-client --example pilot -- ws://127.0.0.1:7778/ pilot02 'correct horse battery'
//! ```

use std::time::Duration;

use orrery_client::orrery_proto::v1::CelestialKind;
use orrery_client::{ClientError, Event, Mirror, Pilot};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ClientError> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(name), Some(password)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: pilot ADDRESS NAME PASSWORD   (ADDRESS: host:port for TCP, ws://host:port/ for WebSocket)");
        std::process::exit(2);
    };

    let mut pilot = Pilot::start(&address, &name, &password).await?;
    println!("{} undocked", pilot.character().name);
    describe(pilot.mirror());

    let Some(gate) = pilot.mirror().gates().next().cloned() else {
        println!("no stargate here; logging out");
        return pilot.logout().await;
    };
    println!("flying to {} (to system {})", gate.name, gate.destination_system_id);
    pilot.fly_to(gate.id, Duration::from_secs(300)).await?;
    let destination = pilot.jump(gate.id).await?;
    println!("jumped");
    describe(destination);

    pilot.chat(&format!("o7 from {name}")).await?;
    // Our own line comes back in a delta, like everyone else's; print the local chat for a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Some(event) = pilot.next_event_until(deadline).await? {
        match event {
            Event::Delta(delta) => {
                for line in &delta.chat {
                    println!("local: <{}> {}", line.pilot, line.text);
                }
            }
            Event::Notice(text) => println!("notice: {text}"),
            Event::Error { code, reason, .. } => println!("refused: {code:?}: {reason}"),
            _ => {}
        }
    }
    pilot.logout().await?;
    println!("logged out");
    Ok(())
}

/// Prints the system as the mirror shows it: name, time dilation, celestials and ships with distances.
fn describe(mirror: &Mirror) {
    let tidi = if mirror.tidi_permille() < 1000 {
        format!(", time dilation {:.0} %", mirror.tidi() * 100.0)
    } else {
        String::new()
    };
    println!(
        "{} ({}), node {}, tick {}{tidi}",
        mirror.system_name(),
        mirror.system_id(),
        mirror.node_id(),
        mirror.tick()
    );
    for celestial in mirror.celestials() {
        let kind = match CelestialKind::try_from(celestial.kind) {
            Ok(CelestialKind::Star) => "star",
            Ok(CelestialKind::Planet) => "planet",
            Ok(CelestialKind::Stargate) => "stargate",
            _ => "celestial",
        };
        println!("  {kind:<9} {:<28} {}", celestial.name, km(mirror.distance_to(celestial.id)));
    }
    for ship in mirror.ships() {
        let me = if ship.ship_id == mirror.own_ship_id() { " (you)" } else { "" };
        println!("  ship      {:<28} {}{me}", ship.pilot, km(mirror.distance_to(ship.ship_id)));
    }
    for line in mirror.chat() {
        println!("  local: <{}> {}", line.pilot, line.text);
    }
}

/// A distance for people: metres, kilometres or astronomical units.
fn km(metres: Option<f64>) -> String {
    const AU: f64 = 149_597_870_700.0;
    match metres {
        None => "?".into(),
        Some(m) if m >= 0.1 * AU => format!("{:.1} AU", m / AU),
        Some(m) if m >= 10_000.0 => format!("{:.0} km", m / 1000.0),
        Some(m) => format!("{m:.0} m"),
    }
}
