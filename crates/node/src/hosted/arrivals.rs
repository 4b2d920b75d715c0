//! Ships entering space here: an undock or a login into space (`EnterSpace`), or a jump from another system
//! (`Handoff`). A full system queues entering ships and bounces jumping ones back through their gate.

use orrery_proto::v1::{self, server_envelope::Body as S, system_inbox::Body as In};
use orrery_proto::{error, reply};

use super::{Entered, Hosted, TickContext, TickEffects, Waiting, forward, left};
use crate::convert;
use crate::persist::PersistJob;

impl Hosted {
    /// An undock: the ship enters now, or waits in line while the system is full. A ship that is already here
    /// — flown or waiting for another session — is taken over by this one, live, where it is; a ship that
    /// left space here moments ago comes back as it left, whatever older copy the undock carries.
    pub(super) fn on_enter(&mut self, enter: v1::EnterSpace, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        let route = enter.route.unwrap_or_default();
        let request_id = enter.request_id;
        let Some(ship) = &enter.ship else { return };
        let ship_id = ship.ship_id;
        if let Some(live) = self.sim.ship(ship_id) {
            let handoff_seq = live.handoff_seq;
            self.new_pilot(ship_id, route, effects);
            entered.push(Entered { route, request_id, ship_id, handoff_seq });
            return;
        }
        if let Some(waiting) = self.queue.iter_mut().find(|w| w.ship.ship_id == ship_id) {
            let old = std::mem::replace(&mut waiting.route, route);
            (waiting.request_id, waiting.told) = (request_id, 0);
            if old != route {
                effects.publish.push(left(old, &Hosted::replaced(0, ship_id)));
            }
            return;
        }
        let Some(In::Enter(enter)) = self.follow_jumped(ship_id, In::Enter(enter), effects) else { return };
        let Some(mut record) = enter.ship else { return };
        if let Some((latest, _)) = self.left_here.remove(&ship_id)
            && latest.handoff_seq >= record.handoff_seq
        {
            record = latest;
        }
        if self.is_full() || !self.queue.is_empty() {
            self.queue.push_back(Waiting { route, request_id, ship: record, told: 0 });
            return;
        }
        self.enter(route, request_id, &record, entered, effects);
    }

    /// `route` flies the ship from now on; a different session that flew it is told it lost it.
    fn new_pilot(&mut self, ship_id: u64, route: v1::SessionRoute, effects: &mut TickEffects) {
        if let Some(old) = self.pilots.insert(ship_id, route)
            && old != route
        {
            tracing::info!(system = self.system_id, ship = ship_id, "ship taken over by a newer session");
            effects.publish.push(left(old, &Hosted::replaced(0, ship_id)));
        }
    }

    /// A ship jumping in from another system: placed at the gate back there, or bounced if this system is full.
    pub(super) fn on_handoff(
        &mut self,
        handoff: v1::Handoff,
        context: &TickContext<'_>,
        entered: &mut Vec<Entered>,
        effects: &mut TickEffects,
    ) {
        let route = handoff.route.unwrap_or_default();
        let Some(record) = handoff.ship else { return };
        let ship = convert::ship(&record);
        let (ship_id, handoff_seq) = (ship.id, ship.handoff_seq);
        if self.sim.ship(ship_id).is_some() {
            // A duplicate delivery of a handoff already applied: the ship is here once.
            tracing::warn!(system = self.system_id, ship = ship_id, "duplicate handoff ignored");
            return;
        }
        if self.is_full() {
            // Full: the ship goes back through the gate it came from, and the pilot is told why.
            let mut back = record.clone();
            back.system_id = handoff.from_system_id;
            back.handoff_seq += 1;
            let bounce = self.stamper.encode(In::Handoff(v1::Handoff {
                route: Some(route),
                request_id: 0,
                ship: Some(back),
                from_system_id: self.system_id,
                arrival_gate_id: 0,
            }));
            effects.publish.push((orrery_proto::system_subject(handoff.from_system_id), bounce));
            let reason = format!(
                "system {} is full ({} of {} players): the ship stays at its gate",
                self.system_id,
                self.sim.ship_count(),
                self.max_players
            );
            effects.publish.push(forward(route, &error(handoff.request_id, v1::ErrorCode::SystemFull, reason)));
            return;
        }
        match self.sim.arrive(ship, handoff.from_system_id) {
            Ok(()) => {
                if let Some(metrics) = context.metrics {
                    metrics.count_handoff();
                }
                let arrival = Entered { route, request_id: handoff.request_id, ship_id, handoff_seq };
                self.new_pilot(ship_id, route, effects);
                self.now_in_space(arrival, entered, effects);
            }
            Err(problem) => tracing::error!(system = self.system_id, ship = ship_id, %problem, "handoff refused"),
        }
    }

    fn is_full(&self) -> bool {
        self.sim.ship_count() >= self.max_players as usize
    }

    /// Players waiting for a place in this system.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Let waiting ships in while there is room (a raised cap admits them at the next tick), and tell the rest
    /// their new place in line.
    pub(super) fn admit_waiting(&mut self, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        while !self.is_full()
            && let Some(waiting) = self.queue.pop_front()
        {
            self.enter(waiting.route, waiting.request_id, &waiting.ship, entered, effects);
        }
        let (system_id, cap) = (self.system_id, self.max_players);
        for (index, waiting) in self.queue.iter_mut().enumerate() {
            let position = index as u32 + 1;
            if waiting.told != position {
                waiting.told = position;
                let queued = reply(waiting.request_id, S::Queued(v1::Queued { system_id, position, cap }));
                effects.publish.push(forward(waiting.route, &queued));
            }
        }
    }

    /// Put a ship into space here (undock or login), or answer why not.
    fn enter(
        &mut self,
        route: v1::SessionRoute,
        request_id: u32,
        record: &v1::ShipRecord,
        entered: &mut Vec<Entered>,
        effects: &mut TickEffects,
    ) {
        let ship = convert::ship(record);
        let (ship_id, handoff_seq) = (ship.id, ship.handoff_seq);
        match self.sim.add_ship(ship) {
            Ok(()) => {
                self.new_pilot(ship_id, route, effects);
                self.now_in_space(Entered { route, request_id, ship_id, handoff_seq }, entered, effects);
            }
            Err(problem) => {
                let answer = error(request_id, v1::ErrorCode::AlreadyInSpace, problem.to_string());
                effects.publish.push(left(route, &answer));
            }
        }
    }

    /// A ship just placed in this system (undock or jump): it is here for good, so forget any forwarding
    /// address, store it, and send its session the snapshot once the tick is done.
    fn now_in_space(&mut self, arrival: Entered, entered: &mut Vec<Entered>, effects: &mut TickEffects) {
        self.jumped.remove(&arrival.ship_id);
        if let Some(ship) = self.sim.ship(arrival.ship_id) {
            effects.persist.push(PersistJob::rows(vec![convert::ship_row(ship, self.system_id, true)]));
        }
        entered.push(arrival);
    }
}
