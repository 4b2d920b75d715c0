//! The in-process bus keeps the NATS-core semantics the roles rely on.

use bytes::Bytes;
use orrery_bus::{Bus, BusError, InProcessBus};

#[tokio::test]
async fn every_subscriber_gets_every_message_in_order() {
    let bus = InProcessBus::new(64);
    let mut a = bus.subscribe("system.1.delta").await.unwrap();
    let mut b = bus.subscribe("system.1.delta").await.unwrap();
    for i in 0..10u8 {
        bus.publish("system.1.delta", Bytes::from(vec![i])).await.unwrap();
    }
    for i in 0..10u8 {
        assert_eq!(a.next().await.unwrap()[..], [i]);
        assert_eq!(b.next().await.unwrap()[..], [i]);
    }
    assert_eq!(bus.stats().delivered, 20);
}

#[tokio::test]
async fn subjects_are_exact_and_unrelated_subjects_are_not_delivered() {
    let bus = InProcessBus::new(8);
    let mut one = bus.subscribe("system.1").await.unwrap();
    bus.publish("system.10", Bytes::from_static(b"x")).await.unwrap();
    bus.publish("system.1.delta", Bytes::from_static(b"y")).await.unwrap();
    assert!(one.try_next().is_none());
}

#[tokio::test]
async fn a_slow_subscriber_loses_messages_but_never_blocks_the_publisher() {
    let bus = InProcessBus::new(4);
    let mut slow = bus.subscribe("proxy.1").await.unwrap();
    let mut fast = bus.subscribe("proxy.1").await.unwrap();
    for i in 0..4u8 {
        bus.publish("proxy.1", Bytes::from(vec![i])).await.unwrap();
        assert_eq!(fast.next().await.unwrap()[..], [i]);
    }
    // `slow` is now full: the next publish completes at once and counts a drop.
    bus.publish("proxy.1", Bytes::from_static(b"late")).await.unwrap();
    assert_eq!(fast.next().await.unwrap(), "late");
    assert_eq!(bus.stats().dropped, 1);
    for i in 0..4u8 {
        assert_eq!(slow.next().await.unwrap()[..], [i]);
    }
    assert!(slow.try_next().is_none());
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let bus = InProcessBus::new(4);
    let sub = bus.subscribe("node.3").await.unwrap();
    assert_eq!(bus.subscribers("node.3"), 1);
    drop(sub);
    assert_eq!(bus.subscribers("node.3"), 0);
    bus.publish("node.3", Bytes::new()).await.unwrap();
    assert_eq!(bus.stats().delivered, 0);
}

#[tokio::test]
async fn invalid_subjects_are_refused_with_the_reason() {
    let bus = InProcessBus::new(4);
    for subject in ["", "system..1", "system.*", "a b", "system.>"] {
        let error = bus.publish(subject, Bytes::new()).await.unwrap_err();
        assert!(matches!(error, BusError::InvalidSubject { .. }), "{subject:?}: {error}");
        assert!(bus.subscribe(subject).await.is_err());
    }
}

#[tokio::test]
async fn payload_bytes_are_shared_not_copied() {
    let bus = InProcessBus::new(4);
    let mut a = bus.subscribe("cluster").await.unwrap();
    let payload = Bytes::from(vec![7u8; 1024]);
    bus.publish("cluster", payload.clone()).await.unwrap();
    let got = a.next().await.unwrap();
    assert_eq!(got.as_ptr(), payload.as_ptr());
}
