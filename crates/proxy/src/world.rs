//! What the proxy must know of the universe: which systems exist, what they are called, and where new
//! characters may start — by a hash of their name, or in a start system the player chose to meet others in.

use std::collections::{HashMap, HashSet};

use orrery_proto::v1;
use v1::create_character::StartSystem;

/// The systems a proxy can send ships to, their names, and the starting systems (the high-security systems:
/// where new characters appear, by a hash of the name or by choice) with the trade hubs among them.
#[derive(Debug, Clone)]
pub struct World {
    systems: HashSet<u32>,
    starting_systems: Vec<u32>,
    names: HashMap<u32, String>,
    trade_hubs: Vec<u32>,
}

/// Why a chosen start system was refused; the message names the system as the player gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartRefusal {
    /// No system has this id.
    #[error("create_character.start_system_id: no system {0}")]
    NoSuchId(u32),
    /// No system has this name (compared ignoring case).
    #[error("create_character.start_system_name: no system named {0:?}")]
    NoSuchName(String),
    /// The system exists but new characters may not start there (low- or null-security space, an arena).
    #[error(
        "create_character.start_system: {0} is not a starting system (new characters start in high-security systems)"
    )]
    NotStarting(String),
    /// Several starting systems share this name; the id tells them apart.
    #[error("create_character.start_system_name: {name:?} names {} starting systems ({}): give start_system_id", ids.len(), list(ids))]
    Ambiguous {
        /// The name as the player gave it.
        name: String,
        /// The starting systems of that name, lowest id first.
        ids: Vec<u32>,
    },
}

fn list(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

impl World {
    /// `starting_systems` must be non-empty and part of `systems`; the others are ignored. Without names
    /// (see [`World::with_names`]) only start systems chosen by id can be found.
    pub fn new(systems: impl IntoIterator<Item = u32>, starting_systems: &[u32]) -> Option<World> {
        let systems: HashSet<u32> = systems.into_iter().collect();
        let starting_systems: Vec<u32> = starting_systems.iter().copied().filter(|id| systems.contains(id)).collect();
        (!starting_systems.is_empty()).then_some(World {
            systems,
            starting_systems,
            names: HashMap::new(),
            trade_hubs: Vec::new(),
        })
    }

    /// The systems' display names, so that players can choose a start system by name and learn where their
    /// characters are. Names of unknown systems are ignored.
    #[must_use]
    pub fn with_names(mut self, names: impl IntoIterator<Item = (u32, String)>) -> World {
        let systems = &self.systems;
        self.names.extend(names.into_iter().filter(|(id, _)| systems.contains(id)));
        self
    }

    /// The trade hubs, best-connected first, that [`World::trade_hubs`] offers as meeting points; those that are not
    /// starting systems are left out, so that every hub offered can be chosen.
    #[must_use]
    pub fn with_trade_hubs(mut self, hubs: &[u32]) -> World {
        self.trade_hubs = hubs.iter().copied().filter(|id| self.starting_systems.contains(id)).collect();
        self
    }

    /// Where a new character called `name` starts when the player chose no start system: spread over the
    /// starting systems by a stable hash of the name, so that a crowd of new players does not all land in one
    /// system.
    #[must_use]
    pub fn starting_system(&self, name: &str) -> u32 {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let count = self.starting_systems.len() as u64;
        // The remainder is below the length, a usize, so the conversion cannot fail.
        let index = usize::try_from(hash % count).unwrap_or_default();
        self.starting_systems[index]
    }

    /// Where a new character starts: the system the player chose (by name, ignoring case, or by id) if it is a
    /// starting system, or by the hash of `name` if the player chose none.
    ///
    /// # Errors
    /// A chosen system that does not exist, is not a starting system, or whose name several starting systems
    /// share.
    pub fn start_for(&self, name: &str, chosen: Option<&StartSystem>) -> Result<u32, StartRefusal> {
        match chosen {
            None => Ok(self.starting_system(name)),
            Some(StartSystem::StartSystemId(id)) => self.start_by_id(*id),
            Some(StartSystem::StartSystemName(system)) => self.start_by_name(system),
        }
    }

    fn start_by_id(&self, id: u32) -> Result<u32, StartRefusal> {
        if self.starting_systems.contains(&id) {
            Ok(id)
        } else if self.systems.contains(&id) {
            Err(StartRefusal::NotStarting(self.describe(id)))
        } else {
            Err(StartRefusal::NoSuchId(id))
        }
    }

    fn start_by_name(&self, wanted: &str) -> Result<u32, StartRefusal> {
        let named = |id: &u32| self.names.get(id).is_some_and(|name| name.eq_ignore_ascii_case(wanted.trim()));
        let mut starting: Vec<u32> = self.starting_systems.iter().copied().filter(named).collect();
        starting.sort_unstable();
        match starting.as_slice() {
            [id] => Ok(*id),
            [] => match self.names.keys().copied().filter(named).min() {
                Some(other) => Err(StartRefusal::NotStarting(self.describe(other))),
                None => Err(StartRefusal::NoSuchName(wanted.to_owned())),
            },
            _ => Err(StartRefusal::Ambiguous { name: wanted.to_owned(), ids: starting }),
        }
    }

    /// "Name (id)", or "system id" for a system without a name (an arena).
    fn describe(&self, id: u32) -> String {
        match self.names.get(&id) {
            Some(name) => format!("{name} ({id})"),
            None => format!("system {id}"),
        }
    }

    /// The display name of a system, if known.
    #[must_use]
    pub fn name(&self, system_id: u32) -> Option<&str> {
        self.names.get(&system_id).map(String::as_str)
    }

    /// The trade hubs as LoggedIn reports them: meeting points a player can pick as a start system.
    #[must_use]
    pub fn trade_hubs(&self) -> Vec<v1::SystemRef> {
        let named = |id: u32| v1::SystemRef { system_id: id, name: self.name(id).unwrap_or_default().to_owned() };
        self.trade_hubs.iter().copied().map(named).collect()
    }

    /// Whether ships can be sent to this system (it exists, or was added at runtime).
    #[must_use]
    pub fn contains(&self, system_id: u32) -> bool {
        self.systems.contains(&system_id)
    }

    /// A system added at runtime (an arena): ships may be sent there, but no character starts there.
    pub fn add(&mut self, system_id: u32) {
        self.systems.insert(system_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Systems 1–5: 1 "Jita" and 2 "Amarr" are hubs, 3 "Twin" and 4 "twin" start too, 5 "Lowsec" is not a
    /// starting system, 9 an arena added at runtime.
    fn world() -> World {
        let names = [(1, "Jita"), (2, "Amarr"), (3, "Twin"), (4, "twin"), (5, "Lowsec")];
        let mut world = World::new(1..=5, &[1, 2, 3, 4])
            .expect("starting systems")
            .with_names(names.map(|(id, name)| (id, name.to_owned())))
            .with_trade_hubs(&[2, 1, 5]);
        world.add(9);
        world
    }

    fn by_name(name: &str) -> Option<StartSystem> {
        Some(StartSystem::StartSystemName(name.to_owned()))
    }

    #[test]
    fn a_chosen_start_system_is_found_by_name_in_any_case_or_by_id() {
        let world = world();
        assert_eq!(world.start_for("Ada", by_name("jita").as_ref()), Ok(1));
        assert_eq!(world.start_for("Ada", by_name("AMARR").as_ref()), Ok(2));
        assert_eq!(world.start_for("Ada", Some(&StartSystem::StartSystemId(2))), Ok(2));
        assert_eq!(world.start_for("Ada", None), Ok(world.starting_system("Ada")));
    }

    #[test]
    fn unknown_unsuitable_and_ambiguous_start_systems_are_refused_by_name() {
        let world = world();
        let refused = |chosen: StartSystem| world.start_for("Ada", Some(&chosen)).expect_err("refused");
        assert_eq!(refused(StartSystem::StartSystemName("Nowhere".into())), StartRefusal::NoSuchName("Nowhere".into()));
        assert_eq!(refused(StartSystem::StartSystemId(77)), StartRefusal::NoSuchId(77));
        assert_eq!(
            refused(StartSystem::StartSystemName("lowsec".into())),
            StartRefusal::NotStarting("Lowsec (5)".into())
        );
        assert_eq!(refused(StartSystem::StartSystemId(5)), StartRefusal::NotStarting("Lowsec (5)".into()));
        assert_eq!(refused(StartSystem::StartSystemId(9)), StartRefusal::NotStarting("system 9".into()));
        let ambiguous = refused(StartSystem::StartSystemName("TWIN".into()));
        assert_eq!(ambiguous, StartRefusal::Ambiguous { name: "TWIN".into(), ids: vec![3, 4] });
        assert_eq!(
            ambiguous.to_string(),
            "create_character.start_system_name: \"TWIN\" names 2 starting systems (3, 4): give start_system_id"
        );
        assert!(refused(StartSystem::StartSystemId(9)).to_string().contains("not a starting system"));
    }

    #[test]
    fn trade_hubs_are_offered_in_the_given_order_and_only_where_characters_may_start() {
        let hubs = world().trade_hubs();
        let offered: Vec<(u32, &str)> = hubs.iter().map(|hub| (hub.system_id, hub.name.as_str())).collect();
        assert_eq!(offered, [(2, "Amarr"), (1, "Jita")]);
    }

    #[test]
    fn the_hashed_start_is_a_starting_system_and_stable() {
        let world = world();
        for name in ["Ada", "Bob", "Cyd", "Dee", "Eve"] {
            let start = world.starting_system(name);
            assert!([1, 2, 3, 4].contains(&start), "{name} starts in {start}");
            assert_eq!(start, world.starting_system(name));
        }
    }
}
