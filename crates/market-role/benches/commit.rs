//! End-to-end market throughput with durability: operations run through `MarketService` (validation,
//! matching, escrow) and committed to a real store in batches (one transaction per batch, as the market role
//! commits per 20 ms tick). Prints operations per second committed, as the median of rounds, and the median
//! commit time of a batch (what a client waits at most beyond the tick for its answer).
//!
//! `cargo bench -p orrery-market-role --bench commit` (SQLite file in a temp dir);
//! `ORRERY_BENCH_STORE=postgres` with `ORRERY_TEST_POSTGRES_URL` set (`eval "$(scripts/services.sh start)"`)
//! for PostgreSQL. `ORRERY_BENCH_BATCH` (default 1000) and `ORRERY_BENCH_OPS` (per round, default 50000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use orrery_market_role::{MarketService, Op, RateLimiter, load_setup};
use orrery_store::Store;

const CHARACTERS: u64 = 1_000;
const VELDSPAR: u32 = 1230;
const ROUNDS: usize = 5;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    match std::env::var("ORRERY_BENCH_STORE").as_deref() {
        Ok("postgres") => {
            let server = std::env::var("ORRERY_TEST_POSTGRES_URL")
                .expect("ORRERY_BENCH_STORE=postgres needs ORRERY_TEST_POSTGRES_URL (scripts/services.sh start)");
            let url = orrery_store::create_scratch_database(&server, "market_bench").await.expect("scratch database");
            orrery_store::open(&url).await.expect("open PostgreSQL")
        }
        _ => orrery_store::open(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.expect("open"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let batch = env("ORRERY_BENCH_BATCH", 1_000);
    let per_round = env("ORRERY_BENCH_OPS", 50_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir).await;
    let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig { systems: 5_000, seed: 1 });
    let data = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let setup = load_setup(&data, &universe).expect("data/items.csv");
    let hub = setup.stations.iter().find(|s| s.hub).expect("a hub").id.0;
    let mut market = MarketService::open(store.clone(), setup, RateLimiter::unlimited()).await.expect("open");
    for character in 1..=CHARACTERS {
        market.submit(&Op::Grant { character, amount: 100_000_000_000 }, 0).expect("grant");
        market.submit(&Op::Mine { character, station: hub, item: VELDSPAR, quantity: 10_000_000 }, 0).expect("mine");
    }
    market.commit().await.expect("commit");

    let mut rates = Vec::new();
    let mut commits: Vec<Duration> = Vec::new();
    let mut fills_before = 0u64;
    let mut i = 0u64;
    let mut placed: Vec<(u64, u64)> = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for n in 0..per_round {
            i += 1;
            let now = 1_000 + i;
            let character = 1 + (i * 7919) % CHARACTERS;
            let op = if i.is_multiple_of(10) && !placed.is_empty() {
                let (owner, order) = placed.swap_remove((i as usize * 31) % placed.len());
                Op::Cancel { character: owner, order }
            } else {
                Op::Place {
                    character,
                    docked_at: Some(hub),
                    buy: i.is_multiple_of(2),
                    station: hub,
                    item: VELDSPAR,
                    quantity: 10 + (i % 20) as i64,
                    price: 1_400 + ((i * 37) % 200) as i64,
                    expires_at: now + 3_600_000,
                }
            };
            if let Ok(result) = market.submit(&op, now)
                && let Some(id) = result.id
            {
                placed.push((character, id));
            }
            if (n + 1).is_multiple_of(batch) {
                let t = Instant::now();
                market.commit().await.expect("commit");
                commits.push(t.elapsed());
            }
        }
        market.commit().await.expect("commit");
        rates.push(per_round as f64 / start.elapsed().as_secs_f64());
    }
    for character in 1..=3 {
        fills_before += store.economy().transactions(character, 1_000_000).await.expect("fills").len() as u64;
    }
    let balances = store.economy().economy_balances().await.expect("balances");
    let imbalances = orrery_market_role::stored_imbalances(&balances);
    rates.sort_by(f64::total_cmp);
    commits.sort();
    let median = rates[rates.len() / 2];
    let commit_median = commits[commits.len() / 2];
    let commit_p99 = commits[commits.len() * 99 / 100];
    println!(
        "store={} batch={batch} ops/round={per_round} rounds={ROUNDS}: median {median:.0} committed ops/s \
         (min {:.0}, max {:.0}); commit of a batch: median {:.1} ms, p99 {:.1} ms; open orders {}; \
         fills by characters 1-3: {fills_before}; conservation over the stored rows: {}",
        std::env::var("ORRERY_BENCH_STORE").unwrap_or_else(|_| "sqlite".into()),
        rates[0],
        rates[rates.len() - 1],
        commit_median.as_secs_f64() * 1e3,
        commit_p99.as_secs_f64() * 1e3,
        market.exchange().market().len(),
        if imbalances.is_empty() { "ok".to_owned() } else { format!("BROKEN {imbalances:?}") },
    );
}
