//! The cluster as separate processes — `orrery coordinator`, two `orrery node`s and an `orrery proxy` — on a real
//! NATS server and a real PostgreSQL server, as docs/deployment.md runs it: a pilot keeps playing through a sol
//! node's `kill -9` (its system is restored on the other node from the store), and a node that was frozen
//! (SIGSTOP) past its lease and then thawed drops the systems it lost instead of ticking or writing them; a
//! pilot whose proxy dies resumes on the other proxy and finds its ship; the coordinator dies and play goes on,
//! and a new coordinator adopts the stored mapping and can move systems again.
//!
//! Needs ORRERY_TEST_NATS_URL and ORRERY_TEST_POSTGRES_URL (scripts/test.sh starts both servers); fails, saying
//! so, without them.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orrery_bots::Client;
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};

const LEASE_MS: &str = "1000";
const WAIT: Duration = Duration::from_secs(60);

fn service(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: this test needs the real NATS and PostgreSQL servers. Run the tests through \
             scripts/test.sh, or start them with `eval \"$(scripts/services.sh start)\"`"
        )
    })
}

/// One role process, its output in a file, killed when dropped.
struct Role {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Role {
    fn start(dir: &Path, name: &str, args: &[String]) -> Role {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args(args)
            .env("RUST_LOG", "warn,orrery=info")
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("the orrery binary starts");
        Role { name: name.into(), child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for a line containing `needle` and return it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.output().lines().find(|line| line.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before printing {needle:?}:\n{}", self.name, self.output());
            }
            assert!(Instant::now() < deadline, "{} never printed {needle:?}:\n{}", self.name, self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.name);
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text after `prefix` on `line`, up to the next space.
fn after<'a>(line: &'a str, prefix: &str) -> &'a str {
    let start = line.find(prefix).map_or_else(|| panic!("{prefix:?} in {line:?}"), |at| at + prefix.len());
    line[start..].split_whitespace().next().unwrap_or_default()
}

/// POST a JSON body to the admin API; the status code and the body.
fn post(admin: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    request(admin, "POST", path, token, body)
}

/// One request to the admin API; the status code and the body.
fn request(admin: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(admin).expect("admin API reachable");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {admin}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

/// Move `system` to `node` through the admin API; retried while the node is not yet live to the coordinator
/// (400: a node process just started, or a coordinator that has not heard it yet). The move's report.
fn move_system(admin: &str, system: u32, node: usize) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) =
            post(admin, &format!("/api/v1/systems/{system}/move"), "t0ken", &format!("{{\"node\":{node}}}"));
        if status == 200 {
            return body;
        }
        assert!(status == 400 && Instant::now() < deadline, "move refused ({status}): {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Send chat lines until one comes back in the pilot's system, and return how long that took; a Notice seen on
/// the way is returned too.
async fn until_chat_works(client: &mut Client, tag: &str) -> (Duration, Vec<String>) {
    let started = Instant::now();
    let mut notices = Vec::new();
    let mut sent = 0;
    loop {
        assert!(started.elapsed() < WAIT, "chat never worked again ({tag}); notices {notices:?}");
        let text = format!("{tag} {sent}");
        client.send(Cmd::Chat(v1::Chat { text })).await.expect("the connection stays up");
        sent += 1;
        let until = tokio::time::Instant::now() + Duration::from_millis(250);
        while let Some(envelope) = client.next_event_until(until).await.expect("the connection stays up") {
            match envelope.body {
                Some(Msg::Delta(delta)) if delta.chat.iter().any(|line| line.text.starts_with(tag)) => {
                    return (started.elapsed(), notices);
                }
                Some(Msg::Notice(notice)) => notices.push(notice.text),
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_goes_on_through_dead_nodes_a_frozen_node_a_dead_proxy_and_a_dead_coordinator() {
    let nats = service("ORRERY_TEST_NATS_URL");
    let postgres = orrery_store::create_scratch_database(&service("ORRERY_TEST_POSTGRES_URL"), "orrery_processes")
        .await
        .expect("a database of this test's own");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path").to_owned();
    // A name of this test's own: its subjects on the shared NATS server are apart from other tests'.
    let cluster = format!("processes-{}", std::process::id());
    let common: Vec<String> = [
        "--bus",
        &nats,
        "--store",
        &postgres,
        "--nodes",
        "2",
        "--generate-systems",
        "300",
        "--tick-ms",
        "100",
        "--data-dir",
        &data,
        "--argon2-memory-kib",
        "64",
        "--checkpoint-s",
        "1",
        "--cluster-name",
        &cluster,
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    // `orrery HEAD… COMMON… EXTRA…`, as process `name`.
    let role = |name: &str, head: &[&str], extra: &[&str]| {
        let args: Vec<String> = head
            .iter()
            .map(|a| (*a).to_owned())
            .chain(common.iter().cloned())
            .chain(extra.iter().map(|a| (*a).to_owned()))
            .collect();
        Role::start(dir.path(), name, &args)
    };

    let mut coordinator = role(
        "coordinator",
        &["coordinator"],
        &["--lease-ms", LEASE_MS, "--admin-listen", "127.0.0.1:0", "--admin-token", "t0ken"],
    );
    let admin_line = coordinator.wait_for("admin: http://");
    let admin = after(&admin_line, "admin: http://").split('/').next().expect("host:port").to_owned();
    let mut nodes: Vec<Role> = (0..2)
        .map(|k| role(&format!("node-{k}"), &["node", "--id", &k.to_string()], &["--lease-ms", LEASE_MS]))
        .collect();
    for node in &mut nodes {
        node.wait_for("systems, mapping epoch");
    }
    let mut proxy = role("proxy", &["proxy", "--id", "1"], &["--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0"]);
    let proxy_line = proxy.wait_for("clients tcp://");
    let addr = after(&proxy_line, "clients tcp://").to_owned();
    let mut other_proxy =
        role("proxy-2", &["proxy", "--id", "2"], &["--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0"]);
    let other_line = other_proxy.wait_for("clients tcp://");
    let other_addr = after(&other_line, "clients tcp://").to_owned();

    // A pilot in space, talking.
    let mut client = Client::connect(&addr).await.expect("connect to the proxy process");
    let token = client.register_or_login("survivor", "correct horse battery").await.expect("registered").token;
    let character = client.create_character("Survivor").await.expect("character");
    let snapshot = client.undock(character.character_id).await.expect("undocked");
    let (system, ship, home) = (snapshot.system_id, snapshot.your_ship_id, snapshot.node_id as usize);
    until_chat_works(&mut client, "before").await;

    // Once the pilot's node has stored a checkpoint (every second here), kill -9 it: the other node takes its
    // systems from the store; the pilot stays connected.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, view) = request(&admin, "GET", "/api/v1/cluster", "t0ken", "");
        let view: serde_json::Value = serde_json::from_str(&view).unwrap_or_default();
        let stored = view["nodes"].as_array().into_iter().flatten().any(|node| {
            node["node_id"].as_u64() == Some(home as u64) && node["last_checkpoint_unix_ms"].as_u64() > Some(0)
        });
        if stored {
            break;
        }
        assert!(Instant::now() < deadline, "node {home} never reported a stored checkpoint ({status}): {view}");
        std::thread::sleep(Duration::from_millis(100));
    }
    nodes[home].child.kill().expect("kill -9");
    let (recovered_after, notices) = until_chat_works(&mut client, "after-kill").await;
    println!("chat worked again {} ms after the kill -9", recovered_after.as_millis());
    assert!(notices.iter().any(|text| text.contains("restored")), "the pilot was told: {notices:?}");
    let failed_over = coordinator.wait_for("node failed over");
    // The ticks lost are counted from the dead node's last stored checkpoint (the pilot's ship was stored when
    // it undocked, so there is one).
    let lost: u64 = after(&failed_over, "ticks_lost_max=").parse().expect("ticks_lost_max is a number");
    assert!(lost >= 1, "{failed_over}");
    // The admin API shows the living node only, with every system (once it has hosted them all).
    let nodes_shown = || {
        let (status, view) = request(&admin, "GET", "/api/v1/cluster", "t0ken", "");
        assert_eq!(status, 200, "{view}");
        let view: serde_json::Value = serde_json::from_str(&view).expect("JSON");
        let nodes = view["nodes"].as_array().cloned().unwrap_or_default();
        nodes.iter().map(|n| (n["node_id"].as_u64().unwrap_or(99), n["systems"].as_u64().unwrap_or(0))).collect()
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let shown: Vec<(u64, u64)> = nodes_shown();
        if shown == vec![((1 - home) as u64, 300)] {
            break;
        }
        assert!(Instant::now() < deadline, "the dead node is still shown, or systems missing: {shown:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let store = orrery_store::open(&postgres).await.expect("store");
    let mapping = store.load_mapping().await.expect("store").expect("mapping");
    let other = 1 - home;
    assert!(mapping.assignments.iter().all(|&(_, node)| node as usize == other), "every system is on the survivor");
    let in_space: Vec<_> = store.ships_in_space().await.expect("store");
    assert_eq!(in_space.iter().map(|row| (row.ship_id, row.system_id)).collect::<Vec<_>>(), vec![(ship, system)]);
    let restored_seq = in_space[0].handoff_seq;
    assert!(restored_seq >= 1, "the restore wrote the ship back one handoff later");

    // The node comes back empty, takes the system by a live move, and is then frozen past its lease.
    nodes[home] = role(&format!("node-{home}-again"), &["node", "--id", &home.to_string()], &["--lease-ms", LEASE_MS]);
    nodes[home].wait_for("0 systems, mapping epoch");
    let moved = move_system(&admin, system, home);
    assert!(moved.contains(&format!("\"to_node\":{home}")), "{moved}");
    until_chat_works(&mut client, "after-move").await;
    nodes[home].signal("-STOP");
    coordinator.wait_for(&format!("node lease expired: failing its systems over node={home}"));
    let (_, notices) = until_chat_works(&mut client, "after-freeze").await;
    assert!(notices.iter().any(|text| text.contains("restored")), "told again: {notices:?}");
    nodes[home].signal("-CONT");
    nodes[home].wait_for("given to another node meanwhile");
    // The thawed node neither ticks nor writes the system: the ship stays where the survivor has it.
    until_chat_works(&mut client, "after-thaw").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = store.ship(ship).await.expect("store").expect("ship row");
    assert_eq!((row.system_id, row.in_space), (system, true));
    assert!(row.handoff_seq > restored_seq, "the second restore fenced the frozen node's writes");
    let mapping = store.load_mapping().await.expect("store").expect("mapping");
    let owner = mapping.assignments.iter().find(|&&(s, _)| s == system).map(|&(_, node)| node as usize);
    assert_eq!(owner, Some(other));

    // The proxy dies: the pilot resumes on the other proxy and flies the same ship in the same system.
    drop(proxy);
    let mut client = Client::connect(&other_addr).await.expect("connect to the other proxy");
    client.resume(&token).await.expect("resumed with the token");
    let snapshot = client.undock(character.character_id).await.expect("back in space");
    assert_eq!((snapshot.your_ship_id, snapshot.system_id), (ship, system), "the same ship, where it was");
    until_chat_works(&mut client, "after-proxy-death").await;

    // The coordinator dies: play goes on without it (nodes and proxies keep the mapping they have).
    let epoch = store.load_mapping().await.expect("store").expect("mapping").epoch;
    drop(coordinator);
    until_chat_works(&mut client, "no-coordinator").await;
    // A new one adopts the stored mapping (same epoch), hears the nodes, and can move systems again.
    let mut coordinator = role(
        "coordinator-again",
        &["coordinator"],
        &["--lease-ms", LEASE_MS, "--admin-listen", "127.0.0.1:0", "--admin-token", "t0ken"],
    );
    let line = coordinator.wait_for("mapping epoch");
    assert!(line.ends_with(&format!("mapping epoch {epoch}")), "the stored mapping adopted: {line}");
    let admin_line = coordinator.wait_for("admin: http://");
    let admin = after(&admin_line, "admin: http://").split('/').next().expect("host:port").to_owned();
    let moved = move_system(&admin, system, home);
    assert!(moved.contains(&format!("\"epoch\":{}", epoch + 1)), "{moved}");
    until_chat_works(&mut client, "after-new-coordinator").await;
    drop(client);
    drop(other_proxy);
}
