//! What a pilot can ask of the sim, what can go wrong, and the checks on every argument. Commands carry
//! intents, never positions: the server decides where ships are.

use crate::flight::DEFAULT_WARP_RANGE_M;
use crate::ids::{ObjectId, ShipId};
use crate::ship::Ship;
use crate::space::{SYSTEM_RADIUS_M, Vec3, inside_system};

/// Longest chat line, in bytes of UTF-8 after trimming.
pub const MAX_CHAT_BYTES: usize = 500;
/// Farthest drop-out distance a warp may ask for.
pub const MAX_WARP_RANGE_M: f64 = 1.0e12;
/// Largest orbit radius a pilot may ask for.
pub const MAX_ORBIT_M: f64 = 1.0e6;

/// Where an approach goes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// A fixed point, metres from the star.
    Point(Vec3),
    /// A ship or a celestial of the system; a ship is followed as it moves.
    Object(ObjectId),
}

/// A pilot's command for their ship, applied at the start of a tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Fly to the target and stop there (within 50 m of a point, 500 m of an object).
    Approach(Target),
    /// Brake to a standstill.
    Stop,
    /// Align for 4 s, then warp to drop out `range_m` short of `object` (0 means 1,000 m), on the line from where
    /// the warp starts. The drop-out point must be at least [`crate::MIN_WARP_M`] (150 km) away; nearer things are
    /// approached instead.
    WarpTo {
        /// The celestial or ship to warp to.
        object: ObjectId,
        /// How far short of it to drop out, in metres; checked against [`MAX_WARP_RANGE_M`].
        range_m: f64,
    },
    /// Jump through a stargate within [`crate::JUMP_RANGE_M`].
    Jump {
        /// The stargate; anything else is refused with [`CommandError::NotAGate`] or
        /// [`CommandError::NotInSystem`].
        gate: ObjectId,
    },
    /// Circle a ship or celestial at `radius_m` (0..=[`MAX_ORBIT_M`]) at full speed, until another order.
    Orbit {
        /// What to orbit; a ship is followed as it moves.
        object: ObjectId,
        /// The orbit's radius, metres.
        radius_m: f64,
    },
    /// Start locking a ship within lock range; the lock completes after a time that depends on the target's
    /// signature. At most the type's `max_locks`, counting locks still being acquired.
    Lock {
        /// The ship to lock.
        target: ShipId,
    },
    /// Drop a lock (complete or not); modules active on that ship switch off.
    Unlock {
        /// The locked ship.
        target: ShipId,
    },
    /// Switch a module (weapon or warp disruptor) on against a locked ship; it cycles until switched off or the
    /// lock is lost, never faster than its cycle time.
    Activate {
        /// The module's index in the ship type's rack.
        module: u8,
        /// The locked ship to use it on.
        target: ShipId,
    },
    /// Switch a module off; its current cycle still counts (it cannot be restarted early).
    Deactivate {
        /// The module's index in the ship type's rack.
        module: u8,
    },
    /// Say something in local chat.
    Chat {
        /// The line as the pilot typed it; trimmed, and refused when empty, too long or holding control
        /// characters.
        text: String,
    },
}

/// Why a command (or a ship entering the system) was refused. Each maps onto one error code of the client
/// protocol; `InvalidArgument` texts name the field and say what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The commanded ship is not here (it jumped out, logged off, or the client's view is stale).
    #[error("ship {0} is not in this system")]
    UnknownShip(ShipId),
    /// A ship added or arriving is here already: a repeated handoff or login, refused so it is not doubled.
    #[error("ship {0} is already in this system")]
    DuplicateShip(ShipId),
    /// The target of an approach, warp or jump is neither a celestial nor a ship of this system.
    #[error("object {0} is not in this system")]
    NotInSystem(ObjectId),
    /// A jump from too far from the gate; the pilot must approach first.
    #[error("stargate {gate} is {distance_m:.0} m away, at most {max_m:.0} m")]
    OutOfRange {
        /// The stargate asked for.
        gate: ObjectId,
        /// How far the ship was from it when the command was applied.
        distance_m: f64,
        /// The jump range, so the client can say how much nearer to get.
        max_m: f64,
    },
    /// A jump through something that is not a stargate (a planet, the star, a ship).
    #[error("object {0} is not a stargate")]
    NotAGate(ObjectId),
    /// A ship in warp can only chat until it drops out (it can still change its mind while aligning).
    #[error("ship {0} is in warp; wait until it drops out")]
    WarpInProgress(ShipId),
    /// A command from a character for a ship they do not fly.
    #[error("ship {ship} is not flown by character {character_id}")]
    NotOwner {
        /// The ship named in the command.
        ship: ShipId,
        /// The character who sent it.
        character_id: u64,
    },
    /// A fight command naming a ship that takes no part in fights (it has no ship type).
    #[error("ship {0} takes no part in fights")]
    NotCombatant(ShipId),
    /// A lock or a warp disruptor aimed beyond its range.
    #[error("ship {target} is {distance_m:.0} m away, at most {max_m:.0} m")]
    TargetOutOfRange {
        /// The ship aimed at.
        target: ShipId,
        /// How far it was when the command was applied.
        distance_m: f64,
        /// The range of the lock or module.
        max_m: f64,
    },
    /// A lock beyond the type's maximum (locks being acquired count).
    #[error("already {max} locks, the most this ship can hold")]
    TooManyLocks {
        /// The type's `max_locks`.
        max: u8,
    },
    /// A lock on a ship already locked or being locked.
    #[error("ship {0} is already locked (or being locked)")]
    AlreadyLocked(ShipId),
    /// An unlock or activation on a ship that is not locked (or whose lock is not complete yet).
    #[error("ship {0} is not locked")]
    NotLocked(ShipId),
    /// A module index beyond the type's rack.
    #[error("module {module} does not exist; this ship has {modules}")]
    NoSuchModule {
        /// The index asked for.
        module: u8,
        /// How many modules the ship has.
        modules: usize,
    },
    /// Activation of a module that is active already (deactivate it first).
    #[error("module {0} is already active")]
    ModuleAlreadyActive(u8),
    /// Deactivation of a module that is not active.
    #[error("module {0} is not active")]
    ModuleNotActive(u8),
    /// A warp while a warp disruptor holds the ship.
    #[error("ship {0} is warp disrupted")]
    WarpDisrupted(ShipId),
    /// An argument that can never be right (not finite, out of the system, an empty chat line); the text names
    /// the field and what is wrong with it.
    #[error("{0}")]
    InvalidArgument(String),
}

/// What an accepted command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The command replaced the ship's order (or was said, for chat); its effect shows in the next steps.
    Accepted,
    /// The ship left this system through a stargate. It is removed already (and reported as departed in the next
    /// step); the caller hands it to `destination_system`, whose sim places it with
    /// [`crate::SystemSim::arrive`] at its own gate back to this system. `handoff_seq` is already incremented.
    /// (Boxed: a ship is much larger than the other outcome.)
    JumpedOut {
        /// The ship as it left, to be stored or handed to the destination.
        ship: Box<Ship>,
        /// The system id the gate leads to.
        destination_system: u32,
    },
}

fn invalid(text: String) -> CommandError {
    CommandError::InvalidArgument(text)
}

/// The chat line as it will be said (trimmed), if it is 1..=500 bytes with no control characters.
pub(crate) fn chat_text(text: &str) -> Result<String, CommandError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("chat.text: empty".into()));
    }
    if trimmed.len() > MAX_CHAT_BYTES {
        return Err(invalid(format!("chat.text: {} bytes, at most {MAX_CHAT_BYTES}", trimmed.len())));
    }
    if let Some((at, c)) = trimmed.char_indices().find(|(_, c)| c.is_control()) {
        return Err(invalid(format!("chat.text: control character U+{:04X} at byte {at}", u32::from(c))));
    }
    Ok(trimmed.to_owned())
}

/// Checks that a point given by a client or the store is a usable position in the system.
pub(crate) fn position(p: Vec3, field: &str) -> Result<Vec3, CommandError> {
    if !p.is_finite() {
        return Err(invalid(format!("{field}: not finite")));
    }
    if !inside_system(p) {
        return Err(invalid(format!("{field}: more than {SYSTEM_RADIUS_M:e} m from the star")));
    }
    Ok(p)
}

/// An orbit radius as asked for, if it is finite and within 0..=[`MAX_ORBIT_M`].
pub(crate) fn orbit_radius(radius_m: f64) -> Result<f64, CommandError> {
    if !(0.0..=MAX_ORBIT_M).contains(&radius_m) {
        return Err(invalid(format!("orbit.radius_m: {radius_m} is not in 0..={MAX_ORBIT_M:e}")));
    }
    Ok(radius_m)
}

/// The drop-out distance a warp command asks for, with 0 meaning the default.
pub(crate) fn warp_range(range_m: f64) -> Result<f64, CommandError> {
    if !range_m.is_finite() {
        return Err(invalid("warp_to.range_m: not finite".into()));
    }
    if range_m < 0.0 {
        return Err(invalid(format!("warp_to.range_m: {range_m} is negative")));
    }
    if range_m > MAX_WARP_RANGE_M {
        return Err(invalid(format!("warp_to.range_m: {range_m} m, at most {MAX_WARP_RANGE_M:e}")));
    }
    Ok(if range_m == 0.0 { DEFAULT_WARP_RANGE_M } else { range_m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug, CommandError>) -> String {
        match result {
            Err(CommandError::InvalidArgument(text)) => text,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn chat_is_trimmed_and_bounded() {
        assert_eq!(chat_text("  o7  ").as_ref().map(String::as_str), Ok("o7"));
        assert_eq!(reason(chat_text(" \t ")), "chat.text: empty");
        assert_eq!(reason(chat_text(&"x".repeat(612))), "chat.text: 612 bytes, at most 500");
        assert!(chat_text(&format!("  {}  ", "é".repeat(250))).is_ok(), "500 bytes after trimming is fine");
        assert_eq!(reason(chat_text("a\u{7}b")), "chat.text: control character U+0007 at byte 1");
        assert!(reason(chat_text("two\nlines")).contains("U+000A"));
    }

    #[test]
    fn positions_and_ranges() {
        assert_eq!(reason(position(Vec3::new(f64::NAN, 0.0, 0.0), "approach.point")), "approach.point: not finite");
        assert!(reason(position(Vec3::new(2e14, 0.0, 0.0), "ship.position")).starts_with("ship.position: more"));
        assert_eq!(warp_range(0.0), Ok(DEFAULT_WARP_RANGE_M));
        assert_eq!(warp_range(20_000.0), Ok(20_000.0));
        assert!(reason(warp_range(f64::INFINITY)).starts_with("warp_to.range_m"));
        assert!(reason(warp_range(-1.0)).contains("negative"));
        assert!(reason(warp_range(2e12)).contains("at most"));
    }
}
