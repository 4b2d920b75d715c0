//! The real `orrery run` for the browser tests: on free ports (TCP, WebSocket and admin), with the addresses it
//! prints read back, and SIGTERMed when dropped (also when the test fails).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `orrery run`.
pub struct OrreryRun {
    child: Child,
    /// The admin line: `http://127.0.0.1:PORT/#token=TOKEN`.
    pub admin_url: String,
    /// The WebSocket transport: `ws://127.0.0.1:PORT/`.
    pub ws_url: String,
    stderr: PathBuf,
}

impl OrreryRun {
    /// Starts `orrery run` in `data_dir` listening on free loopback ports, with `universe` (e.g.
    /// `--generate-systems 200`) and `admin` arguments (e.g. `--admin-token`), and waits until it prints where
    /// its clients and its admin server connect.
    pub fn start(data_dir: &Path, universe: &[&str], admin: &[&str]) -> OrreryRun {
        let stderr = data_dir.join("orrery-run.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args(["run", "--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(universe)
            .args(["--argon2-memory-kib", "64", "--admin-listen", "127.0.0.1:0"])
            .args(admin)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("a file for orrery's stderr"))
            .spawn()
            .expect("orrery run starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, printed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut run = OrreryRun { child, admin_url: String::new(), ws_url: String::new(), stderr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.admin_url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match printed.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("admin: ") {
                        run.admin_url = url.trim().to_owned();
                    } else if let Some(clients) = line.strip_prefix("clients: ") {
                        // `clients: tcp://ADDR  ws://ADDR`
                        if let Some(ws) = clients.split_whitespace().find(|part| part.starts_with("ws://")) {
                            run.ws_url = format!("{ws}/");
                        }
                    }
                }
                Err(_) => panic!(
                    "orrery run printed no `admin: http://…` line within 60 s (or exited); its stderr:\n{}",
                    std::fs::read_to_string(&run.stderr).unwrap_or_default()
                ),
            }
        }
        assert!(run.admin_url.starts_with("http://127.0.0.1:"), "admin line: {:?}", run.admin_url);
        assert!(run.ws_url.starts_with("ws://127.0.0.1:"), "no `clients: … ws://…` line before the admin line");
        run
    }

    /// `127.0.0.1:PORT` of the admin server.
    pub fn admin_addr(&self) -> String {
        let rest = self.admin_url.strip_prefix("http://").expect("http URL");
        rest.split(['/', '#']).next().expect("host:port").to_owned()
    }
}

impl Drop for OrreryRun {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("orrery run (pid {pid}) did not stop within 30 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
