//! A walk through the store: open a SQLite file, create an account and a character, checkpoint the ship
//! (including a late checkpoint the handoff rule ignores), save a mapping and a setting, reopen, print.
//!
//! `cargo run -p orrery-store --example store_tour [path/to/orrery.db]` (a temporary file by default).

use orrery_store::{NewShip, ShipRow, SqliteStore, Store, StoreError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
    let path = std::env::args().nth(1).unwrap_or_else(|| dir.path().join("orrery.db").display().to_string());
    println!("store: {path}");

    let store = SqliteStore::open(&path).await?;
    let account = match store.account_by_name("tour").await? {
        Some(existing) => existing.account_id,
        None => store.create_account("Tour", "$argon2id$v=19$m=19456,t=2,p=1$example").await?,
    };
    println!("account {account}");

    let character = match store.characters(account).await?.into_iter().next() {
        Some(existing) => existing,
        None => {
            let start = NewShip {
                system_id: 30000142,
                position: [-1.2e11, 3.4e9, 8.0e10],
                velocity: [0.0; 3],
                ship_type_id: None,
            };
            store.create_character(account, "Tour Guide", start).await?
        }
    };
    println!("character {} {:?}, ship {}", character.character_id, character.name, character.ship.ship_id);

    // Undock and fly; then jump (handoff sequence + 1) to the next system.
    let ship = character.ship;
    let flying = ShipRow { in_space: true, velocity: [150.0, 0.0, 0.0], ..ship };
    let jumped = ShipRow { system_id: 30000144, position: [0.0; 3], handoff_seq: ship.handoff_seq + 1, ..flying };
    println!("checkpoint in space: {} row(s) written", store.save_ships(&[flying]).await?);
    println!("checkpoint after the jump: {} row(s) written", store.save_ships(&[jumped]).await?);
    println!("late checkpoint from the old system: {} row(s) written", store.save_ships(&[flying]).await?);

    let epoch = store.load_mapping().await?.map_or(1, |m| m.epoch + 1);
    store.save_mapping(epoch, &[(30000142, 1), (30000144, 2)]).await?;
    store.put_setting("tidi.floor", "0.1").await?;
    store.close().await;

    // A restart: everything is read back from the file.
    let store = SqliteStore::open(&path).await?;
    println!("after reopening:");
    for ship in store.ships_in_space().await? {
        println!(
            "  in space: ship {} of character {} in system {} at {:?} (handoff {})",
            ship.ship_id, ship.character_id, ship.system_id, ship.position, ship.handoff_seq
        );
    }
    if let Some(mapping) = store.load_mapping().await? {
        println!("  mapping epoch {}: {:?}", mapping.epoch, mapping.assignments);
    }
    for setting in store.settings().await? {
        println!("  setting {} = {} (updated at {} ms)", setting.key, setting.value, setting.updated_at_ms);
    }
    store.close().await;
    Ok(())
}
