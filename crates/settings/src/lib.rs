//! Live operator settings of an orrery cluster.
//!
//! Operators steer a running cluster through rows of the `settings` table (`key`, `value` as JSON text). A
//! watcher in the runtime reads every row every half second or so and hands them to [`reconcile`] with the
//! [`Settings`] in force; it gets back the new settings, the list of [`Change`]s to act on, and the rows it
//! refused ([`Rejection`]). A refused row — unknown key, wrong type, out of range — never takes effect: the value
//! in force before stays, so a typo cannot take a cluster down. The admin API validates a value with
//! [`parse_json`] before writing it (as [`Value::to_json_text`]), and lists the known keys with [`specs`].
//!
//! Like the other cores this crate is pure: no I/O, no async, no clocks; the same input gives the same output.
//!
//! ```
//! use orrery_settings::{reconcile, Settings, Value};
//!
//! let rows = vec![
//!     ("session.idle_timeout_s".to_owned(), "600".to_owned()),
//!     ("system.max_players.30000142".to_owned(), "0".to_owned()), // close Jita
//!     ("motd".to_owned(), "Downtime at 11:00".to_owned()),       // bare text typed by hand
//! ];
//! let out = reconcile(&Settings::default(), &rows);
//! assert!(out.rejected.is_empty());
//! assert_eq!(out.settings.max_players_for(30000142), 0);
//! assert_eq!(out.settings.max_players_for(30000144), 1000);
//! let keys: Vec<&str> = out.changes.iter().map(|c| c.key.as_str()).collect();
//! assert_eq!(keys, ["motd", "session.idle_timeout_s", "system.max_players.30000142"]);
//! assert_eq!(out.changes[1].new, Value::Integer(600));
//! ```

mod reconcile;
mod settings;
mod spec;
mod value;

pub use reconcile::{Change, Reconciled, Rejection, reconcile};
pub use settings::Settings;
pub use spec::{Kind, SYSTEM_ID_PLACEHOLDER, SettingSpec, spec_for, specs};
pub use value::{SettingError, Value, parse, parse_json};
