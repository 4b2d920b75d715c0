//! Rooms: the sessions of this proxy that are in one system. The first session to enter a system subscribes
//! the proxy to that system's deltas; the last to leave unsubscribes. Each delta arrives already framed and
//! is queued to every member as the same shared `Bytes`.
//!
//! Members are kept in session-id order, which is the order in which they connected: every delta is handed
//! out first-come first-served and in the same order each tick, so delivery order is deterministic (no hash
//! order), and a client that keeps per-sender state for many sessions (the chat race's generator, a relay
//! or a bot swarm) walks it in the same order every tick instead of at random.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use tokio::task::JoinHandle;

use crate::Shared;
use crate::link::Link;

#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<u32, Room>>,
}

struct Room {
    members: BTreeMap<u64, Arc<Link>>,
    forwarder: JoinHandle<()>,
}

impl Rooms {
    /// Add a session to a system's room, subscribing to its deltas if it is the first.
    pub async fn join(&self, shared: &Arc<Shared>, system: u32, session: u64, link: Arc<Link>) {
        if let Some(room) = self.rooms.lock().get_mut(&system) {
            room.members.insert(session, link);
            return;
        }
        let subscription = match shared.bus.subscribe(&orrery_proto::delta_subject(system)).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::error!(system, %error, "cannot subscribe to system deltas");
                return;
            }
        };
        let mut rooms = self.rooms.lock();
        // Another session may have created the room while we subscribed; then ours is simply dropped.
        let room = rooms.entry(system).or_insert_with(|| Room {
            members: BTreeMap::new(),
            forwarder: tokio::spawn(forward(shared.clone(), system, subscription)),
        });
        room.members.insert(session, link);
    }

    /// Remove a session from a room; the last one out closes the room and its subscription.
    pub fn leave(&self, system: u32, session: u64) {
        let mut rooms = self.rooms.lock();
        if let Some(room) = rooms.get_mut(&system) {
            room.members.remove(&session);
            if room.members.is_empty()
                && let Some(room) = rooms.remove(&system)
            {
                room.forwarder.abort();
            }
        }
    }

    fn fan_out(&self, system: u32, frame: &bytes::Bytes) -> u64 {
        let rooms = self.rooms.lock();
        let Some(room) = rooms.get(&system) else { return 0 };
        room.members.values().filter(|member| member.push(frame.clone())).count() as u64
    }
}

async fn forward(shared: Arc<Shared>, system: u32, mut subscription: orrery_bus::Subscription) {
    while let Some(frame) = subscription.next().await {
        let delivered = shared.rooms.fan_out(system, &frame);
        shared.stats.frames_out.fetch_add(delivered, std::sync::atomic::Ordering::Relaxed);
    }
}
