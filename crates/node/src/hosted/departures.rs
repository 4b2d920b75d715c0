//! Ships leaving space here (logout, disconnect, a queued undock given up): taken out of the sim and stored,
//! and the session's answer sent only once the store has the ship.

use orrery_proto::reply;
use orrery_proto::v1::{self, server_envelope::Body as S, system_inbox::Body as In};

use super::{Hosted, TickEffects, left};
use crate::convert;
use crate::persist::PersistJob;

impl Hosted {
    /// Take a ship out of space (or out of the queue); a leave for a ship that just jumped out follows it.
    pub(super) fn on_leave(&mut self, leave: v1::LeaveSpace, effects: &mut TickEffects) {
        if let Some(at) = self.queue.iter().position(|w| w.ship.ship_id == leave.ship_id) {
            self.queue.remove(at);
            if let Some(route) = leave.route {
                effects.publish.push(left(route, &reply(leave.request_id, S::Ok(v1::Ok {}))));
            }
            return;
        }
        let ship_id = leave.ship_id;
        let Some(In::Leave(leave)) = self.follow_jumped(ship_id, In::Leave(leave), effects) else { return };
        let answer = leave.route.map(|route| left(route, &reply(leave.request_id, S::Ok(v1::Ok {}))));
        match self.sim.remove_ship(ship_id) {
            Some(ship) => {
                let row = convert::ship_row(&ship, self.system_id, false);
                effects.persist.push(PersistJob { rows: vec![row], then_publish: answer, done: None });
            }
            None => effects.publish.extend(answer),
        }
    }
}
