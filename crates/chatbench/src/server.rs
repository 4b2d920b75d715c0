//! The server side of the race: names that start in one orrery system, starting and stopping `orrery run`,
//! and a server's CPU time and memory from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use orrery_universe::{GeneratorConfig, generate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ChatArgs;

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
pub const CLK_TCK: f64 = 100.0;

/// utime + stime of a process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After "pid (comm) ": field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Resident set size, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")?.split_whitespace().next()?.parse().ok()
}

/// The CPUs a process may run on (`taskset`), e.g. "0".
pub fn cpus_allowed(pid: u32) -> Option<String> {
    status_field(pid, "Cpus_allowed_list:").map(|s| s.trim().to_string())
}

fn status_field(pid: u32, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(key).map(str::to_string))
}

/// The login names of a run and, unless idle, the one system all their characters start in.
pub struct OrreryNames {
    pub names: Vec<String>,
    pub system: Option<u32>,
}

/// Picks `clients` names whose new characters all start in the same system. New characters are spread over
/// the high-security systems by a hash of the name (`World::starting_system`), so the names are filtered with
/// the very same `World` over the same generated universe as the server's.
pub fn orrery_names(args: &ChatArgs, tag: u32, clients: usize, idle: bool) -> anyhow::Result<OrreryNames> {
    let name = |i: usize| format!("cr{tag}x{i}");
    if idle {
        return Ok(OrreryNames { names: (0..clients).map(name).collect(), system: None });
    }
    let universe = generate(&GeneratorConfig { systems: args.generate_systems, seed: args.seed });
    let world = orrery_cluster::proxy_world(&universe).context("the universe has no starting system")?;
    let system = world.starting_system(&name(0));
    let names: Vec<String> =
        (0..clients * 10_000).map(name).filter(|n| world.starting_system(n) == system).take(clients).collect();
    if names.len() < clients {
        bail!("found only {} names starting in system {system}", names.len());
    }
    Ok(OrreryNames { names, system: Some(system) })
}

/// An `orrery run` started by the bench.
pub struct OrreryServer {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl OrreryServer {
    /// Starts `orrery run` with a small universe on 127.0.0.1:0 ports and a fresh data directory; raises the
    /// player cap through the admin API when `clients` exceed the default 1,000.
    pub async fn start(args: &ChatArgs, chat_system: Option<u32>, clients: usize) -> anyhow::Result<OrreryServer> {
        let dir =
            std::env::temp_dir().join(format!("orrery-chatbench-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir)?;
        let token: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let orrery_bin = args.orrery_bin.clone().unwrap_or_else(|| PathBuf::from("target/release/orrery"));
        let mut command = match args.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&orrery_bin);
                c
            }
            None => Command::new(&orrery_bin),
        };
        command
            .arg("run")
            .args(["--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(["--admin-token", &token])
            .arg("--data-dir")
            .arg(&dir)
            .args(["--generate-systems", &args.generate_systems.to_string(), "--seed", &args.seed.to_string()])
            .args(["--nodes", "1", "--argon2-memory-kib", "64", "--rate-limit", "1000", "--idle-timeout", "3600"]);
        if let Some(system) = chat_system {
            command.args(["--system-tick", &format!("{system}={}", args.tick_ms)]);
        }
        let log = std::fs::File::create(dir.join("orrery.log"))?;
        println!("starting: {command:?}");
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::from(log)).spawn().with_context(|| {
            format!("starting {} (build it: cargo build --release -p orrery)", orrery_bin.display())
        })?;
        let pid = child.id();
        let stdout = child.stdout.take().context("stdout")?;
        let (found_tx, found_rx) = std::sync::mpsc::channel::<(String, String)>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("clients: tcp://") {
                    let _ = found_tx.send(("clients".into(), rest.split_whitespace().next().unwrap_or("").into()));
                } else if let Some(rest) = line.strip_prefix("admin: ") {
                    let _ = found_tx.send(("admin".into(), rest.trim().into()));
                }
            }
        });
        let mut server = OrreryServer { child, pid, addr: "127.0.0.1:0".parse()?, dir };
        let mut admin = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        // Blocking waits are fine here: nothing else runs on the runtime yet.
        while admin.is_none() || server.addr.port() == 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok((key, value)) = found_rx.recv_timeout(left.max(Duration::from_millis(1))) else {
                let log = std::fs::read_to_string(server.dir.join("orrery.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
                server.stop().await;
                bail!("orrery exited or did not print its addresses within 120 s; its log ends:\n{}", tail.join("\n"));
            };
            match key.as_str() {
                "clients" => server.addr = value.parse().context("clients address")?,
                _ => admin = Some(value),
            }
        }
        if clients > 1000 {
            let url = admin.unwrap_or_default();
            let host = url.trim_start_matches("http://").split('/').next().unwrap_or("").to_string();
            let admin_addr: SocketAddr = host.parse().with_context(|| format!("admin address in {url}"))?;
            put_setting(admin_addr, &token, "system.max_players", &(clients * 2).to_string()).await?;
            // Settings are applied within one poll (500 ms).
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        Ok(server)
    }

    /// SIGTERM, up to 15 s for a clean stop, then SIGKILL; removes the data directory.
    pub async fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        wait_or_kill(&mut self.child, Duration::from_secs(15)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `PUT /api/v1/settings/{key}` with a bearer token, over a plain HTTP/1.1 connection.
async fn put_setting(admin: SocketAddr, token: &str, key: &str, value: &str) -> anyhow::Result<()> {
    let body = format!("{{\"value\": {value}}}");
    let request = format!(
        "PUT /api/v1/settings/{key} HTTP/1.1\r\nHost: {admin}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(admin).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    if !answer.starts_with("HTTP/1.1 200") {
        bail!("setting {key}={value} refused: {}", answer.lines().next().unwrap_or(""));
    }
    println!("orrery: {key} = {value} (admin API)");
    Ok(())
}

/// The blaster ([`crate::fake`]) as a child process: this same binary with `--fake-server KIND`.
pub struct FakeServer {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl FakeServer {
    /// Starts `<current exe> <invocation…> --fake-server KIND --tick-ms MS`, pinned with `taskset` to
    /// `--server-cpu` if given, and waits (at most 30 s) for its `clients: tcp://ADDR` line. `invocation` is the
    /// subcommand path that reaches the chat bench in this binary (`["bench", "chat"]` in `orrery`).
    pub fn start(args: &ChatArgs, kind: crate::fake::FakeKind, invocation: &[&str]) -> anyhow::Result<FakeServer> {
        let exe = std::env::current_exe().context("locating this binary to start the fake server")?;
        let mut command = match args.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let kind_arg = match kind {
            crate::fake::FakeKind::Orrery => "orrery",
            crate::fake::FakeKind::Irc => "irc",
        };
        command.args(invocation).args(["--fake-server", kind_arg, "--tick-ms", &args.tick_ms.to_string()]);
        println!("starting: {command:?}");
        // stdin stays a pipe held by us: the fake server exits when we do.
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the fake server {}", exe.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("stdout")?;
        let (found_tx, found_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("clients: tcp://") {
                    let _ = found_tx.send(rest.trim().to_string());
                }
            }
        });
        let addr = match found_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr.parse().with_context(|| format!("fake server address {addr:?}"))?,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the fake server did not print its address within 30 s");
            }
        };
        Ok(FakeServer { child, pid, addr })
    }

    /// Closes its stdin (it exits by itself), then SIGKILL after 5 s.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        wait_or_kill(&mut self.child, Duration::from_secs(5)).await;
    }
}

/// Give a child that was asked to stop up to `grace` to exit, then SIGKILL it; reaps it either way.
async fn wait_or_kill(child: &mut Child, grace: Duration) {
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}
