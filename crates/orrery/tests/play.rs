//! The browser pilot client (`/play`) as players see it: the real `orrery run`, two real headless Chromium
//! sessions (see `browser/mod.rs`) that register, undock into the same system, see each other's ship, chat,
//! with each other and with a Rust pilot (orrery-client), and one flies to a stargate and jumps while the other
//! sees it leave; then a dropped WebSocket is resumed and the page shows the same ship again.
//!
//! Needs `chromium` and `chromedriver` (scripts/test.sh installs them); without them it fails and says so.
//! `ORRERY_UPDATE_SCREENSHOTS=1` writes the screenshot to docs/play.png; otherwise it goes to a temporary file.

mod browser;

use std::path::PathBuf;
use std::time::Duration;

use browser::orrery_run::OrreryRun;
use browser::{Browser, eventually};
use orrery_client::orrery_proto::v1::create_character::StartSystem;
use orrery_client::{Pilot, PilotOptions};

const PASSWORD: &str = "correct horse battery";
const TOKEN: &str = "play-test-token-2b7e";
const MOTD: &str = "Welcome to orrery: fly safe";
const WAIT: Duration = Duration::from_secs(30);

/// The own ship and the system as the page's session holds them.
const STATE: &str = "const s = window.orreryPlay.session();
    if (!s || !s.mirror) return null;
    const m = s.mirror;
    return { system: m.systemId, own: String(m.ownShipId), reconnects: s.reconnects,
             ships: [...m.ships.values()].map(x => x.pilot), chat: m.chat.map(l => `<${l.pilot}> ${l.text}`) };";

/// Logs in on the play page: a new pilot, starting in `start` if given.
async fn log_in(browser: &Browser, url: &str, name: &str, start: Option<u32>) {
    browser.goto(url).await;
    browser.type_into("#username", name).await;
    browser.type_into("#password", PASSWORD).await;
    if let Some(system) = start {
        browser.type_into("#start-system", &system.to_string()).await;
    }
    browser.click("#login-button").await;
    eventually(&format!("{name} in space"), WAIT, async || {
        let state = browser.execute(STATE).await;
        if state.is_null() { Err(browser.text("#status").await.unwrap_or_default()) } else { Ok(()) }
    })
    .await;
}

async fn state(browser: &Browser) -> serde_json::Value {
    browser.execute(STATE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pilots_meet_chat_and_one_jumps_and_resumes_after_a_dropped_connection() {
    let data = tempfile::tempdir().unwrap();
    let run = OrreryRun::start(
        data.path(),
        &["--generate-systems", "120", "--nodes", "2", "--tick-ms", "200"],
        &["--admin-token", TOKEN],
    );
    let play = format!("http://{}/play?ws={}", run.admin_addr(), run.ws_url);

    let alice = Browser::start().await;
    log_in(&alice, &play, "alice_web", None).await;
    let system = state(&alice).await["system"].as_u64().expect("a system id") as u32;
    assert!(alice.text("#system-name").await.unwrap_or_default().contains(&system.to_string()));
    assert!(alice.count("#celestial-list button[data-kind=star]").await >= 1, "the star is listed");

    // The message of the day reaches the next pilot to log in, in the notice banner.
    put_setting(&run.admin_addr(), "motd", MOTD).await;
    let bob = Browser::start().await;
    log_in(&bob, &play, "bob_web", Some(system)).await;
    eventually("the message of the day in bob's banner", WAIT, async || {
        let banner = bob.text("#notice").await.unwrap_or_default();
        if banner.contains(MOTD) { Ok(()) } else { Err(banner) }
    })
    .await;
    assert_eq!(state(&bob).await["system"].as_u64(), Some(u64::from(system)), "bob starts where alice is");

    // Each sees the other's ship, in the list and on the map's data.
    for (who, other) in [(&alice, "bob_web"), (&bob, "alice_web")] {
        eventually(&format!("{other}'s ship"), WAIT, async || {
            let n = who.count(&format!("#ship-list li[data-pilot={other}]")).await;
            if n == 1 { Ok(()) } else { Err(format!("{:?}", state(who).await["ships"])) }
        })
        .await;
    }

    // A Rust pilot (orrery-client, over WebSocket) joins them and says hello; the browsers read it.
    let options = PilotOptions { start_system: Some(StartSystem::StartSystemId(system)), ..PilotOptions::default() };
    let mut carol = Pilot::start_with(&run.ws_url, "carol_bot", PASSWORD, options).await.expect("the Rust pilot");
    assert_eq!(carol.mirror().system_id(), system);
    carol.chat("hello from rust").await.expect("chat");
    for browser in [&alice, &bob] {
        eventually("the Rust pilot's line in a browser", WAIT, async || {
            let log = browser.text("#chat-log").await.unwrap_or_default();
            if log.contains("<carol_bot> hello from rust") { Ok(()) } else { Err(log) }
        })
        .await;
    }

    // Bob chats; Alice reads it in local, and so does the Rust pilot.
    bob.type_into("#chat-input", "o7 alice").await;
    bob.click("#chat-send").await;
    eventually("bob's line in alice's local chat", WAIT, async || {
        let log = alice.text("#chat-log").await.unwrap_or_default();
        if log.contains("<bob_web> o7 alice") { Ok(()) } else { Err(log) }
    })
    .await;

    carol
        .wait_until(WAIT, |mirror| mirror.chat().any(|line| line.pilot == "bob_web" && line.text == "o7 alice"))
        .await
        .expect("the Rust pilot hears bob");
    assert!(carol.mirror().ships().any(|ship| ship.pilot == "alice_web"), "the Rust pilot sees alice");
    carol.logout().await.expect("the Rust pilot logs out");

    save_screenshot(&alice.screenshot().await);

    // Alice warps to a stargate and jumps; Bob sees her leave.
    alice.click("#celestial-list button[data-kind=stargate]").await;
    let gate = alice.execute("return String(window.orreryPlay.session().selected)").await;
    let destination = alice
        .execute(&format!(
            "return window.orreryPlay.session().mirror.celestials.get({}n).destinationSystemId",
            gate.as_str().expect("a gate id")
        ))
        .await
        .as_u64()
        .expect("the gate's destination");
    if alice.is_enabled("#warp").await {
        alice.click("#warp").await;
    } else {
        alice.click("#approach").await;
    }
    eventually("alice within jump range", Duration::from_secs(120), async || {
        if alice.is_enabled("#jump").await { Ok(()) } else { Err(alice.text("#selected").await.unwrap_or_default()) }
    })
    .await;
    alice.click("#jump").await;
    eventually("alice in the destination", WAIT, async || {
        let now = state(&alice).await;
        let status = alice.text("#status").await.unwrap_or_default();
        if now["system"].as_u64() == Some(destination) { Ok(()) } else { Err(format!("{now} status {status:?}")) }
    })
    .await;
    eventually("bob sees alice leave", WAIT, async || {
        let n = bob.count("#ship-list li[data-pilot=alice_web]").await;
        if n == 0 { Ok(()) } else { Err(format!("{:?}", state(&bob).await["ships"])) }
    })
    .await;

    // A dropped WebSocket: the page resumes the session and shows the same ship.
    let before = state(&bob).await;
    bob.execute("window.orreryPlay.dropConnection(); return null;").await;
    eventually("bob's page back after the dropped connection", WAIT, async || {
        let now = state(&bob).await;
        if now["reconnects"].as_u64() == Some(1) { Ok(now) } else { Err(now.to_string()) }
    })
    .await;
    let after = state(&bob).await;
    assert_eq!(after["own"], before["own"], "the same ship");
    assert_eq!(after["system"], before["system"]);
    assert!(bob.text("#status").await.unwrap_or_default().contains("reconnected"));
    assert_eq!(bob.count("#ship-list li[data-pilot=bob_web]").await, 1, "the own ship is listed again");
    assert_eq!(alice.count("#status.error").await, 0, "{:?}", alice.text("#status").await);

    alice.close().await;
    bob.close().await;
}

/// `PUT /api/v1/settings/{key}` on the admin API, as an operator would; panics unless it answers 200.
async fn put_setting(admin: &str, key: &str, value: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({ "value": value }).to_string();
    let request = format!(
        "PUT /api/v1/settings/{key} HTTP/1.1\r\nHost: {admin}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(admin).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(WAIT, exchange).await.expect("an answer in time").expect("HTTP exchange");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "PUT /api/v1/settings/{key}: {response}");
}

fn save_screenshot(png: &[u8]) {
    let path = if std::env::var_os("ORRERY_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/play.png")
    } else {
        std::env::temp_dir().join(format!("orrery-play-{}.png", std::process::id()))
    };
    std::fs::write(&path, png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
}
