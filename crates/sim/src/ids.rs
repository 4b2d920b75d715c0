//! Ids of the things a command can name. Ships and celestials share one id space (a client says "approach
//! object 42" without saying what 42 is), so celestial ids carry bit 63, which database ship ids never use.

/// A ship's id, from the database; always below 2^63.
pub type ShipId = u64;

/// Anything in a system a command can name: a ship id, or a celestial id (bit 63 set).
pub type ObjectId = u64;

/// The bit that marks an [`ObjectId`] as a celestial.
pub const CELESTIAL_BIT: u64 = 1 << 63;

/// Local indices of celestials fit in the low 24 bits of their id.
pub(crate) const LOCAL_INDEX_MASK: u32 = (1 << 24) - 1;

/// The id of the celestial with `local_index` (0 is the star) in system `system_id`:
/// `(1 << 63) | system_id << 24 | local_index`. Unique across the universe, so a gate id from another system is
/// recognisably foreign. Only the low 24 bits of `local_index` are used.
pub fn celestial_id(system_id: u32, local_index: u32) -> ObjectId {
    CELESTIAL_BIT | (u64::from(system_id) << 24) | u64::from(local_index & LOCAL_INDEX_MASK)
}

/// True for celestial ids, false for ship ids.
pub fn is_celestial(id: ObjectId) -> bool {
    id & CELESTIAL_BIT != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn celestial_ids_carry_their_system_and_index() {
        let id = celestial_id(30_000_142, 5);
        assert!(is_celestial(id));
        assert_eq!((id >> 24) & 0xFFFF_FFFF, 30_000_142);
        assert_eq!(id & u64::from(LOCAL_INDEX_MASK), 5);
        assert!(!is_celestial(42));
        assert_ne!(celestial_id(1, 2), celestial_id(2, 1));
    }
}
