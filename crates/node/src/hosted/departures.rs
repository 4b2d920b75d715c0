//! Ships leaving space here (logout, disconnect, a queued undock given up): taken out of the sim and stored,
//! and the session's answer sent only once the store has the ship.

use orrery_proto::reply;
use orrery_proto::v1::{self, server_envelope::Body as S, system_inbox::Body as In};

use super::{Hosted, TickEffects, left};
use crate::convert;
use crate::persist::PersistJob;

impl Hosted {
    /// Take a ship out of space (or out of the queue) for the session flying it; a leave for a ship that just
    /// jumped out follows it. A leave of a session whose ship a newer session took is answered, and the ship
    /// stays.
    pub(super) fn on_leave(&mut self, leave: v1::LeaveSpace, effects: &mut TickEffects) {
        let ship_id = leave.ship_id;
        let answer = leave.route.map(|route| left(route, &reply(leave.request_id, S::Ok(v1::Ok {}))));
        let flies = |pilot: &v1::SessionRoute| leave.owner.is_none_or(|owner| owner == *pilot);
        if let Some(at) = self.queue.iter().position(|w| w.ship.ship_id == ship_id) {
            if flies(&self.queue[at].route) {
                self.queue.remove(at);
            }
            effects.publish.extend(answer);
            return;
        }
        if self.sim.ship(ship_id).is_some() && self.pilots.get(&ship_id).is_some_and(|pilot| !flies(pilot)) {
            effects.publish.extend(answer);
            return;
        }
        let Some(In::Leave(_)) = self.follow_jumped(ship_id, In::Leave(leave), effects) else { return };
        match self.sim.remove_ship(ship_id) {
            Some(ship) => {
                self.pilots.remove(&ship_id);
                self.left_here.insert(ship_id, (convert::ship_record(&ship, self.system_id), self.sim.tick()));
                let row = convert::ship_row(&ship, self.system_id, false);
                effects.persist.push(PersistJob { rows: vec![row], then_publish: answer, ..PersistJob::default() });
            }
            None => effects.publish.extend(answer),
        }
    }
}
