//! The two error types: [`AdminError`] for starting the server, [`ApiError`] for one refused HTTP request.
//!
//! Every refused request is answered with the same small JSON shape, `{"error": "...", "field": "..."}`
//! (`field` only when one JSON field or query parameter is at fault), so scripts and the dashboard can show
//! the reason next to the input that caused it.

use std::net::SocketAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::control::ControlError;

/// Why the admin server could not start or stopped with an error.
#[derive(thiserror::Error, Debug)]
pub enum AdminError {
    /// The listen address could not be bound (in use, no permission, not a local address).
    #[error("binding the admin listener on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An empty token would let anyone in; the server refuses to start with one.
    #[error("the admin token is empty")]
    EmptyToken,
    /// The token is not usable in an HTTP header (it must be visible ASCII without spaces).
    #[error("the admin token must be visible ASCII without spaces")]
    InvalidToken,
    /// Accepting connections failed after the server started.
    #[error("serving the admin API: {0}")]
    Serve(std::io::Error),
    /// The server task ended abnormally (it panicked or was cancelled).
    #[error("the admin server task ended abnormally: {0}")]
    Task(String),
}

/// One refused request: an HTTP status and the JSON body `{"error": ..., "field"?: ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The JSON field or query parameter at fault, if one is.
    pub field: Option<String>,
}

/// The wire shape of an error body.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A 400 naming the field at fault.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), field: Some(field.into()) }
    }

    /// A 400 about the body as a whole (not JSON, not an object).
    pub fn bad_body(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), field: None }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into(), field: None }
    }

    /// The 401 every unauthenticated request gets: nothing about why, nothing about the route.
    pub fn unauthorized() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, message: "unauthorized".into(), field: None }
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        match error {
            ControlError::BadRequest { field, reason } => Self::bad_field(field, reason),
            ControlError::NotFound(what) => Self::not_found(what),
            ControlError::Conflict(why) => Self { status: StatusCode::CONFLICT, message: why, field: None },
            ControlError::Internal(why) => {
                tracing::warn!(error = %why, "admin request failed inside the cluster");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: format!("internal error: {why}"),
                    field: None,
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: &self.message, field: self.field.as_deref() };
        // Serialising two strings cannot fail; fall back to a fixed body rather than panic regardless.
        let json = serde_json::to_string(&body).unwrap_or_else(|_| r#"{"error":"error"}"#.to_owned());
        let mut response = (self.status, [(header::CONTENT_TYPE, "application/json")], json).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
