//! The SQLite store: one file, the embedded default of `orrery run`.
//!
//! What is SQLite-only lives here: connection options (WAL journal, `synchronous = NORMAL`, foreign keys,
//! busy timeout) and `BEGIN IMMEDIATE` for write transactions. The statements are the portable ones of
//! [`crate::sql`], run by the implementation both backends share ([`crate::backend`]).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;

/// How long a writer waits for another to finish before giving up with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a file database's pool. SQLite runs one writer at a time whatever the count; more
/// connections let readers (WAL) proceed beside it.
const FILE_POOL_CONNECTIONS: u32 = 4;

/// The embedded migrations, applied on open. `_sqlx_migrations` records which have run, so opening again is
/// a no-op.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] in one SQLite file (or in memory, for tests).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// What a SQLite URL or path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteTarget {
    Memory,
    File(PathBuf),
}

impl SqliteTarget {
    /// Reads `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite:path`, `sqlite::memory:` or a plain path.
    pub(crate) fn parse(url_or_path: &str) -> Result<SqliteTarget, StoreError> {
        let rest = url_or_path
            .strip_prefix("sqlite://")
            .or_else(|| url_or_path.strip_prefix("sqlite:"))
            .unwrap_or(url_or_path);
        if rest == ":memory:" {
            return Ok(SqliteTarget::Memory);
        }
        if rest.is_empty() {
            return Err(StoreError::InvalidUrl(format!("{url_or_path:?} names no database file")));
        }
        if rest.contains("://") {
            return Err(StoreError::InvalidUrl(format!("{url_or_path:?} is not a SQLite URL or a file path")));
        }
        if rest.contains('?') {
            return Err(StoreError::InvalidUrl(format!(
                "{url_or_path:?}: URL options are not supported (the store sets its own)"
            )));
        }
        Ok(SqliteTarget::File(PathBuf::from(rest)))
    }
}

impl SqliteStore {
    /// Opens (creating if missing, with its parent directory) the database that `url_or_path` names — a URL
    /// like `sqlite:///var/lib/orrery/orrery.db` or a plain path — and brings its schema up to date.
    ///
    /// The connections use the WAL journal (readers never block the writer), `synchronous = NORMAL` (a
    /// commit survives a process crash; a power cut may lose the last few, never corrupt the file),
    /// foreign keys on, and a [`BUSY_TIMEOUT`] so that concurrent writers queue instead of failing.
    pub async fn open(url_or_path: &str) -> Result<SqliteStore, StoreError> {
        match SqliteTarget::parse(url_or_path)? {
            SqliteTarget::Memory => SqliteStore::in_memory().await,
            SqliteTarget::File(path) => SqliteStore::open_file(&path).await,
        }
    }

    async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A one-off directory creation at start-up; not worth a blocking-pool hop.
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io { path: parent.to_owned(), source })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // 64 MiB of page cache per connection (SQLite's default is 2 MiB): the market's batches touch
            // indexes all over its tables, which would otherwise be read back from the OS on every commit.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new().max_connections(FILE_POOL_CONNECTIONS).connect_with(options).await?;
        let store = SqliteStore::migrated(pool).await?;
        tracing::info!(path = %path.display(), "store opened");
        Ok(store)
    }

    /// A fresh database in memory, for tests: it lives as long as this store (and its clones). The pool
    /// holds exactly one connection, never recycled, because each SQLite connection to `:memory:` would
    /// otherwise see a database of its own.
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SqliteStore::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<SqliteStore, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for what the trait does not cover (diagnostics, tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for open operations and closes every connection (which also checkpoints the WAL into the main
    /// file). Later calls fail. Dropping the store without closing is safe too: committed data is in the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction that takes SQLite's write lock at once. A deferred transaction that read first
    /// could find, when it comes to write, that another writer committed in between, and fail at once
    /// instead of waiting out the busy timeout.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A read transaction: SQLite's reads inside one transaction see one snapshot.
    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

crate::backend::sql_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
crate::economy::economy_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    crate::economy::Placeholders::Anonymous
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        let file = |p: &str| Ok(SqliteTarget::File(PathBuf::from(p)));
        assert_eq!(
            SqliteTarget::parse("sqlite:///var/lib/orrery.db").map_err(|e| e.to_string()),
            file("/var/lib/orrery.db")
        );
        assert_eq!(SqliteTarget::parse("sqlite://data/orrery.db").map_err(|e| e.to_string()), file("data/orrery.db"));
        assert_eq!(SqliteTarget::parse("sqlite:orrery.db").map_err(|e| e.to_string()), file("orrery.db"));
        assert_eq!(SqliteTarget::parse("/tmp/x.db").map_err(|e| e.to_string()), file("/tmp/x.db"));
        assert_eq!(SqliteTarget::parse("sqlite::memory:").ok(), Some(SqliteTarget::Memory));
        for bad in ["", "sqlite://", "mysql://host/db", "sqlite:///x.db?mode=ro"] {
            assert!(matches!(SqliteTarget::parse(bad), Err(StoreError::InvalidUrl(_))), "{bad}");
        }
    }
}
