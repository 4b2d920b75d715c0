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
    /// The database could not be reached or was busy, rather than refusing this request: the same call may
    /// succeed later unchanged, so a writer that must not lose data (the checkpoint writer) retries it for as
    /// long as the outage lasts, while an error about the data itself would fail the same way forever.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unreachable { .. } => true,
            StoreError::Database(error) => match error {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(database) => database.code().is_some_and(|code| transient_code(&code)),
                _ => false,
            },
            _ => false,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        StoreError::Invalid { what: what.into() }
    }
}

/// SQLSTATE classes and SQLite codes that say "not now" rather than "not this": PostgreSQL's connection
/// exceptions (08…), shutdown and start-up (57P01–57P03), serialization failures and deadlocks (40001, 40P01);
/// SQLite's busy and locked (5, 6, and their extended codes).
fn transient_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        || code.parse::<u32>().is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_bad_data_is_not() {
        assert!(StoreError::Unreachable { url: "postgres://db".into(), reason: "refused".into() }.is_transient());
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(StoreError::Database(sqlx::Error::Io(reset)).is_transient());
        assert!(!StoreError::invalid("ship id 0").is_transient());
        assert!(!StoreError::corrupt("NULL x").is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
        assert!(transient_code("08006") && transient_code("57P01") && transient_code("40P01"));
        assert!(transient_code("5") && transient_code("517") && transient_code("6"));
        assert!(!transient_code("23505") && !transient_code("19") && !transient_code("2067"));
    }
}
