//! Reading request bodies so that every refusal names the field at fault.
//!
//! Bodies are parsed into a `serde_json::Value` first and fields are taken out one by one, rather than
//! deserialised into a struct: serde's errors say "missing field `in_seconds` at line 1 column 20" in prose,
//! while operators' scripts and the dashboard need the field's name on its own to point at the input.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body, or the 400 (or 413) saying why there is none.
pub(crate) fn object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body larger than {} bytes", crate::BODY_LIMIT)
        } else {
            "could not read the request body".to_owned()
        };
        ApiError { status, message, field: None }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_body("a JSON object body is required"));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_body("the body must be a JSON object")),
        Err(error) => Err(ApiError::bad_body(format!("the body is not valid JSON: {error}"))),
    }
}

/// A field that must be present, of any JSON type (including `null`).
pub(crate) fn any<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ApiError> {
    body.get(field).ok_or_else(|| ApiError::bad_field(field, format!("missing field `{field}`")))
}

/// A field that must be a string.
pub(crate) fn string<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    any(body, field)?.as_str().ok_or_else(|| ApiError::bad_field(field, format!("`{field}` must be a string")))
}

/// A field that must be a non-negative integer no larger than `max`.
pub(crate) fn unsigned(body: &Map<String, Value>, field: &str, max: u64) -> Result<u64, ApiError> {
    let value = any(body, field)?;
    let number = value.as_u64().ok_or_else(|| {
        ApiError::bad_field(field, format!("`{field}` must be a non-negative integer, got {}", kind(value)))
    })?;
    if number > max {
        return Err(ApiError::bad_field(field, format!("`{field}` must be at most {max}, got {number}")));
    }
    Ok(number)
}

/// A value's JSON type, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fraction",
        Value::Number(n) if n.is_i64() => "a negative integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &'static str) -> Result<Map<String, Value>, ApiError> {
        object(Ok(Bytes::from_static(text.as_bytes())))
    }

    #[test]
    fn body_shapes() {
        assert!(parse(r#"{"a": 1}"#).is_ok());
        assert_eq!(parse("").unwrap_err().field, None);
        assert_eq!(parse("[1]").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(parse("{").unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn fields_are_named() {
        let body = parse(r#"{"s": "x", "n": 5, "f": 1.5, "neg": -1, "big": 99}"#).unwrap();
        assert_eq!(string(&body, "s").unwrap(), "x");
        assert_eq!(string(&body, "n").unwrap_err().field.as_deref(), Some("n"));
        assert_eq!(string(&body, "missing").unwrap_err().field.as_deref(), Some("missing"));
        assert_eq!(unsigned(&body, "n", 10).unwrap(), 5);
        assert_eq!(unsigned(&body, "f", 10).unwrap_err().field.as_deref(), Some("f"));
        assert_eq!(unsigned(&body, "neg", 10).unwrap_err().field.as_deref(), Some("neg"));
        assert_eq!(unsigned(&body, "big", 10).unwrap_err().field.as_deref(), Some("big"));
        assert_eq!(unsigned(&body, "s", 10).unwrap_err().field.as_deref(), Some("s"));
    }
}
