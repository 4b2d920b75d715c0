//! What the server sends, in a form a game can `match` on without unpacking the protobuf `oneof` and error
//! codes itself.

use orrery_proto::v1::{self, server_envelope::Body as Msg};

/// One envelope from the server that nobody was waiting for: the per-tick deltas, notices, refusals of
/// commands without an answer on success, and answers that arrived after their caller stopped waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// What happened in the current system during one tick.
    Delta(v1::SystemDelta),
    /// A system snapshot: unsolicited after a `Jump` into a full system was refused (the system the ship
    /// stays in), or an answer (`request_id` non-zero) that arrived late.
    Snapshot {
        /// The request it answers, 0 when unsolicited.
        request_id: u32,
        /// The system as it is now.
        snapshot: v1::SystemSnapshot,
    },
    /// Free text from the server: the message of the day, a shutdown countdown.
    Notice(String),
    /// A refusal: of the command with `request_id`, or (id 0) of the connection itself (`BAD_FRAME`,
    /// `SESSION_REPLACED`, `SHUTTING_DOWN`, idle timeout), after which the server closes it.
    Error {
        /// The refused command's id, 0 for a connection-level error.
        request_id: u32,
        /// What was wrong (`Unspecified` for a code this client does not know).
        code: v1::ErrorCode,
        /// The server's human-readable reason.
        reason: String,
    },
    /// The place in line of an `Undock` into a full system.
    Queued {
        /// The `Undock`'s id.
        request_id: u32,
        /// System, position (1 = next) and cap.
        queued: v1::Queued,
    },
    /// The session's capsule was destroyed: the ship is out of space, and the character is docked at home in a
    /// new ship (stored); `Undock` again to fly it.
    Respawned(v1::Respawned),
    /// Not from the server: a [`crate::Pilot`] lost its connection and is back in space on a new one (after
    /// `Resume` and `Undock`); its mirror shows the system afresh.
    Reconnected,
    /// Anything else (a late `Pong`, `Ok`, `LoggedIn`…, or a body this client does not know), whole.
    Other(v1::ServerEnvelope),
}

impl From<v1::ServerEnvelope> for Event {
    fn from(envelope: v1::ServerEnvelope) -> Event {
        let request_id = envelope.request_id;
        match envelope.body {
            Some(Msg::Delta(delta)) => Event::Delta(delta),
            Some(Msg::Snapshot(snapshot)) => Event::Snapshot { request_id, snapshot },
            Some(Msg::Notice(notice)) => Event::Notice(notice.text),
            Some(Msg::Error(error)) => Event::Error {
                request_id,
                code: v1::ErrorCode::try_from(error.code).unwrap_or(v1::ErrorCode::Unspecified),
                reason: error.reason,
            },
            Some(Msg::Queued(queued)) => Event::Queued { request_id, queued },
            Some(Msg::Respawned(respawned)) => Event::Respawned(respawned),
            body => Event::Other(v1::ServerEnvelope { request_id, body }),
        }
    }
}

impl Event {
    /// Whether this event ends the session: after a connection-level error the server closes the connection,
    /// and after `SESSION_REPLACED` or `SHUTTING_DOWN` reconnecting would be wrong (another session owns the
    /// account, or the server is going away).
    pub fn ends_session(&self) -> bool {
        matches!(self, Event::Error { code: v1::ErrorCode::SessionReplaced | v1::ErrorCode::ShuttingDown, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_proto::{error, reply};

    #[test]
    fn envelopes_become_their_events() {
        let delta = v1::SystemDelta { system_id: 3, tick: 9, ..Default::default() };
        assert_eq!(Event::from(reply(0, Msg::Delta(delta.clone()))), Event::Delta(delta));
        assert_eq!(
            Event::from(reply(0, Msg::Notice(v1::Notice { text: "motd".into() }))),
            Event::Notice("motd".into())
        );
        let refused = Event::from(error(4, v1::ErrorCode::OutOfRange, "jump: 9 km"));
        assert_eq!(
            refused,
            Event::Error { request_id: 4, code: v1::ErrorCode::OutOfRange, reason: "jump: 9 km".into() }
        );
        assert!(!refused.ends_session());
        assert!(Event::from(error(0, v1::ErrorCode::SessionReplaced, "elsewhere")).ends_session());
        let pong = reply(5, Msg::Pong(v1::Pong { nonce: 1 }));
        assert_eq!(Event::from(pong.clone()), Event::Other(pong));
    }

    #[test]
    fn unknown_error_codes_are_unspecified() {
        let envelope = reply(0, Msg::Error(v1::Error { code: 4242, reason: "future".into() }));
        assert!(matches!(Event::from(envelope), Event::Error { code: v1::ErrorCode::Unspecified, .. }));
    }
}
