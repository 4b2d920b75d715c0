//! Checkpoint throughput: one `save_ships` batch of 10,000 ships (a sol node's periodic checkpoint of a busy
//! node), on SQLite (a file, WAL) and on PostgreSQL. Throughput is reported in ships per second.
//!
//! The PostgreSQL case needs a server: `eval "$(scripts/services.sh start)"` first (it reads
//! `ORRERY_TEST_POSTGRES_URL` and makes a database of its own there); without it the benchmark stops, saying
//! so. Run: `cargo bench -p orrery-store --bench checkpoint`.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orrery_store::{NewShip, PostgresStore, ShipRow, SqliteStore, Store};

const SHIPS: usize = 10_000;

/// A store holding `SHIPS` characters with their ships, and the checkpoint batch that moves every one of them.
fn prepared(runtime: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> (Arc<dyn Store>, Vec<ShipRow>) {
    let batch = runtime.block_on(async {
        let account = store.create_account("bench", "$argon2id$bench").await.expect("account");
        let mut batch = Vec::with_capacity(SHIPS);
        for i in 0..SHIPS {
            let ship =
                NewShip { system_id: 30000142, position: [i as f64, 0.0, 0.0], velocity: [0.0; 3], ship_type_id: None };
            let character = store.create_character(account, &format!("pilot-{i}"), ship).await.expect("character");
            batch.push(ShipRow { in_space: true, position: [i as f64, 1.0, 2.0], ..character.ship });
        }
        batch
    });
    (store, batch)
}

fn checkpoint(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_path = dir.path().join("bench.db");
    let sqlite: Arc<dyn Store> =
        Arc::new(runtime.block_on(SqliteStore::open(sqlite_path.to_str().expect("utf-8 path"))).expect("sqlite store"));
    let server = std::env::var("ORRERY_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("ORRERY_TEST_POSTGRES_URL is not set: start PostgreSQL with `eval \"$(scripts/services.sh start)\"`")
    });
    let postgres: Arc<dyn Store> = runtime.block_on(async {
        let url = orrery_store::create_scratch_database(&server, "orrery_bench").await.expect("bench database");
        Arc::new(PostgresStore::open(&url).await.expect("postgres store")) as Arc<dyn Store>
    });

    let mut group = c.benchmark_group("checkpoint");
    group.throughput(Throughput::Elements(SHIPS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (name, store) in [("sqlite", sqlite), ("postgres", postgres)] {
        let (store, batch) = prepared(&runtime, store);
        group.bench_function(format!("{name}/save_ships_10000"), |b| {
            b.iter(|| {
                let written = runtime.block_on(store.save_ships(&batch)).expect("checkpoint");
                assert_eq!(written, SHIPS);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, checkpoint);
criterion_main!(benches);
