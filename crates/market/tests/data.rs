//! The economy's data files: the shipped ones load and say what the issue asks, and bad ones are refused with
//! the file, line and column of the problem.

mod common;

use orrery_market::{ItemCatalog, ItemGroup, NpcRules};
use orrery_universe::Input;

#[test]
fn the_shipped_catalogue_has_every_kind_of_item_with_volume_and_price() {
    let catalog = common::catalog();
    assert!(catalog.len() >= 40, "only {} item types", catalog.len());
    for group in ItemGroup::ALL {
        assert!(catalog.types().iter().any(|t| t.group == group), "no item of the group {group}");
    }
    assert!(catalog.types().iter().all(|t| t.volume_l >= 1 && t.base_price >= 1));
    let rifter = catalog.get(common::RIFTER).expect("the Rifter is an item type");
    assert_eq!((rifter.name.as_str(), rifter.group, rifter.group.is_ship()), ("Rifter", ItemGroup::Frigate, true));
    assert_eq!(catalog.by_name("Tritanium").map(|t| (t.id, t.volume_l)), Some((common::TRITANIUM, 10)));
}

#[test]
fn the_shipped_npc_rules_cover_the_base_items_and_keep_the_base_price_within_bounds() {
    let rules = common::npc_rules();
    for group in [ItemGroup::Mineral, ItemGroup::Ore, ItemGroup::Ammunition, ItemGroup::Module] {
        let rule = rules.get(group).unwrap_or_else(|| panic!("no NPC rule for {group}"));
        assert!(rule.min_bp <= 10_000 && 10_000 <= rule.max_bp, "{group}: {rule:?}");
        assert!(rule.recovery_bp > 0, "{group} would never recover");
    }
    assert!(rules.get(ItemGroup::Battleship).is_none());
}

fn catalog_error(text: &str) -> String {
    ItemCatalog::from_csv(Input::new("items.csv", &mut text.as_bytes())).expect_err("a bad catalogue").to_string()
}

#[test]
fn a_bad_catalogue_is_refused_with_where_and_what() {
    const HEADER: &str = "type_id,name,group,volume_l,base_price\n";
    let cases = [
        (
            "34,Tritanium,mineral,10,400\n34,Pyerite,mineral,10,1000\n",
            "items.csv, line 3, column `type_id`: item type 34 appears again (first on line 2)",
        ),
        (
            "34,Tritanium,mineral,10,400\n35,Tritanium,mineral,10,1000\n",
            "items.csv, line 3, column `name`: the name `Tritanium` appears again (first on line 2)",
        ),
        (
            "34,Tritanium,mineral,10,0\n",
            "items.csv, line 2, column `base_price`: 0 is out of range: expected 1 to 9223372036854775807",
        ),
        (
            "34,Tritanium,mineral,-10,400\n",
            "items.csv, line 2, column `volume_l`: `-10` is not a whole number from 1 to 18446744073709551615",
        ),
        (
            "34,Tritanium,mineral,0.01,400\n",
            "items.csv, line 2, column `volume_l`: `0.01` is not a whole number from 1 to 18446744073709551615",
        ),
        ("34,,mineral,10,400\n", "items.csv, line 2, column `name`: empty cell, expected the item's name"),
        (
            "x,Tritanium,mineral,10,400\n",
            "items.csv, line 2, column `type_id`: `x` is not an item type id (a whole number)",
        ),
        ("", "items.csv: no item types (the file has a header but no rows)"),
    ];
    for (rows, expected) in cases {
        assert_eq!(catalog_error(&format!("{HEADER}{rows}")), expected);
    }
    assert_eq!(
        catalog_error("type_id,name,volume_l,base_price\n34,Tritanium,10,400\n"),
        "items.csv, line 1: the header has no column `group` (it has: type_id,name,volume_l,base_price)"
    );
    assert!(
        catalog_error(&format!("{HEADER}34,Tritanium,metal,10,400\n"))
            .starts_with("items.csv, line 2, column `group`: `metal` is not a group (one of mineral, ore,")
    );
}

#[test]
fn bad_npc_rules_are_refused_with_where_and_what() {
    const HEADER: &str = "group,spread_bp,stock,impact_bp,reference_volume,recovery_bp,min_bp,max_bp\n";
    let error = |rows: &str| {
        NpcRules::from_csv(Input::new("npc.csv", &mut format!("{HEADER}{rows}").as_bytes()))
            .expect_err("bad rules")
            .to_string()
    };
    assert_eq!(
        error("ore,1000,10,200,0,1000,5000,20000\n"),
        "npc.csv, line 2, column `reference_volume`: 0 is out of range: expected 1 to 9223372036854775807"
    );
    assert_eq!(
        error("ore,1000,10,200,5,1000,5000,9000\n"),
        "npc.csv, line 2, column `max_bp`: 9000 is below 10000: the bounds must contain the base price"
    );
    assert_eq!(
        error("ore,10001,10,200,5,1000,5000,20000\n"),
        "npc.csv, line 2, column `spread_bp`: 10001 is above 10000"
    );
    assert_eq!(
        error("ore,1000,10,200,5,1000,5000,20000\nore,1000,10,200,5,1000,5000,20000\n"),
        "npc.csv, line 3, column `group`: group ore appears again (first on line 2)"
    );
}
