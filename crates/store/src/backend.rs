//! The [`Store`](crate::Store) implementation SQLite and PostgreSQL share: the portable statements of
//! [`crate::sql`], the argument checks, and row decoding that trusts nothing read from the database. Written
//! once as a macro over the sqlx database and row types, because the two backends differ only in their
//! connection setup and in how a transaction starts, which each store type provides:
//! `begin_write(&self)` and `begin_read(&self)`, both returning a `sqlx::Transaction<'static, DB>`, and a
//! `pool` field.

/// Implements [`Store`](crate::Store) for `$store` over sqlx database `$db` whose rows are `$row`.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty) => {
        mod shared_store {
            use super::$store;
            use sqlx::{Decode, Row as _, Type};

            use crate::model::{
                bool_from_db, count_arg, count_from_db, finite_from_db, id_arg, id_from_db, id_to_db, name_key, now_ms,
                u32_from_db, vector_arg,
            };
            use crate::{
                AccountRecord, AddedSystem, CharacterRecord, MappingRecord, NewShip, SettingRow, ShipRow, Store,
                StoreError, sql,
            };

            #[async_trait::async_trait]
            impl Store for $store {
                async fn create_account(&self, username: &str, password_hash: &str) -> Result<u64, StoreError> {
                    let row = sqlx::query(sql::INSERT_ACCOUNT)
                        .bind(username)
                        .bind(name_key(username))
                        .bind(password_hash)
                        .bind(now_ms())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| {
                            constraint_error(e, || format!("the account name {username:?} is taken"), String::new)
                        })?;
                    let id = column::<i64>(&row, 0, "new account")?;
                    id_from_db(id, "new account's account_id")
                }

                async fn account_by_name(&self, username: &str) -> Result<Option<AccountRecord>, StoreError> {
                    let Some(row) =
                        sqlx::query(sql::ACCOUNT_BY_KEY).bind(name_key(username)).fetch_optional(&self.pool).await?
                    else {
                        return Ok(None);
                    };
                    let what = format!("account {username:?}");
                    let account_id = id_from_db(column(&row, 0, &what)?, &format!("{what}: account_id"))?;
                    Ok(Some(AccountRecord {
                        account_id,
                        username: column(&row, 1, &what)?,
                        password_hash: column(&row, 2, &what)?,
                    }))
                }

                async fn put_session_token(&self, token_hash: &str, account_id: u64) -> Result<(), StoreError> {
                    let id = id_arg(account_id, "account id")?;
                    sqlx::query(sql::PUT_TOKEN)
                        .bind(token_hash)
                        .bind(id)
                        .bind(now_ms())
                        .execute(&self.pool)
                        .await
                        .map_err(|e| constraint_error(e, String::new, || format!("account {account_id}")))?;
                    Ok(())
                }

                async fn account_for_token(&self, token_hash: &str) -> Result<Option<u64>, StoreError> {
                    let Some(row) =
                        sqlx::query(sql::ACCOUNT_FOR_TOKEN).bind(token_hash).fetch_optional(&self.pool).await?
                    else {
                        return Ok(None);
                    };
                    let id = column(&row, 0, "session token")?;
                    Ok(Some(id_from_db(id, "session token's account_id")?))
                }

                async fn delete_session_token(&self, token_hash: &str) -> Result<(), StoreError> {
                    sqlx::query(sql::DELETE_TOKEN).bind(token_hash).execute(&self.pool).await?;
                    Ok(())
                }

                async fn create_character(
                    &self,
                    account_id: u64,
                    name: &str,
                    ship: NewShip,
                ) -> Result<CharacterRecord, StoreError> {
                    let account = id_arg(account_id, "account id")?;
                    let position = vector_arg(ship.position, "position")?;
                    let velocity = vector_arg(ship.velocity, "velocity")?;
                    let now = now_ms();

                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query(sql::INSERT_CHARACTER)
                        .bind(account)
                        .bind(name)
                        .bind(name_key(name))
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| {
                            constraint_error(
                                e,
                                || format!("the character name {name:?} is taken"),
                                || format!("account {account_id}"),
                            )
                        })?;
                    let character = column::<i64>(&row, 0, "new character")?;
                    let row = sqlx::query(sql::INSERT_SHIP)
                        .bind(character)
                        .bind(i64::from(ship.system_id))
                        .bind(position[0])
                        .bind(position[1])
                        .bind(position[2])
                        .bind(velocity[0])
                        .bind(velocity[1])
                        .bind(velocity[2])
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    let ship_id = column::<i64>(&row, 0, "new ship")?;
                    sqlx::query(sql::SET_ACTIVE_SHIP).bind(ship_id).bind(character).execute(&mut *tx).await?;
                    tx.commit().await?;

                    let character_id = id_from_db(character, "new character's character_id")?;
                    Ok(CharacterRecord {
                        character_id,
                        account_id,
                        name: name.to_owned(),
                        ship: ShipRow {
                            ship_id: id_from_db(ship_id, "new ship's ship_id")?,
                            character_id,
                            system_id: ship.system_id,
                            position,
                            velocity,
                            handoff_seq: 0,
                            in_space: false,
                        },
                    })
                }

                async fn characters(&self, account_id: u64) -> Result<Vec<CharacterRecord>, StoreError> {
                    let Some(id) = id_to_db(account_id) else { return Ok(Vec::new()) };
                    let rows = sqlx::query(sql::CHARACTERS_OF_ACCOUNT).bind(id).fetch_all(&self.pool).await?;
                    rows.iter().map(decode_character).collect()
                }

                async fn character(&self, character_id: u64) -> Result<Option<CharacterRecord>, StoreError> {
                    let Some(id) = id_to_db(character_id) else { return Ok(None) };
                    let row = sqlx::query(sql::CHARACTER_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(decode_character).transpose()
                }

                async fn save_ships(&self, ships: &[ShipRow]) -> Result<usize, StoreError> {
                    // Check the whole batch before the transaction: a bad row refuses the batch, it does not half-apply.
                    struct Checked {
                        ship_id: i64,
                        character_id: i64,
                        handoff_seq: i64,
                        position: [f64; 3],
                        velocity: [f64; 3],
                    }
                    let checked = ships
                        .iter()
                        .map(|s| {
                            Ok(Checked {
                                ship_id: id_arg(s.ship_id, "ship id")?,
                                character_id: id_arg(s.character_id, "character id")?,
                                handoff_seq: count_arg(s.handoff_seq, "handoff sequence")?,
                                position: vector_arg(s.position, &format!("ship {} position", s.ship_id))?,
                                velocity: vector_arg(s.velocity, &format!("ship {} velocity", s.ship_id))?,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    if checked.is_empty() {
                        return Ok(0);
                    }

                    // Rows are updated in ship order, so two batches touching the same ships lock them in the same order
                    // and cannot deadlock (PostgreSQL locks rows; SQLite locks the whole database anyway).
                    let mut order: Vec<usize> = (0..checked.len()).collect();
                    order.sort_by_key(|&index| checked[index].ship_id);
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let mut written = 0usize;
                    for (ship, c) in order.into_iter().map(|index| (&ships[index], &checked[index])) {
                        let result = sqlx::query(sql::SAVE_SHIP)
                            .bind(c.ship_id)
                            .bind(c.character_id)
                            .bind(i64::from(ship.system_id))
                            .bind(c.handoff_seq)
                            .bind(i64::from(ship.in_space))
                            .bind(c.position[0])
                            .bind(c.position[1])
                            .bind(c.position[2])
                            .bind(c.velocity[0])
                            .bind(c.velocity[1])
                            .bind(c.velocity[2])
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        if result.rows_affected() > 0 {
                            written += 1;
                        }
                    }
                    tx.commit().await?;
                    if written < checked.len() {
                        tracing::debug!(
                            batch = checked.len(),
                            written,
                            "checkpoint rows skipped (older handoff sequence, or unknown ship)"
                        );
                    }
                    Ok(written)
                }

                async fn ship(&self, ship_id: u64) -> Result<Option<ShipRow>, StoreError> {
                    let Some(id) = id_to_db(ship_id) else { return Ok(None) };
                    let row = sqlx::query(sql::SHIP_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                    row.as_ref().map(|r| decode_ship(r, 0)).transpose()
                }

                async fn ships_in_space(&self) -> Result<Vec<ShipRow>, StoreError> {
                    let rows = sqlx::query(sql::SHIPS_IN_SPACE).fetch_all(&self.pool).await?;
                    rows.iter().map(|r| decode_ship(r, 0)).collect()
                }

                async fn save_mapping(&self, epoch: u64, assignments: &[(u32, u32)]) -> Result<(), StoreError> {
                    let epoch_db = count_arg(epoch, "mapping epoch")?;
                    let mut seen = std::collections::HashSet::with_capacity(assignments.len());
                    if let Some((system, _)) = assignments.iter().find(|(system, _)| !seen.insert(*system)) {
                        return Err(StoreError::invalid(format!("system {system} is assigned twice in the mapping")));
                    }

                    let mut tx = self.begin_write().await?;
                    let taken =
                        sqlx::query(sql::UPSERT_MAPPING_EPOCH).bind(epoch_db).bind(now_ms()).execute(&mut *tx).await?;
                    if taken.rows_affected() == 0 {
                        let row = sqlx::query(sql::MAPPING_EPOCH).fetch_one(&mut *tx).await?;
                        let stored = count_from_db(column(&row, 0, "mapping epoch")?, "mapping epoch")?;
                        return Err(StoreError::Conflict {
                            what: format!("mapping epoch {epoch} is older than the stored epoch {stored}"),
                        });
                    }
                    sqlx::query(sql::CLEAR_MAPPING).execute(&mut *tx).await?;
                    for &(system, node) in assignments {
                        sqlx::query(sql::INSERT_ASSIGNMENT)
                            .bind(i64::from(system))
                            .bind(i64::from(node))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    tracing::debug!(epoch, systems = assignments.len(), "mapping saved");
                    Ok(())
                }

                async fn load_mapping(&self) -> Result<Option<MappingRecord>, StoreError> {
                    // One read transaction, so the epoch and the rows are of the same save.
                    let mut tx = self.begin_read().await?;
                    let Some(row) = sqlx::query(sql::MAPPING_EPOCH).fetch_optional(&mut *tx).await? else {
                        return Ok(None);
                    };
                    let epoch = count_from_db(column(&row, 0, "mapping epoch")?, "mapping epoch")?;
                    let rows = sqlx::query(sql::ASSIGNMENTS).fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                    let assignments = rows
                        .iter()
                        .map(|row| {
                            let system = u32_from_db(column(row, 0, "mapping row")?, "mapping system_id")?;
                            let what = format!("mapping row of system {system}");
                            let node = u32_from_db(column(row, 1, &what)?, &format!("{what}: node_id"))?;
                            Ok((system, node))
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    Ok(Some(MappingRecord { epoch, assignments }))
                }

                async fn settings(&self) -> Result<Vec<SettingRow>, StoreError> {
                    let rows = sqlx::query(sql::SETTINGS).fetch_all(&self.pool).await?;
                    rows.iter().map(decode_setting).collect()
                }

                async fn get_setting(&self, key: &str) -> Result<Option<SettingRow>, StoreError> {
                    let row = sqlx::query(sql::SETTING).bind(key).fetch_optional(&self.pool).await?;
                    row.as_ref().map(decode_setting).transpose()
                }

                async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
                    sqlx::query(sql::PUT_SETTING).bind(key).bind(value).bind(now_ms()).execute(&self.pool).await?;
                    Ok(())
                }

                async fn added_systems(&self) -> Result<Vec<Result<AddedSystem, StoreError>>, StoreError> {
                    let rows = sqlx::query(sql::ADDED_SYSTEMS).fetch_all(&self.pool).await?;
                    Ok(rows.iter().map(decode_added_system).collect())
                }

                async fn added_stargates(&self) -> Result<Vec<(u32, u32)>, StoreError> {
                    let rows = sqlx::query(sql::ADDED_STARGATES).fetch_all(&self.pool).await?;
                    rows.iter()
                        .map(|row| {
                            let from = u32_from_db(column(row, 0, "added stargate")?, "added stargate: from_system")?;
                            let to = u32_from_db(column(row, 1, "added stargate")?, "added stargate: to_system")?;
                            Ok((from, to))
                        })
                        .collect()
                }

                async fn take_invite(&self, character_id: u64) -> Result<Option<u32>, StoreError> {
                    let Some(id) = id_to_db(character_id) else { return Ok(None) };
                    let row = sqlx::query(sql::TAKE_INVITE).bind(id).fetch_optional(&self.pool).await?;
                    row.map(|row| u32_from_db(column(&row, 0, "arena invite")?, "arena invite: system_id")).transpose()
                }

                async fn pending_moves(&self) -> Result<Vec<crate::MoveRequest>, StoreError> {
                    let rows = sqlx::query(sql::PENDING_MOVES).fetch_all(&self.pool).await?;
                    rows.iter()
                        .map(|row| {
                            let move_id = id_from_db(column(row, 0, "system move")?, "system move: move_id")?;
                            let what = format!("system move {move_id}");
                            let system_id = u32_from_db(column(row, 1, &what)?, &format!("{what}: system_id"))?;
                            let node_id = u32_from_db(column(row, 2, &what)?, &format!("{what}: node_id"))?;
                            Ok(crate::MoveRequest { move_id, system_id, node_id })
                        })
                        .collect()
                }

                async fn finish_move(&self, move_id: u64, outcome: &str) -> Result<(), StoreError> {
                    let Some(id) = id_to_db(move_id) else { return Ok(()) };
                    sqlx::query(sql::FINISH_MOVE).bind(id).bind(now_ms()).bind(outcome).execute(&self.pool).await?;
                    Ok(())
                }

                // ---- economy ----

                fn economy(&self) -> &dyn crate::EconomyStore {
                    self
                }
            }

            fn decode_added_system(row: &$row) -> Result<AddedSystem, StoreError> {
                let system_id = u32_from_db(column(row, 0, "added system")?, "added system: system_id")?;
                let what = format!("added system {system_id}");
                let name: String = column(row, 1, &what)?;
                if name.trim().is_empty() {
                    return Err(StoreError::corrupt(format!("{what}: empty name")));
                }
                let coordinate = |index: usize, axis: &str| -> Result<f64, StoreError> {
                    finite_from_db(column(row, index, &what)?, &format!("{what}: {axis}"))
                };
                let position = [coordinate(2, "x")?, coordinate(3, "y")?, coordinate(4, "z")?];
                let security = coordinate(5, "security")?;
                let arena = bool_from_db(column(row, 6, &what)?, &format!("{what}: arena"))?;
                Ok(AddedSystem { system_id, name, position, security, arena })
            }

            // ---- row decoding --------------------------------------------------------------------------------------

            /// Column `index` of `row`, never NULL and of the right type; anything else is [`StoreError::Corrupt`]
            /// naming `what` and the column. (sqlx would decode a NULL integer as 0, hence the `Option`.)
            fn column<'r, T>(row: &'r $row, index: usize, what: &str) -> Result<T, StoreError>
            where
                T: Decode<'r, $db> + Type<$db>,
            {
                let name = || {
                    row.columns().get(index).map_or_else(|| format!("#{index}"), |c| sqlx::Column::name(c).to_owned())
                };
                match row.try_get::<Option<T>, _>(index) {
                    Ok(Some(value)) => Ok(value),
                    Ok(None) => Err(StoreError::corrupt(format!("{what}: {} is NULL", name()))),
                    Err(sqlx::Error::ColumnDecode { source, .. }) => {
                        Err(StoreError::corrupt(format!("{what}: {} cannot be decoded: {source}", name())))
                    }
                    Err(e) => Err(StoreError::Database(e)),
                }
            }

            /// The ship whose columns start at `offset`, in the order of the ship queries.
            fn decode_ship(row: &$row, offset: usize) -> Result<ShipRow, StoreError> {
                let raw_id: i64 = column(row, offset, "ship row")?;
                let what = format!("ship row with ship_id {raw_id}");
                let at = |name: &str| format!("{what}: {name}");
                let ship_id = id_from_db(raw_id, &what)?;
                let character_id = id_from_db(column(row, offset + 1, &what)?, &at("character_id"))?;
                let system_id = u32_from_db(column(row, offset + 2, &what)?, &at("system_id"))?;
                let mut vectors = [[0.0; 3]; 2];
                for (i, name) in ["pos_x", "pos_y", "pos_z", "vel_x", "vel_y", "vel_z"].into_iter().enumerate() {
                    vectors[i / 3][i % 3] = finite_from_db(column(row, offset + 3 + i, &what)?, &at(name))?;
                }
                let handoff_seq = count_from_db(column(row, offset + 9, &what)?, &at("handoff_seq"))?;
                let in_space = bool_from_db(column(row, offset + 10, &what)?, &at("in_space"))?;
                Ok(ShipRow {
                    ship_id,
                    character_id,
                    system_id,
                    position: vectors[0],
                    velocity: vectors[1],
                    handoff_seq,
                    in_space,
                })
            }

            fn decode_character(row: &$row) -> Result<CharacterRecord, StoreError> {
                let raw_id: i64 = column(row, 0, "character row")?;
                let what = format!("character row with character_id {raw_id}");
                let character_id = id_from_db(raw_id, &what)?;
                let account_id = id_from_db(column(row, 1, &what)?, &format!("{what}: account_id"))?;
                let name: String = column(row, 2, &what)?;
                let active: Option<i64> =
                    row.try_get(3).map_err(|e| StoreError::corrupt(format!("{what}: ship_id: {e}")))?;
                if active.is_none() {
                    return Err(StoreError::corrupt(format!("{what} has no active ship")));
                }
                let ship = decode_ship(row, 4).map_err(|e| match e {
                    StoreError::Corrupt { what: inner } => StoreError::corrupt(format!("{what}: {inner}")),
                    other => other,
                })?;
                if ship.character_id != character_id {
                    return Err(StoreError::corrupt(format!(
                        "{what}: its active ship {} belongs to character {}",
                        ship.ship_id, ship.character_id
                    )));
                }
                Ok(CharacterRecord { character_id, account_id, name, ship })
            }

            fn decode_setting(row: &$row) -> Result<SettingRow, StoreError> {
                let key: String = column(row, 0, "setting row")?;
                let what = format!("setting {key:?}");
                let value = column(row, 1, &what)?;
                let updated_at_ms = count_from_db(column(row, 2, &what)?, &format!("{what}: updated_at_ms"))?;
                Ok(SettingRow { key, value, updated_at_ms })
            }

            /// A failed write, with unique and foreign-key violations turned into [`StoreError::Conflict`] and
            /// [`StoreError::NotFound`]; `taken` and `missing` say what collided or was missing.
            fn constraint_error(
                e: sqlx::Error,
                taken: impl FnOnce() -> String,
                missing: impl FnOnce() -> String,
            ) -> StoreError {
                match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { what: taken() },
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound { what: missing() }
                    }
                    _ => StoreError::Database(e),
                }
            }
        }
    };
}

pub(crate) use sql_store;
