//! One conformance suite for every `Bus` implementation: each case runs against the in-process bus and
//! against a real NATS server, so that a role behaves the same on either.
//!
//! The NATS cases need a server: `scripts/services.sh` starts a throwaway one and exports its address as
//! `ORRERY_TEST_NATS_URL` (scripts/test.sh does this). Without it they fail, saying so; they never skip.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use orrery_bus::{Bus, BusError, InProcessBus, NatsBus};

const NATS_URL_VARIABLE: &str = "ORRERY_TEST_NATS_URL";
const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
enum Kind {
    InProcess,
    Nats,
}

/// Two handles on one bus (for NATS, two connections to the server) and a subject prefix of this test's
/// own, since tests share the server.
struct Pair {
    a: Arc<dyn Bus>,
    b: Arc<dyn Bus>,
    prefix: String,
}

impl Pair {
    fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.prefix)
    }
}

impl Kind {
    /// Every subscription on the pair queues at most `capacity` messages.
    async fn pair(self, capacity: usize) -> Pair {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let prefix = format!("t{}x{nanos}", std::process::id());
        match self {
            Kind::InProcess => {
                let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(capacity));
                Pair { a: bus.clone(), b: bus, prefix }
            }
            Kind::Nats => {
                let url = std::env::var(NATS_URL_VARIABLE).unwrap_or_else(|_| {
                    panic!(
                        "{NATS_URL_VARIABLE} is not set: this test needs a NATS server. Run the tests through \
                         scripts/test.sh, or start one with `eval \"$(scripts/services.sh start)\"`"
                    )
                });
                let connect = |url: String| async move {
                    NatsBus::connect(&url, capacity)
                        .await
                        .unwrap_or_else(|problem| panic!("{NATS_URL_VARIABLE}={url}: {problem}"))
                };
                Pair { a: Arc::new(connect(url.clone()).await), b: Arc::new(connect(url).await), prefix }
            }
        }
    }
}

async fn next(subscription: &mut orrery_bus::Subscription) -> Bytes {
    tokio::time::timeout(WAIT, subscription.next()).await.expect("a message within 10 s").expect("bus open")
}

/// No message arrives within a short while (for "nothing is delivered").
async fn nothing_more(subscription: &mut orrery_bus::Subscription) {
    if let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await {
        panic!("unexpected message {message:?}");
    }
}

async fn one_publishers_messages_to_one_subject_arrive_in_order(kind: Kind) {
    let pair = kind.pair(4096).await;
    let subject = pair.subject("system.1");
    let mut inbox = pair.b.subscribe(&subject).await.unwrap();
    for i in 0..2000u32 {
        pair.a.publish(&subject, Bytes::from(i.to_be_bytes().to_vec())).await.unwrap();
    }
    for i in 0..2000u32 {
        assert_eq!(next(&mut inbox).await[..], i.to_be_bytes(), "message {i} out of order");
    }
    nothing_more(&mut inbox).await;
}

async fn every_subscription_gets_its_own_copy(kind: Kind) {
    let pair = kind.pair(64).await;
    let subject = pair.subject("system.1.delta");
    let mut on_a = pair.a.subscribe(&subject).await.unwrap();
    let mut on_b = pair.b.subscribe(&subject).await.unwrap();
    let mut also_on_b = pair.b.subscribe(&subject).await.unwrap();
    for i in 0..10u8 {
        pair.a.publish(&subject, Bytes::from(vec![i])).await.unwrap();
    }
    for i in 0..10u8 {
        for inbox in [&mut on_a, &mut on_b, &mut also_on_b] {
            assert_eq!(next(inbox).await[..], [i]);
        }
    }
}

async fn subjects_are_exact(kind: Kind) {
    let pair = kind.pair(8).await;
    let mut one = pair.b.subscribe(&pair.subject("system.1")).await.unwrap();
    pair.a.publish(&pair.subject("system.10"), Bytes::from_static(b"x")).await.unwrap();
    pair.a.publish(&pair.subject("system.1.delta"), Bytes::from_static(b"y")).await.unwrap();
    pair.a.publish(&pair.subject("system"), Bytes::from_static(b"z")).await.unwrap();
    nothing_more(&mut one).await;
}

async fn publishing_to_a_subject_nobody_follows_is_fine(kind: Kind) {
    let pair = kind.pair(8).await;
    pair.a.publish(&pair.subject("nobody.here"), Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(pair.a.stats().published, 1);
}

async fn nothing_is_delivered_after_unsubscribe(kind: Kind) {
    let pair = kind.pair(8).await;
    let subject = pair.subject("node.3");
    let mut gone = pair.b.subscribe(&subject).await.unwrap();
    pair.a.publish(&subject, Bytes::from_static(b"before")).await.unwrap();
    assert_eq!(next(&mut gone).await, "before");
    let delivered_before = pair.b.stats().delivered;
    drop(gone);
    // A witness subscribed after the drop proves the next message went out.
    let mut witness = pair.b.subscribe(&subject).await.unwrap();
    pair.a.publish(&subject, Bytes::from_static(b"after")).await.unwrap();
    assert_eq!(next(&mut witness).await, "after");
    nothing_more(&mut witness).await;
    assert_eq!(pair.b.stats().delivered, delivered_before + 1, "only the witness got a copy");
}

async fn a_subscription_is_live_when_subscribe_returns(kind: Kind) {
    // Subscribing on one handle and publishing at once on the other: nothing published after `subscribe`
    // returned may be missed (the roles rely on it at startup and when a system is added).
    let pair = kind.pair(8).await;
    for round in 0..20 {
        let subject = pair.subject(&format!("round.{round}"));
        let mut inbox = pair.b.subscribe(&subject).await.unwrap();
        pair.a.publish(&subject, Bytes::from_static(b"first")).await.unwrap();
        assert_eq!(next(&mut inbox).await, "first", "round {round}");
    }
}

async fn a_payload_at_the_limit_passes_whole_and_one_byte_more_is_refused_clearly(kind: Kind) {
    let pair = kind.pair(8).await;
    let subject = pair.subject("large");
    let max = pair.a.max_payload();
    assert!(max >= 1024 * 1024, "a limit of at least 1 MiB (NATS's default), got {max}");
    let mut inbox = pair.b.subscribe(&subject).await.unwrap();
    let whole: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    pair.a.publish(&subject, Bytes::from(whole.clone())).await.unwrap();
    assert!(next(&mut inbox).await == whole, "the largest payload arrives intact");

    let error = pair.a.publish(&subject, Bytes::from(vec![0u8; max + 1])).await.unwrap_err();
    match &error {
        BusError::PayloadTooLarge { subject: named, size, max: limit } => {
            assert_eq!((named.as_str(), *size, *limit), (subject.as_str(), max + 1, max));
        }
        other => panic!("expected PayloadTooLarge, got {other}"),
    }
    let text = error.to_string();
    assert!(text.contains(&subject) && text.contains(&(max + 1).to_string()), "{text}");
    nothing_more(&mut inbox).await;
}

async fn invalid_subjects_are_refused_with_the_reason(kind: Kind) {
    let pair = kind.pair(4).await;
    for subject in ["", "system..1", "system.*", "a b", "system.>", ".system", "system."] {
        let error = pair.a.publish(subject, Bytes::new()).await.unwrap_err();
        assert!(matches!(error, BusError::InvalidSubject { .. }), "{subject:?}: {error}");
        assert!(matches!(pair.a.subscribe(subject).await, Err(BusError::InvalidSubject { .. })), "{subject:?}");
    }
}

async fn a_slow_subscriber_loses_messages_but_never_blocks_the_publisher_or_the_others(kind: Kind) {
    let pair = kind.pair(4).await;
    let subject = pair.subject("proxy.1");
    let mut slow = pair.b.subscribe(&subject).await.unwrap();
    let mut fast = pair.b.subscribe(&subject).await.unwrap();
    // `fast` reads every message as it comes; `slow` reads nothing until the end.
    for i in 0..100u8 {
        pair.a.publish(&subject, Bytes::from(vec![i])).await.unwrap();
        assert_eq!(next(&mut fast).await[..], [i]);
    }
    let deadline = Instant::now() + WAIT;
    while pair.b.stats().dropped < 96 {
        assert!(Instant::now() < deadline, "drops counted: {:?}", pair.b.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pair.b.stats().dropped, 96);
    for i in 0..4u8 {
        assert_eq!(next(&mut slow).await[..], [i], "the slow subscriber keeps the oldest, in order");
    }
    nothing_more(&mut slow).await;
}

/// The cases, each run once per implementation (module `in_process` and module `nats`).
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::InProcess).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::Nats).await;
                }
            )*
        }
    };
}

conformance!(
    one_publishers_messages_to_one_subject_arrive_in_order,
    every_subscription_gets_its_own_copy,
    subjects_are_exact,
    publishing_to_a_subject_nobody_follows_is_fine,
    nothing_is_delivered_after_unsubscribe,
    a_subscription_is_live_when_subscribe_returns,
    a_payload_at_the_limit_passes_whole_and_one_byte_more_is_refused_clearly,
    invalid_subjects_are_refused_with_the_reason,
    a_slow_subscriber_loses_messages_but_never_blocks_the_publisher_or_the_others,
);

#[tokio::test]
async fn an_unreachable_nats_server_is_named_in_the_error() {
    // A port nobody listens on: bind one, read it back, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let error = NatsBus::connect(&url, 8).await.err().expect("no server there");
    assert!(matches!(error, BusError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
}
