//! Ship types as data: `data/ship-types.csv` says how tough, fast and visible each hull is, how far and how fast
//! it locks, and what it shoots with. Read through the universe crate's [`CsvTable`], like every other loader of
//! orrery, so a bad file is reported by file, line and column.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use orrery_universe::{CsvTable, Input, LoadError, Location, Row};

/// The size class of a hull. Only the capsule is special: losing it ends the pilot's stay in space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum ShipClass {
    /// Small, fast, hard to hit; the tacklers (warp disruptors).
    Frigate,
    /// The middle class.
    Cruiser,
    /// Large, slow, hard-hitting, easy to hit.
    Battleship,
    /// The pod a pilot ejects in when their ship is destroyed; destroying it sends the pilot home.
    Capsule,
}

impl ShipClass {
    /// Every class, in the order of the enum.
    pub const ALL: [ShipClass; 4] = [ShipClass::Frigate, ShipClass::Cruiser, ShipClass::Battleship, ShipClass::Capsule];

    /// The name used in the data file (the same as the item groups of `data/items.csv`).
    pub fn name(self) -> &'static str {
        match self {
            ShipClass::Frigate => "frigate",
            ShipClass::Cruiser => "cruiser",
            ShipClass::Battleship => "battleship",
            ShipClass::Capsule => "capsule",
        }
    }
}

impl fmt::Display for ShipClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ShipClass {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        ShipClass::ALL.into_iter().find(|c| c.name() == text).ok_or(())
    }
}

/// A gun: hits at once, with a chance that falls with range beyond `optimal_m` and with the target's angular
/// velocity relative to `tracking_rad_s` (see [`crate::combat`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TurretSpec {
    /// Damage of one shot at a perfect hit's base (a hit deals 0.5..1.5 times this, by the quality of the hit).
    pub damage: f64,
    /// Milliseconds between shots.
    pub cycle_ms: u64,
    /// Range up to which distance does not lower the chance to hit, metres.
    pub optimal_m: f64,
    /// Beyond optimal, the chance falls to half at `optimal + falloff`, metres.
    pub falloff_m: f64,
    /// Angular velocity (rad/s) at which a 40 m target is hit half the time.
    pub tracking_rad_s: f64,
}

/// A missile launcher: every cycle launches a missile, an entity of its own that flies to the target and
/// explodes on it, for less damage if the target is small or fast.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LauncherSpec {
    /// Damage of one missile on a target at least as large as its explosion and slower than its explosion.
    pub damage: f64,
    /// Milliseconds between launches.
    pub cycle_ms: u64,
    /// The missile's speed, m/s.
    pub missile_speed_ms: f64,
    /// How long a missile flies before it runs out of fuel and is gone, milliseconds.
    pub flight_time_ms: u64,
    /// Targets smaller than this (signature radius, metres) take proportionally less damage.
    pub explosion_radius_m: f64,
    /// Targets faster than this (m/s) outrun part of the explosion.
    pub explosion_velocity_ms: f64,
}

/// One module of a ship's rack, activated on a locked target.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ModuleSpec {
    /// A gun.
    Turret(TurretSpec),
    /// A missile launcher.
    Launcher(LauncherSpec),
    /// A warp disruptor: a locked target within range cannot warp while it is applied.
    Disruptor {
        /// How far it reaches, metres.
        range_m: f64,
    },
}

/// How long a warp disruptor's cycle is; the target stays disrupted until the end of the cycle.
pub const DISRUPTOR_CYCLE_MS: u64 = 5_000;

impl ModuleSpec {
    /// Milliseconds between two activations.
    pub fn cycle_ms(&self) -> u64 {
        match self {
            ModuleSpec::Turret(t) => t.cycle_ms,
            ModuleSpec::Launcher(l) => l.cycle_ms,
            ModuleSpec::Disruptor { .. } => DISRUPTOR_CYCLE_MS,
        }
    }
}

/// A hull: everything about a ship that comes from its type rather than from its pilot or its fight.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShipType {
    /// The type id, the same as the ship's item type in `data/items.csv`.
    pub type_id: u32,
    /// The name players see (Rifter, Raven, Capsule).
    pub name: String,
    /// Its size class.
    pub class: ShipClass,
    /// Hit points of the shield, the first layer damage hits; it regenerates.
    pub shield_hp: f64,
    /// Hit points of the armour, hit once the shield is gone.
    pub armour_hp: f64,
    /// Hit points of the hull; at zero the ship is destroyed.
    pub hull_hp: f64,
    /// Shield hit points regained per second.
    pub shield_regen_hp_s: f64,
    /// Top sub-warp speed, m/s.
    pub max_speed_ms: f64,
    /// Seconds from standstill to top speed: the acceleration is `max_speed / agility`.
    pub agility_s: f64,
    /// How large the ship looks to sensors and explosions, metres: small ships are slower to lock and harder to hit.
    pub signature_m: f64,
    /// The farthest target the ship can lock, metres.
    pub lock_range_m: f64,
    /// Seconds to lock a target of 100 m signature; smaller targets take longer (see [`crate::combat`]).
    pub lock_time_s: f64,
    /// How many targets may be locked (or being locked) at once.
    pub max_locks: u8,
    /// The rack: weapons first, then a warp disruptor if the type has one. Commands name modules by index here.
    pub modules: Vec<ModuleSpec>,
}

impl ShipType {
    /// Sub-warp acceleration (and braking), m/s².
    pub fn acceleration_ms2(&self) -> f64 {
        self.max_speed_ms / self.agility_s
    }
}

/// All ship types of a data file, in file order, with lookup by type id and by name.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShipTypes {
    types: Vec<ShipType>,
    by_id: HashMap<u32, usize>,
}

/// Most modules a type may carry: module indices travel as one byte.
pub const MAX_MODULES: usize = 16;

impl ShipTypes {
    /// The ship types shipped in the repository (`data/ship-types.csv`), compiled in; an error only if that
    /// file was edited into something invalid (a test reads it, so such an edit fails the tests first).
    pub fn builtin() -> Result<ShipTypes, LoadError> {
        let mut text = include_str!("../../../data/ship-types.csv").as_bytes();
        ShipTypes::from_csv(Input::new("data/ship-types.csv", &mut text))
    }

    /// Reads a ship-type table: columns found by name, in any order (see `docs/combat.md` for each one). Type ids
    /// and names must be unique, hit points and rates ≥ 0, speeds, agility, signature and lock time > 0; the
    /// `weapon` column is `turret`, `launcher` or `none`, and the columns of that weapon must be filled in.
    ///
    /// ```
    /// use orrery_sim::ShipTypes;
    /// use orrery_universe::Input;
    ///
    /// let header = "type_id,name,class,shield_hp,armour_hp,hull_hp,shield_regen_hp_s,max_speed_ms,agility_s,\
    ///     signature_m,lock_range_m,lock_time_s,max_locks,weapon,weapons,damage,cycle_s,optimal_m,falloff_m,\
    ///     tracking_rad_s,missile_speed_ms,flight_time_s,explosion_radius_m,explosion_velocity_ms,disruptor_range_m";
    /// let text = format!("{header}\n670,Capsule,pod,0,0,300,0,200,2,25,0,1,0,none,0,,,,,,,,,,0\n");
    /// let error = ShipTypes::from_csv(Input::new("ships.csv", &mut text.as_bytes())).unwrap_err();
    /// assert!(error.to_string().starts_with("ships.csv, line 2, column `class`: `pod` is not a ship class"));
    /// ```
    pub fn from_csv(input: Input<'_>) -> Result<ShipTypes, LoadError> {
        let mut table = CsvTable::open(input)?;
        let file = table.file();
        let columns = Columns::find(&table)?;
        let mut types = ShipTypes::default();
        let mut line_of_id = HashMap::new();
        let mut line_of_name = HashMap::new();
        table.for_each_row(|row| {
            let ship = columns.read(row)?;
            row.first_time(&mut line_of_id, columns.type_id, "ship type", ship.type_id)?;
            if let Some(first) = line_of_name.insert(ship.name.clone(), row.line) {
                let problem = format!("the name `{}` appears again (first on line {first})", ship.name);
                return Err(LoadError::invalid(row.at(columns.name), problem));
            }
            types.by_id.insert(ship.type_id, types.types.len());
            types.types.push(ship);
            Ok(())
        })?;
        if types.types.is_empty() {
            return Err(LoadError::invalid(Location::file(file), "no ship types (the file has a header but no rows)"));
        }
        Ok(types)
    }

    /// The type with this id.
    pub fn get(&self, type_id: u32) -> Option<&ShipType> {
        self.by_id.get(&type_id).map(|&i| &self.types[i])
    }

    /// The type with exactly this name (a linear search, for tools and tests).
    pub fn by_name(&self, name: &str) -> Option<&ShipType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The first frigate in file order: what new characters start in, and what a pilot whose capsule was lost
    /// wakes up in.
    pub fn starter(&self) -> Option<&ShipType> {
        self.types.iter().find(|t| t.class == ShipClass::Frigate)
    }

    /// The first capsule type: what a pilot ejects in.
    pub fn capsule(&self) -> Option<&ShipType> {
        self.types.iter().find(|t| t.class == ShipClass::Capsule)
    }

    /// Every type, in file order.
    pub fn types(&self) -> &[ShipType] {
        &self.types
    }
}

/// The column positions of a ship-type table.
struct Columns {
    type_id: usize,
    name: usize,
    class: usize,
    shield: usize,
    armour: usize,
    hull: usize,
    regen: usize,
    speed: usize,
    agility: usize,
    signature: usize,
    lock_range: usize,
    lock_time: usize,
    max_locks: usize,
    weapon: usize,
    weapons: usize,
    damage: usize,
    cycle: usize,
    optimal: usize,
    falloff: usize,
    tracking: usize,
    missile_speed: usize,
    flight_time: usize,
    explosion_radius: usize,
    explosion_velocity: usize,
    disruptor_range: usize,
}

impl Columns {
    fn find(table: &CsvTable<'_>) -> Result<Columns, LoadError> {
        let c = |name: &str| table.column(name);
        Ok(Columns {
            type_id: c("type_id")?,
            name: c("name")?,
            class: c("class")?,
            shield: c("shield_hp")?,
            armour: c("armour_hp")?,
            hull: c("hull_hp")?,
            regen: c("shield_regen_hp_s")?,
            speed: c("max_speed_ms")?,
            agility: c("agility_s")?,
            signature: c("signature_m")?,
            lock_range: c("lock_range_m")?,
            lock_time: c("lock_time_s")?,
            max_locks: c("max_locks")?,
            weapon: c("weapon")?,
            weapons: c("weapons")?,
            damage: c("damage")?,
            cycle: c("cycle_s")?,
            optimal: c("optimal_m")?,
            falloff: c("falloff_m")?,
            tracking: c("tracking_rad_s")?,
            missile_speed: c("missile_speed_ms")?,
            flight_time: c("flight_time_s")?,
            explosion_radius: c("explosion_radius_m")?,
            explosion_velocity: c("explosion_velocity_ms")?,
            disruptor_range: c("disruptor_range_m")?,
        })
    }

    fn read(&self, row: &Row<'_>) -> Result<ShipType, LoadError> {
        let name = row.text(self.name);
        if name.is_empty() {
            return Err(LoadError::invalid(row.at(self.name), "empty cell, expected the ship type's name"));
        }
        let classes = ShipClass::ALL.map(ShipClass::name).join(", ");
        let hull_hp = positive(row, self.hull)?;
        let weapons: usize = row.parse(self.weapons, "a number of weapons (a whole number)")?;
        let disruptor_range_m = non_negative(row, self.disruptor_range)?;
        let weapon = match row.text(self.weapon) {
            "none" => None,
            "turret" => Some(ModuleSpec::Turret(TurretSpec {
                damage: positive(row, self.damage)?,
                cycle_ms: millis(row, self.cycle)?,
                optimal_m: non_negative(row, self.optimal)?,
                falloff_m: positive(row, self.falloff)?,
                tracking_rad_s: positive(row, self.tracking)?,
            })),
            "launcher" => Some(ModuleSpec::Launcher(LauncherSpec {
                damage: positive(row, self.damage)?,
                cycle_ms: millis(row, self.cycle)?,
                missile_speed_ms: positive(row, self.missile_speed)?,
                flight_time_ms: millis(row, self.flight_time)?,
                explosion_radius_m: positive(row, self.explosion_radius)?,
                explosion_velocity_ms: positive(row, self.explosion_velocity)?,
            })),
            other => {
                let problem = format!("`{other}` is not a weapon (one of turret, launcher, none)");
                return Err(LoadError::invalid(row.at(self.weapon), problem));
            }
        };
        let mut modules: Vec<ModuleSpec> = weapon.map(|w| vec![w; weapons]).unwrap_or_default();
        if disruptor_range_m > 0.0 {
            modules.push(ModuleSpec::Disruptor { range_m: disruptor_range_m });
        }
        if modules.len() > MAX_MODULES {
            let problem = format!("{} modules, at most {MAX_MODULES}", modules.len());
            return Err(LoadError::invalid(row.at(self.weapons), problem));
        }
        Ok(ShipType {
            type_id: row.parse(self.type_id, "a ship type id (a whole number)")?,
            name: name.to_owned(),
            class: row.parse(self.class, &format!("a ship class (one of {classes})"))?,
            shield_hp: non_negative(row, self.shield)?,
            armour_hp: non_negative(row, self.armour)?,
            hull_hp,
            shield_regen_hp_s: non_negative(row, self.regen)?,
            max_speed_ms: positive(row, self.speed)?,
            agility_s: positive(row, self.agility)?,
            signature_m: positive(row, self.signature)?,
            lock_range_m: non_negative(row, self.lock_range)?,
            lock_time_s: positive(row, self.lock_time)?,
            max_locks: row.parse(self.max_locks, "a number of locks (0 to 255)")?,
            modules,
        })
    }
}

/// A finite number ≥ 0.
fn non_negative(row: &Row<'_>, column: usize) -> Result<f64, LoadError> {
    let value = row.finite(column)?;
    if value < 0.0 {
        return Err(LoadError::invalid(row.at(column), format!("{value} is negative; expected ≥ 0")));
    }
    Ok(value)
}

/// A finite number > 0.
fn positive(row: &Row<'_>, column: usize) -> Result<f64, LoadError> {
    let value = row.finite(column)?;
    if value <= 0.0 {
        return Err(LoadError::invalid(row.at(column), format!("{value} is not positive; expected > 0")));
    }
    Ok(value)
}

/// Seconds (> 0, at most a day) as whole milliseconds.
fn millis(row: &Row<'_>, column: usize) -> Result<u64, LoadError> {
    let seconds = positive(row, column)?;
    if seconds > 86_400.0 {
        return Err(LoadError::invalid(row.at(column), format!("{seconds} s is more than a day")));
    }
    Ok((seconds * 1000.0).round().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "type_id,name,class,shield_hp,armour_hp,hull_hp,shield_regen_hp_s,max_speed_ms,agility_s,\
        signature_m,lock_range_m,lock_time_s,max_locks,weapon,weapons,damage,cycle_s,optimal_m,falloff_m,\
        tracking_rad_s,missile_speed_ms,flight_time_s,explosion_radius_m,explosion_velocity_ms,disruptor_range_m";

    fn load(rows: &str) -> Result<ShipTypes, String> {
        let text = format!("{HEADER}\n{rows}");
        ShipTypes::from_csv(Input::new("ships.csv", &mut text.as_bytes())).map_err(|e| e.to_string())
    }

    #[test]
    fn the_repository_file_loads_with_every_class() {
        let mut text = include_str!("../../../data/ship-types.csv").as_bytes();
        let types = ShipTypes::from_csv(Input::new("data/ship-types.csv", &mut text)).expect("the shipped file");
        assert_eq!(ShipTypes::builtin().ok(), Some(types.clone()));
        for class in ShipClass::ALL {
            assert!(types.types().iter().any(|t| t.class == class), "no {class}");
        }
        assert!(types.types().iter().any(|t| t.modules.iter().any(|m| matches!(m, ModuleSpec::Turret(_)))));
        assert!(types.types().iter().any(|t| t.modules.iter().any(|m| matches!(m, ModuleSpec::Launcher(_)))));
        assert!(types.types().iter().any(|t| t.modules.iter().any(|m| matches!(m, ModuleSpec::Disruptor { .. }))));
        let rifter = types.by_name("Rifter").expect("a Rifter");
        assert_eq!(types.get(rifter.type_id), Some(rifter));
        assert_eq!(types.capsule().map(|c| c.modules.len()), Some(0));
        assert_eq!(types.starter().map(|t| (t.name.as_str(), t.class)), Some(("Rifter", ShipClass::Frigate)));
    }

    #[test]
    fn a_turret_row_becomes_its_modules() {
        let types = load("1,Gun,frigate,10,20,30,1,300,3,40,20000,2,3,turret,2,10,2.5,1000,4000,0.3,,,,,15000\n")
            .expect("a valid row");
        let gun = types.get(1).expect("type 1");
        assert_eq!(gun.modules.len(), 3);
        assert_eq!(
            gun.modules[0],
            ModuleSpec::Turret(TurretSpec {
                damage: 10.0,
                cycle_ms: 2_500,
                optimal_m: 1000.0,
                falloff_m: 4000.0,
                tracking_rad_s: 0.3
            })
        );
        assert_eq!(gun.modules[2], ModuleSpec::Disruptor { range_m: 15_000.0 });
        assert_eq!(gun.acceleration_ms2(), 100.0);
    }

    #[test]
    fn bad_rows_are_located() {
        let row = "1,Gun,frigate,10,20,30,1,300,3,40,20000,2,3,turret,2,10,2.5,1000,4000,,,,,,0\n";
        assert_eq!(load(row).unwrap_err(), "ships.csv, line 2, column `tracking_rad_s`: empty cell, expected a number");
        let row = "1,Gun,frigate,10,20,0,1,300,3,40,20000,2,3,none,0,,,,,,,,,,0\n";
        assert_eq!(load(row).unwrap_err(), "ships.csv, line 2, column `hull_hp`: 0 is not positive; expected > 0");
        let row = "1,Gun,frigate,10,20,5,1,300,3,40,20000,2,3,laser,0,,,,,,,,,,0\n";
        assert!(load(row).unwrap_err().contains("column `weapon`: `laser` is not a weapon"));
        let row = "1,Gun,frigate,10,20,5,1,300,3,40,20000,2,3,none,0,,,,,,,,,,0\n1,Other,frigate,10,20,5,1,300,3,40,20000,2,3,none,0,,,,,,,,,,0\n";
        assert_eq!(
            load(row).unwrap_err(),
            "ships.csv, line 3, column `type_id`: ship type 1 appears again (first on line 2)"
        );
        let row = "1,Gun,frigate,10,20,5,1,300,3,40,20000,2,3,turret,40,1,1,1,1,1,,,,,0\n";
        assert!(load(row).unwrap_err().contains("40 modules, at most 16"));
        assert_eq!(load("").unwrap_err(), "ships.csv: no ship types (the file has a header but no rows)");
    }
}
