//! Item types as data: the catalogue in `data/items.csv` (type id, name, group, volume, base price), read by a
//! pure parser over any `Read`er with every problem located by file, line and column — through the universe
//! crate's [`CsvTable`], like every other loader of orrery, so all of them report bad input the same way.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use orrery_universe::{CsvTable, Input, LoadError, Location};

use crate::ids::{ItemTypeId, MAX_AMOUNT, Money};

/// What kind of thing an item is. The NPC price rules (`data/npc-pricing.csv`) are given per group, and only ore
/// can be mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemGroup {
    /// Refined materials (Tritanium, Pyerite, …): traded, but not mined.
    Mineral,
    /// Raw ore from asteroid belts: the one group that can be mined (a faucet).
    Ore,
    /// Charges fired by weapons, consumed in use.
    Ammunition,
    /// Fittings for ships.
    Module,
    /// The smallest ship class.
    Frigate,
    /// The middle ship class.
    Cruiser,
    /// The largest ship class in the catalogue.
    Battleship,
    /// The pod a pilot flies when their ship is lost.
    Capsule,
}

impl ItemGroup {
    /// Every group, in the order of the enum.
    pub const ALL: [ItemGroup; 8] = [
        ItemGroup::Mineral,
        ItemGroup::Ore,
        ItemGroup::Ammunition,
        ItemGroup::Module,
        ItemGroup::Frigate,
        ItemGroup::Cruiser,
        ItemGroup::Battleship,
        ItemGroup::Capsule,
    ];

    /// The name used in the data files.
    pub fn name(self) -> &'static str {
        match self {
            ItemGroup::Mineral => "mineral",
            ItemGroup::Ore => "ore",
            ItemGroup::Ammunition => "ammunition",
            ItemGroup::Module => "module",
            ItemGroup::Frigate => "frigate",
            ItemGroup::Cruiser => "cruiser",
            ItemGroup::Battleship => "battleship",
            ItemGroup::Capsule => "capsule",
        }
    }

    /// Ships are items too; these are the groups that are ship types.
    pub fn is_ship(self) -> bool {
        matches!(self, ItemGroup::Frigate | ItemGroup::Cruiser | ItemGroup::Battleship | ItemGroup::Capsule)
    }
}

impl fmt::Display for ItemGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ItemGroup {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        ItemGroup::ALL.into_iter().find(|g| g.name() == text).ok_or(())
    }
}

/// One item type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemType {
    /// The type's id, unique in the catalogue; what orders and hangars refer to.
    pub id: ItemTypeId,
    /// The name players see, unique in the catalogue (so it can also be looked up by name).
    pub name: String,
    /// Its group, which picks its NPC price rule and says whether it can be mined.
    pub group: ItemGroup,
    /// The space one unit takes, in litres (1 m³ = 1 000 L), so volumes are whole numbers too.
    pub volume_l: u64,
    /// The reference price NPC traders start from and return to, in money units.
    pub base_price: Money,
}

/// All item types, in file order, with lookup by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemCatalog {
    types: Vec<ItemType>,
    by_id: HashMap<ItemTypeId, usize>,
}

impl ItemCatalog {
    /// Reads a catalogue: columns `type_id`, `name`, `group`, `volume_l`, `base_price` (found by name, in any order;
    /// others ignored). Ids and names must be unique, the group one of [`ItemGroup`]'s names, volume and base price
    /// whole numbers ≥ 1 (the price at most [`MAX_AMOUNT`]).
    ///
    /// ```
    /// use orrery_market::ItemCatalog;
    /// use orrery_universe::Input;
    ///
    /// let mut text = "type_id,name,group,volume_l,base_price\n34,Tritanium,mineral,10,450\n".as_bytes();
    /// let catalog = ItemCatalog::from_csv(Input::new("items.csv", &mut text))?;
    /// assert_eq!(catalog.by_name("Tritanium").map(|t| t.base_price), Some(450));
    ///
    /// let mut bad = "type_id,name,group,volume_l,base_price\n34,Tritanium,metal,10,450\n".as_bytes();
    /// let error = ItemCatalog::from_csv(Input::new("items.csv", &mut bad)).unwrap_err();
    /// assert!(error.to_string().starts_with("items.csv, line 2, column `group`: `metal` is not a group"));
    /// # Ok::<(), orrery_universe::LoadError>(())
    /// ```
    pub fn from_csv(input: Input<'_>) -> Result<ItemCatalog, LoadError> {
        let mut table = CsvTable::open(input)?;
        let file = table.file();
        let [id_col, name_col, group_col, volume_col, price_col] =
            ["type_id", "name", "group", "volume_l", "base_price"].map(|c| table.column(c));
        let (id_col, name_col, group_col, volume_col, price_col) =
            (id_col?, name_col?, group_col?, volume_col?, price_col?);
        let groups = ItemGroup::ALL.map(ItemGroup::name).join(", ");
        let mut catalog = ItemCatalog::default();
        let mut line_of_id = HashMap::new();
        let mut line_of_name = HashMap::new();
        table.for_each_row(|row| {
            let id = ItemTypeId(row.parse(id_col, "an item type id (a whole number)")?);
            row.first_time(&mut line_of_id, id_col, "item type", id)?;
            let name = row.text(name_col);
            if name.is_empty() {
                return Err(LoadError::invalid(row.at(name_col), "empty cell, expected the item's name"));
            }
            if let Some(first) = line_of_name.insert(name.to_owned(), row.line) {
                let problem = format!("the name `{name}` appears again (first on line {first})");
                return Err(LoadError::invalid(row.at(name_col), problem));
            }
            let name = name.to_owned();
            let group = row.parse(group_col, &format!("a group (one of {groups})"))?;
            let volume_l = positive(row, volume_col, u64::MAX)?;
            let base_price = positive(row, price_col, MAX_AMOUNT)?;
            catalog.by_id.insert(id, catalog.types.len());
            catalog.types.push(ItemType { id, name, group, volume_l, base_price });
            Ok(())
        })?;
        if catalog.types.is_empty() {
            return Err(LoadError::invalid(Location::file(file), "no item types (the file has a header but no rows)"));
        }
        Ok(catalog)
    }

    /// The item type with that id, or `None` when the catalogue has none (how the exchange refuses unknown items).
    pub fn get(&self, id: ItemTypeId) -> Option<&ItemType> {
        self.by_id.get(&id).map(|&i| &self.types[i])
    }

    /// The item type with that exact name, for tools and tests that speak of items by name (a linear search: not
    /// for the hot path).
    pub fn by_name(&self, name: &str) -> Option<&ItemType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// Every item type, in file order.
    pub fn types(&self) -> &[ItemType] {
        &self.types
    }

    /// How many item types the catalogue holds.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether it holds none (never so for one read by [`ItemCatalog::from_csv`], which refuses an empty file).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

/// A whole number from 1 to `max`.
pub(crate) fn positive(row: &orrery_universe::Row<'_>, column: usize, max: u64) -> Result<u64, LoadError> {
    let value: u64 = row.parse(column, &format!("a whole number from 1 to {max}"))?;
    if value == 0 || value > max {
        return Err(LoadError::invalid(row.at(column), format!("{value} is out of range: expected 1 to {max}")));
    }
    Ok(value)
}
