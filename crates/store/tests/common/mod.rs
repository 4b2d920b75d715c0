//! Helpers shared by the integration tests (each test file uses some of them), and the two backends the
//! conformance cases run against.
#![allow(dead_code)]

use std::sync::Arc;

use orrery_store::{NewShip, PostgresStore, SqliteStore, Store, StoreError};

/// The variable naming the PostgreSQL server the PostgreSQL cases use (scripts/services.sh sets it).
pub const POSTGRES_URL_VARIABLE: &str = "ORRERY_TEST_POSTGRES_URL";

/// A store on a fresh file in a temporary directory (kept alive by the returned guard).
pub async fn file_store() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("orrery.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 temp path")).await.expect("open a fresh store");
    (dir, path, store)
}

/// Which implementation a conformance case runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty store of one backend, with raw SQL access to its database (as an operator's SQL client).
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
}

/// The store's own pool, for SQL the trait does not cover.
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Backend {
    /// A new database: a file in a temporary directory (SQLite), or a database of its own on the test
    /// server (PostgreSQL), so that cases running at the same time never see each other's rows.
    pub async fn fresh(self) -> Fresh {
        match self {
            Backend::Sqlite => {
                let (dir, _path, store) = file_store().await;
                let raw = Raw::Sqlite(store.pool().clone());
                Fresh { store: Arc::new(store), raw, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let store = postgres_store().await;
                let raw = Raw::Postgres(store.pool().clone());
                Fresh { store: Arc::new(store), raw, _dir: None }
            }
        }
    }
}

/// The test server's URL; fails loudly, naming what to run, when it is not set.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VARIABLE} is not set: this test needs a PostgreSQL server. Run the tests through \
             scripts/test.sh, or start one with `eval \"$(scripts/services.sh start)\"`"
        )
    })
}

/// A [`PostgresStore`] on a new database of the test server.
pub async fn postgres_store() -> PostgresStore {
    let url = postgres_url();
    let database = orrery_store::create_scratch_database(&url, "orrery_test")
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VARIABLE}={url}: {e}"));
    PostgresStore::open(&database).await.expect("open the test database")
}

impl Fresh {
    /// Rows in a table, straight from SQL.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let row: (i64,) = match &self.raw {
            Raw::Sqlite(pool) => sqlx::query_as(&sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(&sql).fetch_one(pool).await,
        }
        .expect("count rows");
        row.0
    }

    /// Runs one statement of SQL, as an operator would.
    pub async fn execute(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The cases named, each run once per backend (module `sqlite` and module `postgres`).
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// A ship at rest in Jita-ish space.
pub fn new_ship(system_id: u32, x: f64) -> NewShip {
    NewShip { system_id, position: [x, -2.0, 3.5e9], velocity: [0.0, 10.0, -0.5], ship_type_id: Some(587) }
}

/// An account with one character; returns (account id, character id, ship id).
pub async fn pilot(store: &dyn Store, name: &str) -> Result<(u64, u64, u64), StoreError> {
    let account = store.create_account(&format!("{name}-account"), "$argon2id$hash").await?;
    let character = store.create_character(account, name, new_ship(30000142, 1.0)).await?;
    Ok((account, character.character_id, character.ship.ship_id))
}

/// Rows in a table of a SQLite store, straight from SQL.
pub async fn count(store: &SqliteStore, table: &str) -> i64 {
    let row: (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(store.pool()).await.expect("count rows");
    row.0
}
