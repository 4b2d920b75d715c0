//! The PostgreSQL store: one database server shared by every process of a distributed cluster.
//!
//! What is PostgreSQL-only lives here: the connection pool (with a bounded wait for the server, so an
//! unreachable one is an error naming it instead of a hang), its own migrations (`migrations/postgres`, table
//! for table the SQLite ones), and a repeatable-read snapshot for reads that must see one save whole. The
//! statements are the portable ones of [`crate::sql`], run by the implementation both backends share
//! ([`crate::backend`]). Writers use PostgreSQL's row locks: concurrent checkpoints of different ships run
//! side by side, and the handoff-sequence fence is the `UPDATE`'s own condition, evaluated on the row as
//! committed, so a late checkpoint can never win.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Postgres};

use crate::StoreError;

/// How long opening waits for the server, and any call for a free connection, before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of the pool: enough for a process's roles to write side by side.
const POOL_CONNECTIONS: u32 = 8;

/// The embedded migrations, applied on open (recorded in `_sqlx_migrations`, so opening again is a no-op).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`](crate::Store) in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`) and brings its
    /// schema up to date. [`StoreError::Unreachable`] names the server when it does not answer within
    /// [`CONNECT_TIMEOUT`].
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|problem: sqlx::Error| StoreError::InvalidUrl(format!("{}: {problem}", redacted(url))))?;
        let unreachable = |reason: String| StoreError::Unreachable { url: redacted(url), reason };
        // One connection first, for the real reason when it fails (the pool would only say it timed out).
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|problem| unreachable(problem.to_string()))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|problem| unreachable(problem.to_string()))?;
        MIGRATOR.run(&pool).await?;
        tracing::info!(url = %redacted(url), "store opened");
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for what the trait does not cover (diagnostics, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Waits for open operations and closes every connection. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction (READ COMMITTED: every statement's conditions see the rows as committed, and row
    /// locks order writers of the same rows).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// A read transaction whose statements all see one snapshot (a mapping's epoch and its rows of the same
    /// save).
    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?)
    }
}

crate::backend::sql_store!(PostgresStore, sqlx::Postgres, sqlx::postgres::PgRow);
crate::economy::economy_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    crate::economy::Placeholders::Numbered
);

/// Creates a new, empty database named `PREFIX_<process id>_<nanoseconds>` on the server `server_url` points
/// at (through its database, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and returns the new
/// database's URL: for tests and benchmarks that each need a database of their own on one throwaway server.
pub async fn create_scratch_database(server_url: &str, prefix: &str) -> Result<String, StoreError> {
    let (base, _) = server_url
        .rsplit_once('/')
        .filter(|(base, _)| base.contains("://"))
        .ok_or_else(|| StoreError::InvalidUrl(format!("{} names no database", redacted(server_url))))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("{prefix}_{}_{nanos}", std::process::id());
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::invalid(format!("database name {name:?}: letters, digits and _ only")));
    }
    let options: PgConnectOptions = server_url
        .parse()
        .map_err(|problem: sqlx::Error| StoreError::InvalidUrl(format!("{}: {problem}", redacted(server_url))))?;
    let mut admin = PgConnection::connect_with(&options)
        .await
        .map_err(|problem| StoreError::Unreachable { url: redacted(server_url), reason: problem.to_string() })?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    let _ = admin.close().await;
    Ok(format!("{base}/{name}"))
}

/// A store URL without its password, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(redacted("postgres://orrery:s3cret@db:5432/orrery"), "postgres://orrery:***@db:5432/orrery");
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redacted("postgres://db/orrery"), "postgres://db/orrery");
    }
}
