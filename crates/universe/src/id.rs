//! Typed identifiers, so that a region id can never be passed where a system id is meant.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A solar system's id, as in the EVE static data (e.g. 30000142 is Jita).
    SystemId
);
id_type!(
    /// A constellation's id: a handful of systems that belong together.
    ConstellationId
);
id_type!(
    /// A region's id: a group of constellations.
    RegionId
);
