//! The HTTP routes: each handler reads its input, calls one [`ClusterControl`] method and writes JSON.
//!
//! Nothing here knows the cluster; the handlers only translate. Inputs are checked here when the contract
//! fixes their shape (field types, the flamegraph's 1..=60 seconds) and left to the cluster when only it can
//! judge them (a setting's value, a log filter, the cluster name).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Serialize;

use crate::auth::{Token, require_token};
use crate::control::{ClusterControl, ShutdownRequest};
use crate::error::ApiError;
use crate::{BODY_LIMIT, body};

/// The longest shutdown delay accepted, in seconds (30 days): beyond it a number is surely a typo, and
/// bounding it keeps the cluster's `now + delay` arithmetic far from overflow.
pub const MAX_SHUTDOWN_SECONDS: u64 = 30 * 24 * 3600;

/// Flamegraph capture length when `?seconds=` is not given.
pub const DEFAULT_FLAMEGRAPH_SECONDS: u32 = 10;

/// The longest flamegraph capture, in seconds: the request is held open while sampling.
pub const MAX_FLAMEGRAPH_SECONDS: u32 = 60;

/// The dashboard page and its two assets, embedded so the binary serves them with no build step or files.
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The browser pilot client at `/play` (its script is built from `web/play` by `scripts/build-play.sh` and
/// committed, so serving it needs no build step either).
const PLAY_HTML: &str = include_str!("../assets/play.html");
const PLAY_JS: &str = include_str!("../assets/play.js");
const PLAY_CSS: &str = include_str!("../assets/play.css");

/// What the page may load and run: only its own assets and API, never inside someone else's frame.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                        connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The pilot page's policy: as the dashboard's, but it may open WebSockets (the game's transport listens on a
/// port of its own).
const PLAY_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The OpenMetrics text format's content type, for an exposition ending in `# EOF`.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Control = Arc<dyn ClusterControl>;

/// The whole admin application: the dashboard's static files (open), the JSON API under `/api/v1` and
/// `/metrics` (both behind `token`). Used by [`crate::serve`]; public so tests can drive it without a socket.
pub fn router(token: &str, control: Arc<dyn ClusterControl>) -> Router {
    let api = Router::new()
        .route("/cluster", get(cluster))
        .route("/systems/{id}", get(system))
        .route("/systems/{id}/move", post(move_system))
        .route("/universe", get(universe))
        .route("/economy", get(economy))
        .route("/settings", get(settings))
        .route("/settings/{key}", put(put_setting))
        .route("/shutdown", get(shutdown_status).post(schedule_shutdown).delete(cancel_shutdown))
        .route("/profiler/start", post(profiler_start))
        .route("/profiler/stop", post(profiler_stop))
        .route("/profiler/report", get(profiler_report))
        .route("/profiler/flamegraph", get(profiler_flamegraph))
        .route("/log-level", get(log_level).put(set_log_level))
        .route("/kills", get(kills))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let protected = Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .layer(from_fn_with_state(Token(Arc::from(token)), require_token))
        .with_state(control);
    Router::new()
        .route("/", get(page))
        .route("/dashboard", get(page))
        .route("/assets/app.js", get(app_js))
        .route("/assets/style.css", get(style_css))
        .route("/play", get(play))
        .route("/assets/play.js", get(play_js))
        .route("/assets/play.css", get(play_css))
        .merge(protected)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(map_response(common_headers))
}

/// Headers on every response: no MIME sniffing, no referrer, and no caching of data unless a handler says.
async fn common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A 200 JSON response.
fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("encoding the response: {error}"),
            field: None,
        }
        .into_response(),
    }
}

async fn cluster(State(control): State<Control>) -> Response {
    json(&control.cluster().await)
}

async fn system(State(control): State<Control>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: u32 = id.parse().map_err(|_| ApiError::bad_field("id", format!("system id `{id}` is not an integer")))?;
    match control.system(id).await {
        Some(detail) => Ok(json(&detail)),
        None => Err(ApiError::not_found(format!("no system {id}"))),
    }
}

/// `GET /api/v1/economy?days=N` (1–365, default 7).
async fn economy(State(control): State<Control>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let days = query_number(query.as_deref(), "days", 7, 365)?;
    Ok(json(&control.economy(days).await?))
}

async fn universe(State(control): State<Control>) -> Response {
    json(&control.universe().await)
}

async fn settings(State(control): State<Control>) -> Response {
    json(&control.settings().await)
}

async fn put_setting(
    State(control): State<Control>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body::object(body)?;
    let value = body::any(&body, "value")?.clone();
    Ok(json(&control.put_setting(&key, value).await?))
}

async fn move_system(
    State(control): State<Control>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let system_id: u32 = id
        .parse()
        .map_err(|_| ApiError::bad_field("id", format!("{id:?} is not a system id (an unsigned integer)")))?;
    let body = body::object(body)?;
    let node = u32::try_from(body::unsigned(&body, "node", u64::from(u32::MAX))?)
        .map_err(|_| ApiError::bad_field("node", "out of range"))?;
    let report = control.move_system(system_id, node).await?;
    tracing::warn!(system_id, node, "system moved by an operator");
    Ok(json(&report))
}

async fn shutdown_status(State(control): State<Control>) -> Response {
    json(&control.shutdown_status().await)
}

async fn schedule_shutdown(
    State(control): State<Control>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body::object(body)?;
    let request = ShutdownRequest {
        cluster: body::string(&body, "cluster")?.to_owned(),
        in_seconds: body::unsigned(&body, "in_seconds", MAX_SHUTDOWN_SECONDS)?,
        reason: body::string(&body, "reason")?.to_owned(),
    };
    let view = control.schedule_shutdown(request).await?;
    tracing::warn!(cluster = %view.cluster, reason = %view.reason, seconds_left = view.seconds_left,
        "shutdown scheduled through the admin API");
    Ok(json(&view))
}

async fn cancel_shutdown(State(control): State<Control>) -> Result<Response, ApiError> {
    control.cancel_shutdown().await?;
    tracing::warn!("scheduled shutdown cancelled through the admin API");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn profiler_start(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(json(&control.profiler_start().await?))
}

async fn profiler_stop(State(control): State<Control>) -> Result<Response, ApiError> {
    Ok(json(&control.profiler_stop().await?))
}

async fn profiler_report(State(control): State<Control>) -> Response {
    json(&control.profiler_report().await)
}

async fn profiler_flamegraph(State(control): State<Control>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let seconds = flamegraph_seconds(query.as_deref())?;
    let svg = control.profiler_flamegraph(seconds).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"orrery-flamegraph.svg\""),
        ],
        svg,
    )
        .into_response())
}

/// Kill reports when `?limit=` is not given.
pub const DEFAULT_KILLS_LIMIT: u32 = 50;
/// The most kill reports one request returns.
pub const MAX_KILLS_LIMIT: u32 = 1000;

/// `GET /api/v1/kills?system=&limit=`: the latest kill reports, newest first.
async fn kills(State(control): State<Control>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let system = match query_value(query.as_deref(), "system") {
        None | Some("") => None,
        Some(value) => Some(value.parse::<u32>().map_err(|_| {
            ApiError::bad_field("system", format!("`system` must be a system id (an unsigned integer), got `{value}`"))
        })?),
    };
    // An empty `limit=` means the default here (an empty `seconds=` of the flamegraph is refused).
    let limit = match query_value(query.as_deref(), "limit") {
        None | Some("") => DEFAULT_KILLS_LIMIT,
        Some(_) => query_number(query.as_deref(), "limit", DEFAULT_KILLS_LIMIT, MAX_KILLS_LIMIT)?,
    };
    Ok(json(&control.kills(system, limit).await?))
}

/// The value of query parameter `name` (the first one), if present.
fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// The `seconds` query parameter of the flamegraph: 1..=60, 10 when absent.
fn flamegraph_seconds(query: Option<&str>) -> Result<u32, ApiError> {
    query_number(query, "seconds", DEFAULT_FLAMEGRAPH_SECONDS, MAX_FLAMEGRAPH_SECONDS)
}

/// The query parameter `name` as an integer from 1 to `max`; `default` when absent.
fn query_number(query: Option<&str>, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(value) = query_value(query, name) else { return Ok(default) };
    match value.parse::<u32>() {
        Ok(number) if (1..=max).contains(&number) => Ok(number),
        _ => Err(ApiError::bad_field(name, format!("`{name}` must be an integer from 1 to {max}, got `{value}`"))),
    }
}

/// The body of the log-level routes.
#[derive(Serialize)]
struct LogLevel {
    filter: String,
}

async fn log_level(State(control): State<Control>) -> Response {
    json(&LogLevel { filter: control.log_level() })
}

async fn set_log_level(
    State(control): State<Control>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body::object(body)?;
    let filter = body::string(&body, "filter")?;
    control.set_log_level(filter)?;
    tracing::info!(filter, "log filter changed through the admin API");
    Ok(json(&LogLevel { filter: control.log_level() }))
}

/// `/metrics`: the exposition as the cluster renders it, labelled with the format it is in.
async fn metrics(State(control): State<Control>) -> Response {
    let text = control.metrics();
    let content_type = if text.trim_end().ends_with("# EOF") { OPENMETRICS_TEXT } else { PROMETHEUS_TEXT };
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("no such API route")
}

async fn method_not_allowed() -> ApiError {
    ApiError { status: StatusCode::METHOD_NOT_ALLOWED, message: "method not allowed".into(), field: None }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

/// A static file: revalidated on every load (`no-cache`), so a cluster upgrade shows the new page at once.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// An HTML page with its content security policy, never framed.
fn html_page(body: &'static str, policy: &'static str) -> Response {
    let mut response = asset("text/html; charset=utf-8", body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn page() -> Response {
    html_page(INDEX_HTML, PAGE_CSP)
}

async fn play() -> Response {
    html_page(PLAY_HTML, PLAY_CSP)
}

async fn play_js() -> Response {
    asset("text/javascript; charset=utf-8", PLAY_JS)
}

async fn play_css() -> Response {
    asset("text/css; charset=utf-8", PLAY_CSS)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flamegraph_seconds_parsing() {
        assert_eq!(flamegraph_seconds(None).unwrap(), DEFAULT_FLAMEGRAPH_SECONDS);
        assert_eq!(flamegraph_seconds(Some("")).unwrap(), DEFAULT_FLAMEGRAPH_SECONDS);
        assert_eq!(flamegraph_seconds(Some("seconds=1")).unwrap(), 1);
        assert_eq!(flamegraph_seconds(Some("x=2&seconds=60")).unwrap(), 60);
        for bad in ["seconds=0", "seconds=61", "seconds=-1", "seconds=abc", "seconds=", "seconds", "seconds=1.5"] {
            assert_eq!(flamegraph_seconds(Some(bad)).unwrap_err().field.as_deref(), Some("seconds"), "{bad}");
        }
    }
}
