//! A system leaving its node whole (a live migration) or coming back from the store (a failover).
//!
//! Export happens between two ticks: the sim (layout, tick, clock, ships with their orders), who flies each
//! ship, the entry queue, forwarding addresses, ships that just left, and the inbox messages not yet applied.
//! The new node had subscribed to the system's subject before the old one let go, so it holds every message
//! the old one did not take; the stamps (`seen`: per publisher, the highest the old node applied) say which
//! held messages the old node already took, and the tick drops those (see [`Hosted::tick`]).

use std::collections::VecDeque;

use bytes::Bytes;
use orrery_proto::v1::{self, server_envelope::Body as S};
use orrery_proto::{frame, reply};
use orrery_sim::SystemSim;

use super::{Hosted, TickEffects, Waiting};
use crate::convert;
use crate::persist::PersistJob;

/// Why a transferred state could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The sim state did not encode or decode (a version mismatch between nodes, or corruption).
    #[error("system state: {0}")]
    State(#[from] postcard::Error),
}

impl Hosted {
    /// The whole state of this system, to send to its new node; the system is `gone` here afterwards.
    pub fn export(&mut self, step: v1::MoveStep, next_tick_in_ms: u32) -> Result<v1::SystemTransfer, TransferError> {
        let sim = postcard::to_allocvec(&self.sim)?;
        // `seen` covers what this node applied; the inbox goes along unapplied, ahead of what the new node held.
        let inbox: Vec<Bytes> = self.inbox.drain(..).collect();
        self.gone = true;
        Ok(v1::SystemTransfer {
            step: Some(step),
            sim: Bytes::from(sim),
            tick_ms: self.tick_ms,
            max_players: self.max_players,
            pilots: self
                .pilots
                .iter()
                .map(|(&ship_id, &route)| v1::ShipPilot { ship_id, route: Some(route) })
                .collect(),
            queue: self
                .queue
                .iter()
                .map(|waiting| v1::QueuedEntry {
                    route: Some(waiting.route),
                    request_id: waiting.request_id,
                    ship: Some(waiting.ship.clone()),
                    told: waiting.told,
                })
                .collect(),
            jumped: self
                .jumped
                .iter()
                .map(|(&ship_id, &(destination, left_at_tick))| v1::Forwarding { ship_id, destination, left_at_tick })
                .collect(),
            left_here: self
                .left_here
                .values()
                .map(|(ship, left_at_tick)| v1::LeftShip { ship: Some(ship.clone()), left_at_tick: *left_at_tick })
                .collect(),
            inbox,
            seen: self.seen.iter().map(|(&origin, &(seq, _))| (origin, seq)).collect(),
            next_tick_in_ms,
        })
    }

    /// Take over a system from `transfer`, with the messages this node `held` since it subscribed to the
    /// system's subject: the transferred inbox first, then the held messages the old node had not received.
    pub fn import(transfer: &v1::SystemTransfer, held: VecDeque<Bytes>, step_ms: u64) -> Result<Hosted, TransferError> {
        let sim: SystemSim = postcard::from_bytes(&transfer.sim)?;
        let mut hosted = Hosted::new(sim, transfer.tick_ms.max(1), step_ms);
        hosted.max_players = transfer.max_players;
        hosted.pilots = transfer.pilots.iter().filter_map(|p| Some((p.ship_id, p.route?))).collect();
        hosted.queue = transfer
            .queue
            .iter()
            .filter_map(|q| {
                Some(Waiting { route: q.route?, request_id: q.request_id, ship: q.ship.clone()?, told: q.told })
            })
            .collect();
        hosted.jumped = transfer.jumped.iter().map(|f| (f.ship_id, (f.destination, f.left_at_tick))).collect();
        hosted.left_here = transfer
            .left_here
            .iter()
            .filter_map(|left| {
                let ship = left.ship.clone()?;
                Some((ship.ship_id, (ship, left.left_at_tick)))
            })
            .collect();
        let now = hosted.sim.tick();
        hosted.seen = transfer.seen.iter().map(|(&origin, &seq)| (origin, (seq, now))).collect();
        // The old node's unapplied inbox first, then what was held here. The tick drops, by stamp, every message
        // a publisher's stamps show as taken already: the held messages the old node applied, those the
        // transferred inbox also has, and any double still arriving from the subscription.
        hosted.inbox = transfer.inbox.iter().cloned().collect();
        hosted.inbox.extend(held);
        Ok(hosted)
    }

    /// Failover: the ships the store had in space here when the system's node died, restored at their last
    /// checkpoint. Each is written back with its handoff sequence one higher, so that a late checkpoint from
    /// the dead node (say it was only frozen) is refused by the store; the system's clients are told.
    pub fn restore(&mut self, ships: &[v1::ShipRecord], clock: (u64, u64), effects: &mut TickEffects) {
        self.sim.resume_clock(clock.0, clock.1);
        let mut rows = Vec::with_capacity(ships.len());
        for record in ships {
            let mut ship = convert::ship(record);
            ship.handoff_seq += 1;
            rows.push(convert::ship_row(&ship, self.system_id, true));
            if let Err(problem) = self.sim.add_ship(ship) {
                tracing::warn!(system = self.system_id, ship = record.ship_id, %problem, "ship not restored");
            }
        }
        if !rows.is_empty() {
            effects.persist.push(PersistJob::rows(rows));
        }
        let text = format!(
            "{} was restored on another node after its node failed; ships are where they were last saved",
            self.sim.layout().name
        );
        effects.publish.push((self.delta_subject.clone(), frame::encode(&reply(0, S::Notice(v1::Notice { text })))));
    }
}
