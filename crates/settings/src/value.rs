//! Setting values and their validation: from the JSON text stored in the `settings` table, or from the JSON the
//! admin API receives.

use std::fmt;

use crate::spec::{Kind, fmt_f64, resolve};

/// A validated setting value. Serializes as a plain JSON number or string (`300`, `0.5`, `"Welcome"`), the
/// same form the `settings` table stores, so the admin API can return it as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// The value of a [`crate::Kind::Integer`] setting.
    Integer(i64),
    /// The value of a [`crate::Kind::Float`] setting; always finite when it comes from [`parse`].
    Float(f64),
    /// The value of a [`crate::Kind::Text`] setting.
    Text(String),
}

impl Value {
    /// The value as JSON text, what to write into the `settings` table (`300`, `0.5`, `1.0`, `"Welcome"`);
    /// [`parse`] reads it back. A non-finite float (which no setting accepts) becomes `null`.
    pub fn to_json_text(&self) -> String {
        match self {
            Value::Integer(value) => value.to_string(),
            Value::Float(value) => fmt_f64(*value),
            Value::Text(text) => serde_json::Value::String(text.clone()).to_string(),
        }
    }
}

impl fmt::Display for Value {
    /// The JSON text, as in [`Value::to_json_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_text())
    }
}

/// Why a value was refused for a key; displays as "setting `tidi.floor`: 1.5 is out of range 0.01..=1.0".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `{key}`: {reason}")]
pub struct SettingError {
    /// The key as given.
    pub key: String,
    /// What is wrong, for the operator who wrote the value.
    pub reason: String,
}

impl SettingError {
    fn new(key: &str, reason: String) -> Self {
        SettingError { key: key.to_owned(), reason }
    }
}

/// Validates a stored value (JSON text) for a key: an unknown key, a value of the wrong type or out of range is
/// an error. For a text setting, text that is not JSON at all is taken as it is (`hello` as well as `"hello"`).
///
/// ```
/// use orrery_settings::{parse, Value};
/// assert_eq!(parse("session.idle_timeout_s", "600")?, Value::Integer(600));
/// assert_eq!(parse("motd", "Fly safe")?, Value::Text("Fly safe".into()));
/// assert_eq!(
///     parse("tidi.floor", "1.5").unwrap_err().to_string(),
///     "setting `tidi.floor`: 1.5 is out of range 0.01..=1.0"
/// );
/// # Ok::<(), orrery_settings::SettingError>(())
/// ```
pub fn parse(key: &str, raw: &str) -> Result<Value, SettingError> {
    let (entry, _) = resolve(key).map_err(|reason| SettingError::new(key, reason))?;
    check_raw(entry.spec.kind, raw).map_err(|reason| SettingError::new(key, reason))
}

/// Validates a value given as JSON, as in the admin API's `PUT` body `{"value": ...}`. Unlike [`parse`], text
/// must be a JSON string: a JSON body has no "bare text".
pub fn parse_json(key: &str, value: &serde_json::Value) -> Result<Value, SettingError> {
    let (entry, _) = resolve(key).map_err(|reason| SettingError::new(key, reason))?;
    check_json(entry.spec.kind, value).map_err(|reason| SettingError::new(key, reason))
}

/// A stored value checked against a kind; the error is the reason alone.
pub(crate) fn check_raw(kind: Kind, raw: &str) -> Result<Value, String> {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(json) => check_json(kind, &json),
        Err(_) if matches!(kind, Kind::Text { .. }) => check_text(kind, raw),
        Err(_) if raw.trim().is_empty() => Err(format!("the value is empty (expected {})", kind.expected())),
        // Numbers beyond f64 (`1e400`) fail to parse as JSON, yet they are numbers, just far out of range.
        Err(error) if error.to_string().starts_with("number out of range") => Err(out_of_range(raw.trim(), kind)),
        Err(_) => Err(format!("{} is not a number (expected {})", show(raw), kind.expected())),
    }
}

/// A JSON value checked against a kind; the error is the reason alone.
pub(crate) fn check_json(kind: Kind, json: &serde_json::Value) -> Result<Value, String> {
    match (kind, json) {
        (Kind::Integer { min, max }, serde_json::Value::Number(number)) => {
            if let Some(value) = number.as_i64() {
                return in_range(value >= min && value <= max, Value::Integer(value), kind);
            }
            if number.is_u64() {
                return Err(out_of_range(&number.to_string(), kind));
            }
            // A float: refused, unless it is an integer literal too large for 64 bits (`1e30`,
            // `99999999999999999999`), which is out of range rather than of the wrong type.
            let value = number.as_f64().unwrap_or(f64::NAN);
            let i64_range = (i64::MIN as f64)..-(i64::MIN as f64);
            if value.is_finite() && value.fract() == 0.0 && !i64_range.contains(&value) {
                Err(out_of_range(&number.to_string(), kind))
            } else {
                Err(format!("expected an integer, got {number} (the value must be {})", kind.expected()))
            }
        }
        (Kind::Float { min, max }, serde_json::Value::Number(number)) => match number.as_f64() {
            Some(value) if value.is_finite() && value >= min && value <= max => Ok(Value::Float(value)),
            Some(value) if value.is_finite() => Err(out_of_range(&number.to_string(), kind)),
            _ => Err(format!("{number} is not a finite number (expected {})", kind.expected())),
        },
        (Kind::Text { .. }, serde_json::Value::String(text)) => check_text(kind, text),
        (Kind::Text { .. }, serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null) => {
            let quoted = serde_json::Value::String(json.to_string()).to_string();
            Err(format!("expected text (a JSON string), got {}; to store it as text write {quoted}", describe(json)))
        }
        (_, other) => Err(format!("expected {}, got {}", kind.expected(), describe(other))),
    }
}

fn check_text(kind: Kind, text: &str) -> Result<Value, String> {
    match kind {
        Kind::Text { max_len } if text.len() > max_len => {
            Err(format!("the text is {} bytes, longer than the limit of {max_len} bytes", text.len()))
        }
        Kind::Text { .. } => Ok(Value::Text(text.to_owned())),
        _ => Err(format!("expected {}, got text", kind.expected())),
    }
}

fn in_range(ok: bool, value: Value, kind: Kind) -> Result<Value, String> {
    if ok { Ok(value) } else { Err(out_of_range(&value.to_json_text(), kind)) }
}

fn out_of_range(shown: &str, kind: Kind) -> String {
    let range = match kind {
        Kind::Integer { min, max } => format!("{min}..={max}"),
        Kind::Float { min, max } => format!("{}..={}", fmt_f64(min), fmt_f64(max)),
        Kind::Text { max_len } => format!("of at most {max_len} bytes"),
    };
    format!("{} is out of range {range}", truncate(shown))
}

/// A JSON value named for an error message: what it is and, for scalars, what it says.
fn describe(json: &serde_json::Value) -> String {
    match json {
        serde_json::Value::Null => "null".to_owned(),
        serde_json::Value::Bool(value) => value.to_string(),
        serde_json::Value::Number(number) => format!("the number {}", truncate(&number.to_string())),
        serde_json::Value::String(text) => format!("the string {}", truncate(&json_string(text))),
        serde_json::Value::Array(_) => "an array".to_owned(),
        serde_json::Value::Object(_) => "an object".to_owned(),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// Text from the input quoted for a message, cut short so a huge row cannot flood the log.
pub(crate) fn show(text: &str) -> String {
    format!("`{}`", truncate(text))
}

fn truncate(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A [`crate::Settings`] field that holds one setting's value: read as a [`Value`], written from a validated one.
pub(crate) trait Slot {
    fn value(&self) -> Value;
    /// Stores `value`; `false` (and no change) if it does not fit this field's type.
    fn assign(&mut self, value: &Value) -> bool;
}

macro_rules! integer_slot {
    ($($ty:ty),*) => {$(
        impl Slot for $ty {
            fn value(&self) -> Value {
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
            fn assign(&mut self, value: &Value) -> bool {
                match value {
                    Value::Integer(v) => <$ty>::try_from(*v).map(|v| *self = v).is_ok(),
                    _ => false,
                }
            }
        }
    )*};
}

integer_slot!(u32, u64, usize);

impl Slot for f64 {
    fn value(&self) -> Value {
        Value::Float(*self)
    }
    fn assign(&mut self, value: &Value) -> bool {
        match value {
            Value::Float(v) => {
                *self = *v;
                true
            }
            _ => false,
        }
    }
}

impl Slot for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn assign(&mut self, value: &Value) -> bool {
        match value {
            Value::Text(text) => {
                self.clone_from(text);
                true
            }
            _ => false,
        }
    }
}
