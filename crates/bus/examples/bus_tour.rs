//! Two roles talking over the in-process bus: a "node" answers pings addressed to its system.

use bytes::Bytes;
use orrery_bus::{Bus, InProcessBus};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bus = InProcessBus::new(1024);
    let mut system_inbox = bus.subscribe("system.30000142").await?;
    let mut proxy_inbox = bus.subscribe("proxy.1").await?;
    let node_bus = bus.clone();
    tokio::spawn(async move {
        while let Some(message) = system_inbox.next().await {
            let answer = format!("node saw {} bytes", message.len());
            let _ = node_bus.publish("proxy.1", Bytes::from(answer)).await;
        }
    });
    bus.publish("system.30000142", Bytes::from_static(b"ping")).await?;
    if let Some(answer) = proxy_inbox.next().await {
        println!("{}", String::from_utf8_lossy(&answer));
    }
    println!("{:?}", bus.stats());
    Ok(())
}
