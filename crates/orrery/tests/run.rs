//! `orrery run` as a newcomer starts it: the real binary, real sockets, a SIGTERM, and a restart on the same
//! data directory that brings the character back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use orrery_bots::Client;

struct Server {
    child: Child,
    addr: String,
    /// The admin API's address and token, from the `admin: http://ADDR/#token=TOKEN` line.
    admin: (String, String),
    output: std::sync::mpsc::Receiver<String>,
}

fn start(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--ws-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(["--generate-systems", "200", "--nodes", "2", "--tick-ms", "100", "--argon2-memory-kib", "64"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("orrery run starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut addr = None;
    let admin = loop {
        let line = output.recv_timeout(Duration::from_secs(60)).expect("orrery run prints its addresses");
        if let Some(rest) = line.strip_prefix("clients: tcp://") {
            addr = Some(rest.split_whitespace().next().expect("address").to_owned());
        }
        if let Some(rest) = line.strip_prefix("admin: http://") {
            let (host, token) = rest.split_once("/#token=").expect("admin url with token");
            break (host.to_owned(), token.to_owned());
        }
    };
    Server { child, addr: addr.expect("clients line before the admin line"), admin, output }
}

impl Server {
    /// SIGTERM, then the exit status and everything printed after it.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "orrery run did not stop within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.output.try_iter().collect())
    }
}

/// One HTTP/1.1 request (Connection: close); returns the status and the body.
async fn http(server: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, token) = &server.admin;
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("admin connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_level_changes_at_runtime_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, body) = http(&server, "PUT", "/api/v1/log-level", r#"{"filter": "warn,orrery=debug"}"#).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&server, "GET", "/api/v1/log-level", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("warn,orrery=debug"), "{body}");
    let (status, body) = http(&server, "PUT", "/api/v1/log-level", r#"{"filter": "orrery=loud"}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("filter"), "{body}");
    let (status, _) = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stores_everyone_exits_zero_and_a_restart_brings_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut client = Client::connect(&server.addr).await.expect("connect");
    client.register_or_login("newcomer", "correct horse battery").await.expect("register");
    let character = client.create_character("New Comer").await.expect("character");
    let snapshot = client.undock(character.character_id).await.expect("undock");
    assert_eq!(snapshot.your_ship_id, character.ship_id);

    let (status, printed) = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(printed.iter().any(|line| line.contains("stopped cleanly")), "{printed:?}");

    let server = start(dir.path());
    let mut client = Client::connect(&server.addr).await.expect("reconnect");
    let session = client.login("newcomer", "correct horse battery").await.expect("login after restart");
    let back = session.characters.first().expect("the character survived");
    assert_eq!(back.system_id, snapshot.system_id);
    assert!(!back.in_space, "stored out of space at shutdown");
    let again = client.undock(back.character_id).await.expect("undock after restart");
    assert_eq!(again.system_id, snapshot.system_id);
    let (status, _) = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success());
}

/// `orrery run` against a bus or store nobody serves: one line on stderr naming which service and where, exit
/// non-zero, and nothing left running.
#[test]
fn an_unreachable_nats_or_postgres_is_named_in_one_line_and_the_exit_is_non_zero() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            vec!["--bus".to_owned(), format!("nats://127.0.0.1:{port}")],
            format!("NATS server at nats://127.0.0.1:{port}"),
        ),
        (
            vec!["--store".to_owned(), format!("postgres://orrery:s3cret@127.0.0.1:{port}/orrery")],
            format!("PostgreSQL server at postgres://orrery:***@127.0.0.1:{port}/orrery"),
        ),
    ];
    for (args, names) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args(["run", "--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--generate-systems", "50", "--nodes", "1"])
            .args(&args)
            .env("RUST_LOG", "off")
            .output()
            .expect("orrery run runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: exit {:?}", output.status);
        let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr}");
        assert!(lines[0].starts_with("error: ") && lines[0].contains(&names), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "the password stays out of the message: {stderr}");
    }
}
