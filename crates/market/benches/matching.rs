//! The matching core in memory: order operations per second against a region holding 300,000 resting orders
//! (about the size of EVE's busiest region), spread over 40 item types. Run with
//! `cargo bench -p orrery-market --bench matching`; the results are in docs/benchmarks.md.
//!
//! Each benchmark keeps the book at its size: resting bids are placed and cancelled or repriced, and the asks a
//! crossing buy takes are put back. Bids (9,000–9,999) never cross asks (10,001–11,000), so only the crossing buy
//! trades. Criterion's throughput is order operations (place, cancel, modify) per second.

#![expect(missing_docs, reason = "criterion_main! generates an undocumented `pub fn main`")]

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use orrery_market::{
    BookKey, CharacterId, Event, Fees, ItemTypeId, Market, OrderId, OrderRequest, Owner, RegionId, Side, StationId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RESTING: usize = 300_000;
const ITEM_TYPES: u32 = 40;
const REGION: RegionId = RegionId(10000002);

/// A market of `RESTING` orders, half bids and half asks, and the ids of its bids.
struct Setup {
    market: Market,
    /// The open bids, with their owners and prices (so the benchmark itself looks nothing up in the market).
    bids: Vec<(OrderId, Owner, i64)>,
    rng: ChaCha8Rng,
    events: Vec<Event>,
}

fn request(rng: &mut ChaCha8Rng, side: Side, price: i64, quantity: i64) -> OrderRequest {
    OrderRequest {
        owner: Owner::Character(CharacterId(rng.random_range(0..1_000))),
        side,
        book: BookKey { region: REGION, item: ItemTypeId(rng.random_range(1..=ITEM_TYPES)) },
        station: StationId(60003760),
        quantity,
        price,
        expires_at: u64::MAX,
    }
}

fn bid(rng: &mut ChaCha8Rng) -> OrderRequest {
    let (price, quantity) = (rng.random_range(9_000..10_000), rng.random_range(1..100));
    request(rng, Side::Buy, price, quantity)
}

fn ask(rng: &mut ChaCha8Rng) -> OrderRequest {
    let price = rng.random_range(10_001..=11_000);
    request(rng, Side::Sell, price, 1)
}

impl Setup {
    fn new() -> Setup {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut market = Market::new(Fees::default());
        let mut events = Vec::new();
        let mut bids = Vec::with_capacity(RESTING / 2);
        for i in 0..RESTING {
            let order = if i % 2 == 0 { bid(&mut rng) } else { ask(&mut rng) };
            let id = market.place(&order, 0, &mut events).expect("a valid order");
            if order.side == Side::Buy {
                bids.push((id, order.owner, order.price));
            }
            events.clear();
        }
        assert_eq!(market.len(), RESTING, "no order of the setup crossed");
        Setup { market, bids, rng, events }
    }

    /// Places a resting bid.
    fn place_bid(&mut self) {
        let order = bid(&mut self.rng);
        let id = self.market.place(&order, 0, &mut self.events).expect("a valid order");
        self.bids.push((id, order.owner, order.price));
        self.events.clear();
    }

    /// Cancels a random bid.
    fn cancel_bid(&mut self) {
        let pick = self.rng.random_range(0..self.bids.len());
        let (id, owner, _) = self.bids.swap_remove(pick);
        self.market.cancel(owner, id, &mut self.events).expect("the owner cancels");
        self.events.clear();
    }

    /// A buy of 1 that takes the best ask of a random item, and a new ask in its place.
    fn cross_and_replenish(&mut self) {
        let buy = request(&mut self.rng, Side::Buy, 11_000, 1);
        self.market.place(&buy, 0, &mut self.events).expect("a valid order");
        debug_assert!(matches!(self.events[1], Event::Filled(_)));
        self.events.clear();
        let sell = ask(&mut self.rng);
        self.market.place(&sell, 0, &mut self.events).expect("a valid order");
        self.events.clear();
    }

    /// Moves a random bid to another price.
    fn modify_bid(&mut self) {
        let pick = self.rng.random_range(0..self.bids.len());
        let (id, owner, old) = self.bids[pick];
        let mut price: i64 = self.rng.random_range(9_000..10_000);
        if price == old {
            price = 9_000 + (price - 9_000 + 1) % 1_000;
        }
        self.bids[pick].2 = price;
        self.market.modify(owner, id, price, &mut self.events).expect("a valid price");
        self.events.clear();
    }
}

/// The CPU time this thread has used. The machine is shared (other builds run beside the benchmark), so wall time
/// measures the scheduler as much as the market; the thread's own CPU time is what "ops per second on one core"
/// means.
// The workspace denies `unsafe_code`; this one call is allowed because the standard library has no per-thread CPU
// clock, and it is confined to the benchmark (the market library itself has no unsafe code).
#[expect(unsafe_code, reason = "clock_gettime(CLOCK_THREAD_CPUTIME_ID) has no safe equivalent in std")]
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives for the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: no per-thread CPU clock here");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Runs `op` `iterations` times, timed by the thread's CPU clock.
fn on_cpu(setup: &mut Setup, iterations: u64, op: impl Fn(&mut Setup)) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iterations {
        op(setup);
    }
    thread_cpu_time() - start
}

fn mixed(setup: &mut Setup) {
    setup.place_bid();
    setup.cancel_bid();
    setup.cross_and_replenish();
    setup.modify_bid();
}

fn bench_matching(c: &mut Criterion) {
    let mut setup = Setup::new();
    let mut group = c.benchmark_group("market, 300,000 resting orders in one region, thread CPU time");
    group.throughput(Throughput::Elements(2));
    group.bench_function("place a resting bid + cancel a bid", |b| {
        b.iter_custom(|n| {
            on_cpu(&mut setup, n, |s| {
                s.place_bid();
                s.cancel_bid();
            })
        });
    });
    group.bench_function("crossing buy (fills 1) + replenishing ask", |b| {
        b.iter_custom(|n| on_cpu(&mut setup, n, Setup::cross_and_replenish));
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("modify a bid's price", |b| b.iter_custom(|n| on_cpu(&mut setup, n, Setup::modify_bid)));
    group.throughput(Throughput::Elements(5));
    group.bench_function("mixed: place, cancel, cross, replenish, modify", |b| {
        b.iter_custom(|n| on_cpu(&mut setup, n, mixed));
    });
    group.finish();

    let mut group = c.benchmark_group("market, 300,000 resting orders in one region, wall time");
    group.throughput(Throughput::Elements(5));
    group.bench_function("mixed: place, cancel, cross, replenish, modify", |b| b.iter(|| mixed(&mut setup)));
    group.finish();
    assert_eq!(setup.market.len(), RESTING, "the book kept its size");

    // Building the book itself: 300,000 placements into an empty market.
    let mut group = c.benchmark_group("market, filling one region, wall time");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RESTING as u64));
    group.bench_function("place 300,000 resting orders", |b| {
        b.iter_batched(|| (), |()| Setup::new(), BatchSize::PerIteration);
    });
    group.finish();
}

criterion_group!(benches, bench_matching);
criterion_main!(benches);
