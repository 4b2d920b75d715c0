//! What only the in-process bus promises, beyond the conformance suite (tests/conformance.rs) that every bus
//! passes.

use bytes::Bytes;
use orrery_bus::{Bus, InProcessBus};

#[tokio::test]
async fn dropping_a_subscription_removes_it_from_the_subject_table() {
    let bus = InProcessBus::new(4);
    let sub = bus.subscribe("node.3").await.unwrap();
    assert_eq!(bus.subscribers("node.3"), 1);
    drop(sub);
    assert_eq!(bus.subscribers("node.3"), 0);
    bus.publish("node.3", Bytes::new()).await.unwrap();
    assert_eq!(bus.stats().delivered, 0);
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

#[tokio::test]
async fn the_payload_limit_can_be_set() {
    let bus = InProcessBus::with_max_payload(4, 10);
    assert_eq!(bus.max_payload(), 10);
    bus.publish("cluster", Bytes::from(vec![0u8; 10])).await.unwrap();
    assert!(bus.publish("cluster", Bytes::from(vec![0u8; 11])).await.is_err());
}
