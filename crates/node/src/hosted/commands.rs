//! Commands of a ship's session (movement, chat, jumps): applied to the sim, or answered with why not. A jump
//! hands the ship to its destination system on the bus.

use orrery_proto::error;
use orrery_proto::v1::{self, system_inbox::Body as In};
use orrery_sim::{CommandError, Outcome};

use super::{Entered, Hosted, TickContext, TickEffects, forward};
use crate::convert;
use crate::persist::PersistJob;

impl Hosted {
    /// Apply one session command; a command for a ship that just jumped out follows it.
    pub(super) fn on_command(
        &mut self,
        command: v1::SessionCommand,
        context: &TickContext<'_>,
        entered: &mut Vec<Entered>,
        effects: &mut TickEffects,
    ) {
        let ship_id = command.ship_id;
        let Some(In::Command(command)) = self.follow_jumped(ship_id, In::Command(command), effects) else { return };
        let route = command.route.unwrap_or_default();
        let envelope = command.envelope.unwrap_or_default();
        let request_id = envelope.request_id;
        if self.pilots.get(&ship_id).is_some_and(|pilot| *pilot != route) {
            effects.publish.push(forward(route, &Hosted::replaced(request_id, ship_id)));
            return;
        }
        if let Some(ship) = self.sim.ship(ship_id)
            && !self.pilots.contains_key(&ship_id)
        {
            // A ship restored after its node died has no pilot until its session's first command claims it.
            // The session is sent the system's snapshot (as after a jump): its proxy may route it elsewhere and
            // its client may picture it elsewhere — a jump whose handoff died with the node ends here, in the
            // system the store had it in, and the client never saw it arrive — and every restored ship is
            // where it was last stored, not where the client last saw it.
            let handoff_seq = ship.handoff_seq;
            self.pilots.insert(ship_id, route);
            entered.push(Entered { route, request_id: 0, ship_id, handoff_seq });
        }
        let outcome = match convert::command(&envelope) {
            Ok(cmd) => self.sim.apply(ship_id, cmd),
            Err(reason) => Err(CommandError::InvalidArgument(reason)),
        };
        match outcome {
            Ok(Outcome::Accepted) => {}
            Ok(Outcome::JumpedOut { ship, destination_system }) => {
                if let Some(metrics) = context.metrics {
                    metrics.count_jump();
                }
                self.jumped.insert(ship.id, (destination_system, self.sim.tick()));
                self.pilots.remove(&ship.id);
                let handoff = self.stamper.encode(In::Handoff(v1::Handoff {
                    route: Some(route),
                    request_id,
                    ship: Some(convert::ship_record(&ship, destination_system)),
                    from_system_id: self.system_id,
                    arrival_gate_id: 0,
                }));
                // The ship belongs to the destination from now on, in the store too: a crash before it arrives
                // leaves it there (next to the star), never in two systems.
                let mut in_transit = ship.clone();
                in_transit.position = orrery_sim::Vec3::ZERO;
                in_transit.velocity = orrery_sim::Vec3::ZERO;
                effects.persist.push(PersistJob::rows(vec![convert::ship_row(&in_transit, destination_system, true)]));
                effects.publish.push((orrery_proto::system_subject(destination_system), handoff));
            }
            Err(problem) => {
                if matches!(
                    problem,
                    CommandError::UnknownShip(_) | CommandError::NotInSystem(_) | CommandError::NotAGate(_)
                ) {
                    // Rare in play (a client racing its own jump); under failures the trace of what went wrong.
                    tracing::debug!(
                        system = self.system_id,
                        ship = ship_id,
                        session = route.session_id,
                        %problem,
                        command = orrery_proto::command_name(&envelope),
                        "command refused: NOT_IN_SYSTEM"
                    );
                }
                effects.publish.push(forward(route, &self.command_error(request_id, &problem)));
                if matches!(problem, CommandError::UnknownShip(ship) if ship == ship_id) {
                    effects.publish.push(super::lost(route, self.system_id, ship_id));
                }
            }
        }
    }

    pub(super) fn command_error(&self, request_id: u32, problem: &CommandError) -> v1::ServerEnvelope {
        use v1::ErrorCode as E;
        let code = match problem {
            CommandError::UnknownShip(_) => E::NotInSystem,
            CommandError::DuplicateShip(_) => E::AlreadyInSpace,
            CommandError::NotInSystem(_) | CommandError::NotAGate(_) => E::NotInSystem,
            CommandError::OutOfRange { .. } | CommandError::TargetOutOfRange { .. } => E::OutOfRange,
            CommandError::NotOwner { .. } => E::NotYours,
            CommandError::NotCombatant(_) => E::NotCombatant,
            CommandError::TooManyLocks { .. } => E::TooManyLocks,
            CommandError::AlreadyLocked(_) => E::AlreadyLocked,
            CommandError::NotLocked(_) => E::NotLocked,
            CommandError::ModuleAlreadyActive(_) => E::ModuleActive,
            CommandError::ModuleNotActive(_) => E::ModuleNotActive,
            CommandError::WarpDisrupted(_) => E::WarpDisrupted,
            CommandError::NoSuchModule { .. } | CommandError::WarpInProgress(_) | CommandError::InvalidArgument(_) => {
                E::InvalidArgument
            }
        };
        let reason = match problem {
            CommandError::UnknownShip(ship) => {
                format!("ship {ship} is not in system {} (it may have just jumped)", self.system_id)
            }
            other => other.to_string(),
        };
        error(request_id, code, reason)
    }
}
