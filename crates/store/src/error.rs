//! What can go wrong behind the [`Store`](crate::Store) seam.

use std::path::PathBuf;

/// Why a store operation failed.
///
/// The first four variants are outcomes a caller acts on (tell the player the name is taken, refuse the
/// request, alert an operator); the rest are the database or its files failing. As elsewhere in orrery, a
/// variant that wraps a cause leaves the cause's message to the error chain (`{:#}` with anyhow), so it is
/// printed once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique name or a newer version is already there: a taken username or character name, or a mapping
    /// older than the stored one.
    #[error("conflict: {what}")]
    Conflict {
        /// What collided, e.g. `character name "Jita"`, as the caller can show it.
        what: String,
    },
    /// Something the operation refers to does not exist, e.g. the account of a new character or token.
    #[error("not found: {what}")]
    NotFound {
        /// What was missing, e.g. `account 7`.
        what: String,
    },
    /// The caller passed a value the store cannot hold: an id of 0 or above `i64::MAX`, a non-finite
    /// position, the same system twice in a mapping.
    #[error("invalid input: {what}")]
    Invalid {
        /// Which argument was refused and why.
        what: String,
    },
    /// A row the store cannot decode: a negative id, a NULL or non-finite position, a value of the wrong
    /// type. Database content is never trusted to be well-formed, and never a reason to panic.
    #[error("corrupt data in the store: {what}")]
    Corrupt {
        /// Which column of which row could not be decoded, and the value found.
        what: String,
    },
    /// The database's directory could not be created.
    #[error("cannot create the database directory {}", path.display())]
    Io {
        /// The directory that could not be created.
        path: PathBuf,
        /// Why the file system refused.
        #[source]
        source: std::io::Error,
    },
    /// The database failed (could not open, locked past the busy timeout, disk full, ...).
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied (e.g. the database was migrated by a newer orrery, or
    /// an applied migration was edited).
    #[error("cannot migrate the database schema")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database server did not answer (PostgreSQL): the URL (without its password) and why.
    #[error("cannot reach the PostgreSQL server at {url}: {reason}")]
    Unreachable {
        /// The server URL with the password left out, so the error can be logged.
        url: String,
        /// The driver's reason, e.g. connection refused or a timeout.
        reason: String,
    },
    /// The store URL names nothing this build can open.
    #[error("unusable store URL: {0}")]
    InvalidUrl(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        StoreError::Invalid { what: what.into() }
    }
}
