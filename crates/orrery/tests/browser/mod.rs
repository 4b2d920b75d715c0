//! A real browser for the tests that look at a page as a person would: Debian's headless Chromium, driven over
//! WebDriver by its `chromedriver` (packages `chromium` and `chromium-driver`) through `fantoccini`.
//!
//! `scripts/test.sh` installs both. Without them a test that uses this harness fails and says how to get them:
//! it never skips. Everything is bounded in time, and the chromedriver process group (chromedriver and the
//! Chromium it started) is ended when the [`Browser`] is dropped, also when the test panics.

// Shared by several test binaries, each of which uses a part of it.
#![allow(dead_code)]

pub mod orrery_run;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The window every page is seen in (and so the size of a screenshot).
const WINDOW: &str = "--window-size=1400,900";

/// How long one WebDriver step may take on a busy 2-core machine before the test gives up.
const STEP: Duration = Duration::from_secs(30);

/// A headless Chromium session and the chromedriver serving it.
pub struct Browser {
    client: Client,
    // Dropped after `client`: ends chromedriver and its Chromium.
    _driver: ProcessGroup,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session. Panics, naming the fix, when
    /// Chromium or chromedriver is not installed.
    pub async fn start() -> Browser {
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
        let chromedriver = find_program(&["chromedriver"]);
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            panic!(
                "this test drives a real browser and needs `chromium` and `chromedriver` on PATH: run \
                 scripts/test.sh (as root it installs Debian's chromium and chromium-driver), or \
                 `apt-get install chromium chromium-driver`"
            );
        };

        let log = std::env::temp_dir().join(format!("orrery-chromedriver-{}-{}.log", std::process::id(), nanos()));
        let mut command = Command::new(&chromedriver);
        command
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("{} does not start: {e}", chromedriver.display()));
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let driver = ProcessGroup { child, name: "chromedriver", log: log.clone() };

        // chromedriver picks the port itself (`--port=0`) and prints it: no race for a free port.
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = port_tx.send(rest.trim_end_matches('.').trim().to_owned());
                }
            }
        });
        let port = tokio::task::spawn_blocking(move || port_rx.recv_timeout(STEP))
            .await
            .expect("the port reader")
            .unwrap_or_else(|_| {
                panic!("chromedriver did not report its port within {STEP:?}; its log: {}", tail(&log))
            });

        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", WINDOW],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = match tokio::time::timeout(STEP, builder.connect(&webdriver)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("Chromium does not start under chromedriver: {e}; chromedriver's log: {}", tail(&log)),
            Err(_) => panic!("Chromium did not start within {STEP:?}; chromedriver's log: {}", tail(&log)),
        };
        Browser { client, _driver: driver }
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        step(&format!("open {url}"), self.client.goto(url)).await;
    }

    /// The visible text of the first element matching `css`, or `None` if there is none.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = step(&format!("find {css}"), self.client.find_all(Locator::Css(css))).await.into_iter().next()?;
        // The element can be replaced between finding and reading it (the page re-renders): as good as absent.
        element.text().await.ok()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        step(&format!("find {css}"), self.client.find_all(Locator::Css(css))).await.len()
    }

    /// Replaces the value of the input matching `css` by `text`, typed key by key as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = step(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        step(&format!("clear {css}"), element.clear()).await;
        step(&format!("type into {css}"), element.send_keys(text)).await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = step(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        step(&format!("click {css}"), element.click()).await;
    }

    /// Moves the mouse onto the centre of the first element matching `css` (scrolled into view), as a
    /// person pointing at it.
    pub async fn hover(&self, css: &str) {
        let element = step(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        let script = "arguments[0].scrollIntoView({block: 'center'});";
        step(&format!("scroll to {css}"), self.client.execute(script, vec![serde_json::to_value(&element).unwrap()]))
            .await;
        let pointer = MouseActions::new("mouse".to_owned()).then(PointerAction::MoveToElement {
            element,
            duration: Some(Duration::from_millis(100)),
            x: 0.0,
            y: 0.0,
        });
        step(&format!("point at {css}"), self.client.perform_actions(pointer)).await;
    }

    /// Whether the element matching `css` (a button, an input) is enabled.
    pub async fn is_enabled(&self, css: &str) -> bool {
        let element = step(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        step(&format!("read whether {css} is enabled"), element.is_enabled()).await
    }

    /// Runs `script` (the body of a function) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> serde_json::Value {
        step("run a script in the page", self.client.execute(script, Vec::new())).await
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        step("take a screenshot", self.client.screenshot()).await
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let Browser { client, _driver } = self;
        let _ = tokio::time::timeout(STEP, client.close()).await;
    }
}

/// Waits, polling every 100 ms, until `probe` answers `Ok`, and returns that; panics after `timeout` with the
/// last answer, which says what was seen instead.
pub async fn eventually<T>(what: &str, timeout: Duration, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => panic!("waited {timeout:?} for {what}; last seen: {seen}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Serves `html` at every path of a local HTTP server and returns its base URL (`http://127.0.0.1:PORT/`).
/// The server lives as long as the runtime.
pub async fn serve_page(html: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request head (bounded), then answer with the page and close.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                     Cache-Control: no-store\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

/// One WebDriver step, bounded in time; panics naming the step when it fails.
async fn step<T, E: std::fmt::Display>(what: &str, future: impl Future<Output = Result<T, E>>) -> T {
    match tokio::time::timeout(STEP, future).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("browser: could not {what}: {e}"),
        Err(_) => panic!("browser: could not {what} within {STEP:?}"),
    }
}

/// A child that leads its own process group; dropping it ends the whole group (SIGTERM, then SIGKILL).
struct ProcessGroup {
    child: Child,
    name: &'static str,
    /// Its log file, removed with it (a failure has already quoted it).
    log: PathBuf,
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever of the group is left (Chromium's helpers, a chromedriver that ignored SIGTERM).
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        if self.child.try_wait().ok().flatten().is_none() {
            eprintln!("{} (pid {}) did not stop; killed", self.name, self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name))).find(|candidate| {
        std::fs::metadata(candidate)
            .is_ok_and(|m| m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
    })
}

/// The last lines of a log file, for a failure message.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}
