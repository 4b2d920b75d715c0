//! The operators' dashboard as an operator sees it: the real `orrery run` with its admin server, opened in a
//! real headless Chromium (see `browser/mod.rs`), checked against the admin API it is drawn from.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium`, `chromium-driver`; scripts/test.sh installs
//! them): without them these tests fail and say so. `ORRERY_UPDATE_SCREENSHOTS=1` writes the screenshot of the
//! live dashboard to docs/dashboard-live.png; otherwise it goes to a temporary file.

mod browser;

use std::path::Path;
use std::time::Duration;

use browser::orrery_run::OrreryRun;
use browser::{Browser, eventually};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLUSTER_NAME: &str = "orrery-browser-test";
const TOKEN: &str = "browser-test-token-5f1c";
const NODES: usize = 2;

/// The text of `#tooltip` when it is shown, else null.
const VISIBLE_TOOLTIP: &str = "const t = document.getElementById('tooltip');
    if (!t || t.getClientRects().length === 0) return null;
    const style = getComputedStyle(t);
    if (style.visibility === 'hidden' || style.opacity === '0') return null;
    return t.textContent.trim();";

/// The errors the page shows: the text of every visible element of class `error` that says something.
const VISIBLE_ERRORS: &str = "return Array.from(document.querySelectorAll('.error'))
    .filter(e => e.getClientRects().length > 0 && e.textContent.trim() !== '')
    .map(e => e.textContent.trim());";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_live_cluster_saves_settings_and_guards_shutdown() {
    let browser = Browser::start().await;
    let data = tempfile::tempdir().unwrap();
    let cluster = OrreryRun::start(
        data.path(),
        &["--generate-systems", "200", "--nodes", &NODES.to_string(), "--tick-ms", "100"],
        &["--admin-token", TOKEN, "--cluster-name", CLUSTER_NAME],
    );
    assert!(
        cluster.admin_url.ends_with(&format!("/#token={TOKEN}")),
        "the admin line should be `admin: http://127.0.0.1:PORT/#token=TOKEN`, not {:?}",
        cluster.admin_url
    );
    let api = Api { addr: cluster.admin_addr() };

    // The API: token required, the cluster as started.
    let (status, _) = api.request("/api/v1/cluster", None).await;
    assert!(status == 401 || status == 403, "GET /api/v1/cluster without the token answered {status}");
    let info = api.get("/api/v1/cluster").await;
    assert_eq!(info["cluster_name"], CLUSTER_NAME, "{info}");
    // The nodes' health reaches the coordinator on the bus, so a node is listed once its first report arrived.
    eventually("every node's first report in /api/v1/cluster", Duration::from_secs(30), async || {
        let info = api.get("/api/v1/cluster").await;
        let api_nodes = info["nodes"].as_array().map_or(0, Vec::len);
        if api_nodes == NODES { Ok(()) } else { Err(format!("{api_nodes} nodes: {info}")) }
    })
    .await;
    let universe = api.get("/api/v1/universe").await;
    let systems = universe["systems"].as_array().map_or(0, Vec::len);
    assert!(systems > 0, "no systems in /api/v1/universe: {universe}");

    // The page: name, one bar per node, one circle per system, a time of last update.
    browser.goto(&cluster.admin_url).await;
    eventually("the dashboard to draw the cluster", Duration::from_secs(20), async || {
        let name = browser.text("#cluster-name").await;
        let bars = browser.count("#nodes .node-bar[data-node]").await;
        let circles = browser.count("#map circle[data-system]").await;
        let updated = browser.text("#last-update").await.unwrap_or_default();
        let seen = format!(
            "#cluster-name {name:?}, {bars} node bars (want {NODES}), {circles} map circles (want {systems}), \
             #last-update {updated:?}, errors {}",
            browser.execute(VISIBLE_ERRORS).await
        );
        let drawn =
            name.as_deref() == Some(CLUSTER_NAME) && bars == NODES && circles == systems && !updated.trim().is_empty();
        if drawn { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(visible_errors(&browser).await, Vec::<String>::new(), "errors on a freshly loaded dashboard");

    // The economy: the API's figures, and the panel with the NPC price chart.
    let economy = api.get("/api/v1/economy").await;
    assert_eq!(economy["conservation"]["ok"], true, "{economy}");
    assert!(economy["npc_desks"].as_array().is_some_and(|d| !d.is_empty()), "NPC desks at the hubs: {economy}");
    eventually("the economy panel with its NPC price chart", Duration::from_secs(20), async || {
        let badge = browser.text("#economy-conservation").await.unwrap_or_default();
        let points = browser.execute("return document.getElementById('economy-buy').getAttribute('points')").await;
        let points = points.as_str().unwrap_or("").to_owned();
        if badge == "conserved" && !points.is_empty() {
            Ok(())
        } else {
            Err(format!("#economy-conservation {badge:?}, #economy-buy points {points:?}"))
        }
    })
    .await;

    // Pointing at a system tells about it.
    browser.hover("#map circle[data-system]").await;
    eventually("#tooltip to describe the system under the mouse", Duration::from_secs(5), async || {
        let shown = browser.execute(VISIBLE_TOOLTIP).await;
        match shown.as_str() {
            Some(text) if !text.is_empty() => Ok(()),
            _ => Err(format!("#tooltip: {shown}")),
        }
    })
    .await;

    // A setting changed in the page reaches the cluster.
    let motd = format!("Fly safe: set from the browser test {}", std::process::id());
    browser.type_into(r#"input[data-key="motd"]"#, &motd).await;
    browser.click(r#"button[data-save="motd"]"#).await;
    eventually("the cluster to take the new motd", Duration::from_secs(10), async || {
        let value = setting(&api, "motd").await;
        if value == motd { Ok(()) } else { Err(format!("motd is {value:?}")) }
    })
    .await;
    assert_eq!(visible_errors(&browser).await, Vec::<String>::new(), "errors after saving a valid motd");

    // An invalid one is refused, in the page and in the cluster.
    let rate_key = "session.rate_limit_per_s";
    let rate_before = setting(&api, rate_key).await;
    browser.type_into(&format!(r#"input[data-key="{rate_key}"]"#), "-5").await;
    browser.click(&format!(r#"button[data-save="{rate_key}"]"#)).await;
    let errors = eventually("an error for a negative rate limit", Duration::from_secs(10), async || {
        let errors = visible_errors(&browser).await;
        if errors.is_empty() { Err("no visible .error".to_owned()) } else { Ok(errors) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rate_after = setting(&api, rate_key).await;
    assert_eq!(rate_after, rate_before, "{rate_key} changed to an invalid value; the page showed {errors:?}");

    // Shutdown is armed only by the exact cluster name; never scheduled here.
    let schedule = "#shutdown-schedule";
    assert!(!browser.is_enabled(schedule).await, "{schedule} enabled before any name was typed");
    browser.type_into("#shutdown-cluster", "some-other-cluster").await;
    assert!(!browser.is_enabled(schedule).await, "{schedule} enabled by a wrong cluster name");
    let (all_but_last, last) = CLUSTER_NAME.split_at(CLUSTER_NAME.len() - 1);
    browser.type_into("#shutdown-cluster", all_but_last).await;
    assert!(!browser.is_enabled(schedule).await, "{schedule} enabled by a prefix of the cluster name");
    browser.type_into("#shutdown-cluster", &format!("{CLUSTER_NAME}x")).await;
    assert!(!browser.is_enabled(schedule).await, "{schedule} enabled by the cluster name plus a letter");
    browser.type_into("#shutdown-cluster", &format!("{all_but_last}{last}")).await;
    eventually("the exact cluster name to enable #shutdown-schedule", Duration::from_secs(5), async || {
        if browser.is_enabled(schedule).await { Ok(()) } else { Err("still disabled".to_owned()) }
    })
    .await;
    let info = api.get("/api/v1/cluster").await;
    assert!(info["shutdown"].is_null(), "a shutdown got scheduled: {}", info["shutdown"]);

    // The top of the page (name, nodes, map), as an operator first sees it.
    browser.execute("document.activeElement.blur(); window.scrollTo(0, 0);").await;
    let png = browser.screenshot().await;
    save_screenshot(&png, "dashboard-live.png");

    browser.close().await;
    drop(cluster);
}

/// The harness itself, on a page served by the test: proves chromedriver, Chromium and every step the
/// dashboard test takes (a script reading the URL fragment, counting SVG elements, pointing at one, typing,
/// clicking, an enabled-state, a visible error, a screenshot) without the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_drives_headless_chromium_on_a_served_page() {
    const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title></head><body>
<h1 id="cluster-name">loading</h1>
<svg id="map" width="300" height="100">
  <circle data-system="1" cx="20" cy="50" r="8"/><circle data-system="2" cx="60" cy="50" r="8"/>
  <circle data-system="3" cx="100" cy="50" r="8"/>
</svg>
<div id="tooltip" hidden></div>
<p><input data-key="motd"><button data-save="motd">Save</button> <span id="saved"></span></p>
<p><input id="shutdown-cluster"><button id="shutdown-schedule" disabled>Schedule</button></p>
<script>
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  setTimeout(() => { document.getElementById('cluster-name').textContent = 'harness ' + token; }, 300);
  const tooltip = document.getElementById('tooltip');
  for (const c of document.querySelectorAll('circle[data-system]')) {
    c.addEventListener('mouseenter', () => { tooltip.hidden = false; tooltip.textContent = 'system ' + c.dataset.system; });
  }
  const armed = document.getElementById('shutdown-schedule');
  document.getElementById('shutdown-cluster').addEventListener('input', e => { armed.disabled = e.target.value !== 'exact'; });
  document.querySelector('button[data-save="motd"]').addEventListener('click', () => {
    const value = document.querySelector('input[data-key="motd"]').value, saved = document.getElementById('saved');
    saved.className = value.startsWith('-') ? 'error' : '';
    saved.textContent = value.startsWith('-') ? 'must not be negative' : 'saved ' + value;
  });
</script></body></html>"#;
    let browser = Browser::start().await;
    let url = browser::serve_page(PAGE).await;
    browser.goto(&format!("{url}#token=abc")).await;
    eventually("the script to show the token", Duration::from_secs(10), async || {
        match browser.text("#cluster-name").await {
            Some(text) if text == "harness abc" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(browser.count("#map circle[data-system]").await, 3);
    assert_eq!(browser.count("#nodes .node-bar").await, 0);
    assert_eq!(browser.text("#missing").await, None);
    assert_eq!(browser.execute(VISIBLE_TOOLTIP).await, Value::Null, "the tooltip starts hidden");
    browser.hover("#map circle[data-system]").await;
    assert_eq!(browser.execute(VISIBLE_TOOLTIP).await, "system 1");

    browser.type_into(r#"input[data-key="motd"]"#, "first").await;
    browser.type_into(r#"input[data-key="motd"]"#, "hello").await;
    browser.click(r#"button[data-save="motd"]"#).await;
    assert_eq!(browser.text("#saved").await.as_deref(), Some("saved hello"), "typing replaces the value");
    assert_eq!(visible_errors(&browser).await, Vec::<String>::new());
    browser.type_into(r#"input[data-key="motd"]"#, "-5").await;
    browser.click(r#"button[data-save="motd"]"#).await;
    assert_eq!(visible_errors(&browser).await, vec!["must not be negative".to_owned()]);

    assert!(!browser.is_enabled("#shutdown-schedule").await);
    browser.type_into("#shutdown-cluster", "exac").await;
    assert!(!browser.is_enabled("#shutdown-schedule").await);
    browser.type_into("#shutdown-cluster", "exact").await;
    assert!(browser.is_enabled("#shutdown-schedule").await);

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a screenshot is a PNG");
    browser.close().await;
}

/// The texts of the visible `.error` elements of the page.
async fn visible_errors(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.execute(VISIBLE_ERRORS).await).expect("a list of strings")
}

/// docs/NAME when `ORRERY_UPDATE_SCREENSHOTS=1`, so that ordinary runs leave the repository alone; else a
/// temporary file.
fn save_screenshot(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a screenshot is a PNG");
    let path = if std::env::var("ORRERY_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository");
        repository.join("docs").join(name)
    } else {
        std::env::temp_dir().join(format!("orrery-{name}"))
    };
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("screenshot: {}", path.display());
}

/// The current value of a setting, as text (a JSON string as it is, anything else as JSON).
async fn setting(api: &Api, key: &str) -> String {
    let settings = api.get("/api/v1/settings").await;
    let entry = settings
        .as_array()
        .and_then(|all| all.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("no setting {key:?} in /api/v1/settings: {settings}"));
    match &entry["value"] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The admin API over plain HTTP/1.1, one connection per request.
struct Api {
    addr: String,
}

impl Api {
    /// GET `path` with the token; panics unless it answers 200 with JSON.
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.request(path, Some(TOKEN)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// GET `path`, with `Authorization: Bearer TOKEN` when given: the status and the body.
    async fn request(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
            let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Accept: application/json\r\nConnection: close\r\n\r\n",
                self.addr
            );
            stream.write_all(head.as_bytes()).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .unwrap_or_else(|_| panic!("GET {path}: no answer within 10 s"))
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        parse_response(&response)
            .unwrap_or_else(|| panic!("GET {path}: not HTTP: {}", String::from_utf8_lossy(&response)))
    }
}

/// Status and body of an HTTP/1.1 response read to the end (`Content-Length` or chunked).
fn parse_response(response: &[u8]) -> Option<(u16, String)> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..split]).ok()?;
    let mut body = &response[split + 4..];
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if !chunked {
        return Some((status, String::from_utf8_lossy(body).into_owned()));
    }
    let mut decoded = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[end + 2..];
        if size == 0 {
            return Some((status, String::from_utf8_lossy(&decoded).into_owned()));
        }
        decoded.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}
