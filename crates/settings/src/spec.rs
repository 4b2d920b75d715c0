//! The table of known settings: each key's kind, range, default and documentation, and the one place that says
//! which [`Settings`] field a key is held in.

use std::collections::BTreeMap;

use crate::Settings;
use crate::value::Slot;

/// The placeholder that ends the key of a per-system setting in [`specs`], e.g.
/// `system.max_players.<system_id>`; a real key has a decimal system id in its place.
pub const SYSTEM_ID_PLACEHOLDER: &str = "<system_id>";

/// What a setting holds and which values are allowed; a value outside is rejected, never clamped, so an
/// operator's typo cannot silently become a different value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number in `min..=max`, written as a JSON integer (`300`; `1.5`, `2.0` and `"300"` are refused).
    Integer {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A finite number in `min..=max`, written as any JSON number (`0.5`, or `1` meaning `1.0`).
    Float {
        /// The smallest value accepted.
        min: f64,
        /// The largest value accepted.
        max: f64,
    },
    /// UTF-8 text of at most `max_len` bytes, written as a JSON string (`"Welcome"`) or as bare text that is
    /// not JSON at all (`Welcome`), so a value typed into the database shell by hand still works.
    Text {
        /// The longest text accepted, in bytes of UTF-8 (what the database and the wire carry).
        max_len: usize,
    },
}

impl Kind {
    /// What a value of this kind looks like, for error messages ("an integer in 5..=86400").
    pub fn expected(&self) -> String {
        match *self {
            Kind::Integer { min, max } => format!("an integer in {min}..={max}"),
            Kind::Float { min, max } => format!("a number in {}..={}", fmt_f64(min), fmt_f64(max)),
            Kind::Text { max_len } => format!("text of at most {max_len} bytes"),
        }
    }
}

/// A float as JSON writes it (`1.0`, `0.01`), so messages show ranges the way operators type them.
pub(crate) fn fmt_f64(value: f64) -> String {
    serde_json::Value::from(value).to_string()
}

/// One setting the cluster knows: what it is for, for the admin API's listing and for error messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingSpec {
    /// The key in the `settings` table; per-system keys end in [`SYSTEM_ID_PLACEHOLDER`].
    pub key: &'static str,
    /// Type and allowed range.
    pub kind: Kind,
    /// The value in force while the key has no row, as JSON text. A per-system key has no default of its own:
    /// without a row the system follows the system-wide key, whose default this repeats.
    pub default: &'static str,
    /// What the setting does, for operators.
    pub description: &'static str,
    /// The unit of the value (`"s"`, `"ms"`, ...), empty for plain numbers and text.
    pub unit: &'static str,
}

impl SettingSpec {
    /// Whether this spec covers a family of per-system keys (`system.tick_ms.<system_id>`).
    pub fn is_per_system(&self) -> bool {
        self.key.ends_with(SYSTEM_ID_PLACEHOLDER)
    }

    /// For a per-system spec, the key prefix before the system id (`system.tick_ms.`).
    pub(crate) fn system_prefix(&self) -> Option<&'static str> {
        self.key.strip_suffix(SYSTEM_ID_PLACEHOLDER)
    }
}

/// Where in [`Settings`] a key's value lives.
pub(crate) enum Target {
    /// A plain field.
    Field { get: fn(&Settings) -> &dyn Slot, get_mut: fn(&mut Settings) -> &mut dyn Slot },
    /// A per-system override map; a system without an entry follows the fixed key named by the prefix
    /// (`system.max_players.<id>` follows `system.max_players`).
    PerSystem { map: fn(&Settings) -> &BTreeMap<u32, u32>, map_mut: fn(&mut Settings) -> &mut BTreeMap<u32, u32> },
}

/// One row of the table: the spec and where its value lives.
pub(crate) struct Entry {
    pub(crate) spec: SettingSpec,
    pub(crate) target: Target,
}

macro_rules! field {
    ($name:ident) => {
        Target::Field { get: |s| &s.$name, get_mut: |s| &mut s.$name }
    };
}

macro_rules! per_system {
    ($name:ident) => {
        Target::PerSystem { map: |s| &s.$name, map_mut: |s| &mut s.$name }
    };
}

const ENTRY_COUNT: usize = 9;

/// Every known setting. The one place that maps a key to its field: parsing, defaults, listing and reconciling
/// all go through it.
pub(crate) static ENTRIES: [Entry; ENTRY_COUNT] = [
    Entry {
        spec: SettingSpec {
            key: "session.idle_timeout_s",
            kind: Kind::Integer { min: 5, max: 86_400 },
            default: "300",
            description: "seconds without a message before a client is disconnected",
            unit: "s",
        },
        target: field!(idle_timeout_s),
    },
    Entry {
        spec: SettingSpec {
            key: "session.rate_limit_per_s",
            kind: Kind::Integer { min: 1, max: 10_000 },
            default: "20",
            description: "commands per second per session",
            unit: "commands/s",
        },
        target: field!(rate_limit_per_s),
    },
    Entry {
        spec: SettingSpec {
            key: "system.max_players",
            kind: Kind::Integer { min: 1, max: 1_000_000 },
            default: "1000",
            description: "default player cap of every system",
            unit: "players",
        },
        target: field!(max_players),
    },
    Entry {
        spec: SettingSpec {
            key: "system.max_players.<system_id>",
            kind: Kind::Integer { min: 0, max: 1_000_000 },
            default: "1000",
            description: "player cap of one system, overriding system.max_players; 0 closes the system",
            unit: "players",
        },
        target: per_system!(system_max_players),
    },
    Entry {
        spec: SettingSpec {
            key: "system.tick_ms",
            kind: Kind::Integer { min: 10, max: 60_000 },
            default: "1000",
            description: "tick length of every system",
            unit: "ms",
        },
        target: field!(tick_ms),
    },
    Entry {
        spec: SettingSpec {
            key: "system.tick_ms.<system_id>",
            kind: Kind::Integer { min: 10, max: 60_000 },
            default: "1000",
            description: "tick length of one system, overriding system.tick_ms",
            unit: "ms",
        },
        target: per_system!(system_tick_ms),
    },
    Entry {
        spec: SettingSpec {
            key: "tidi.floor",
            kind: Kind::Float { min: 0.01, max: 1.0 },
            default: "0.1",
            description: "lowest time-dilation factor",
            unit: "",
        },
        target: field!(tidi_floor),
    },
    Entry {
        spec: SettingSpec {
            key: "net.max_frame_bytes",
            kind: Kind::Integer { min: 256, max: 16_777_216 },
            default: "65536",
            description: "largest envelope accepted from a client",
            unit: "bytes",
        },
        target: field!(max_frame_bytes),
    },
    Entry {
        spec: SettingSpec {
            key: "motd",
            kind: Kind::Text { max_len: 500 },
            default: "\"\"",
            description: "message of the day, sent after login",
            unit: "",
        },
        target: field!(motd),
    },
];

/// The specs column of [`ENTRIES`], contiguous so [`specs`] can hand out a slice.
static SPECS: [SettingSpec; ENTRY_COUNT] = spec_column(&ENTRIES);

const fn spec_column(entries: &[Entry; ENTRY_COUNT]) -> [SettingSpec; ENTRY_COUNT] {
    let mut out = [entries[0].spec; ENTRY_COUNT];
    let mut i = 1;
    while i < ENTRY_COUNT {
        out[i] = entries[i].spec;
        i += 1;
    }
    out
}

/// Every setting the cluster knows, fixed keys and per-system families (keys ending in
/// [`SYSTEM_ID_PLACEHOLDER`]), in a stable order — for the admin API's documentation of settings.
pub fn specs() -> &'static [SettingSpec] {
    &SPECS
}

/// The spec of a key, and the system id for a per-system key; `None` for a key the cluster does not know.
pub fn spec_for(key: &str) -> Option<(&'static SettingSpec, Option<u32>)> {
    resolve(key).ok().map(|(entry, system)| (&entry.spec, system))
}

/// A key's entry and system id, or why the key is not one the cluster knows.
pub(crate) fn resolve(key: &str) -> Result<(&'static Entry, Option<u32>), String> {
    if let Some(entry) = ENTRIES.iter().find(|entry| !entry.spec.is_per_system() && entry.spec.key == key) {
        return Ok((entry, None));
    }
    for entry in &ENTRIES {
        if let Some(suffix) = entry.spec.system_prefix().and_then(|prefix| key.strip_prefix(prefix)) {
            return parse_system_id(suffix).map(|id| (entry, Some(id)));
        }
    }
    Err("unknown setting".to_owned())
}

/// The fixed entry a per-system entry falls back to (`system.max_players` for `system.max_players.<id>`).
pub(crate) fn fallback_of(entry: &Entry) -> Option<&'static Entry> {
    let base = entry.spec.system_prefix()?.strip_suffix('.')?;
    ENTRIES.iter().find(|candidate| candidate.spec.key == base)
}

/// A system id as it must be written in a key: decimal, no sign, no leading zeros — one spelling per system,
/// so two rows can never name the same system's setting.
fn parse_system_id(suffix: &str) -> Result<u32, String> {
    if suffix.is_empty() {
        return Err("the key lacks a system id after the last `.`".to_owned());
    }
    if !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a system id (expected a decimal number)", crate::value::show(suffix)));
    }
    if suffix.len() > 1 && suffix.starts_with('0') {
        let trimmed = suffix.trim_start_matches('0');
        let canonical = if trimmed.is_empty() { "0" } else { trimmed };
        return Err(format!(
            "system id {} has leading zeros (write {})",
            crate::value::show(suffix),
            crate::value::show(canonical)
        ));
    }
    suffix
        .parse::<u32>()
        .map_err(|_| format!("system id {} is out of range 0..={}", crate::value::show(suffix), u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::check_raw;

    #[test]
    fn keys_are_unique_and_specs_mirror_the_table() {
        let keys: std::collections::BTreeSet<&str> = specs().iter().map(|spec| spec.key).collect();
        assert_eq!(keys.len(), specs().len());
        for (spec, entry) in specs().iter().zip(&ENTRIES) {
            assert_eq!(spec, &entry.spec);
        }
    }

    #[test]
    fn targets_match_kinds_and_per_system_keys_have_a_fallback() {
        for entry in &ENTRIES {
            match entry.target {
                Target::Field { .. } => assert!(!entry.spec.is_per_system(), "{}", entry.spec.key),
                Target::PerSystem { .. } => {
                    assert!(entry.spec.is_per_system(), "{}", entry.spec.key);
                    assert!(
                        matches!(entry.spec.kind, Kind::Integer { min, max } if min >= 0 && max <= i64::from(u32::MAX))
                    );
                    let fallback = fallback_of(entry).expect("a per-system key falls back to a fixed key");
                    assert!(!fallback.spec.is_per_system());
                    assert_eq!(fallback.spec.default, entry.spec.default, "{}", entry.spec.key);
                }
            }
        }
    }

    #[test]
    fn every_default_is_valid_for_its_own_kind() {
        for spec in specs() {
            assert!(check_raw(spec.kind, spec.default).is_ok(), "{}", spec.key);
        }
    }

    #[test]
    fn every_integer_range_fits_its_field() {
        // The fields are u32/u64/usize: a range outside them could validate a value the field cannot hold.
        for spec in specs() {
            if let Kind::Integer { min, max } = spec.kind {
                assert!(0 <= min && min <= max && max <= i64::from(u32::MAX), "{}", spec.key);
            }
        }
    }

    #[test]
    fn system_ids_have_one_spelling() {
        assert_eq!(parse_system_id("0"), Ok(0));
        assert_eq!(parse_system_id("30000142"), Ok(30_000_142));
        assert_eq!(parse_system_id("4294967295"), Ok(u32::MAX));
        for bad in ["", "007", "00", "+7", "-1", " 7", "7 ", "1e3", "٣", "4294967296", "99999999999999999999999"] {
            assert!(parse_system_id(bad).is_err(), "{bad:?}");
        }
    }
}
