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
                AccountRecord, AddedSystem, CharacterRecord, Hull, KillAttacker, KillRecord, LossHulls, MappingRecord,
                NewShip, SettingRow, ShipRow, Store, StoreError, sql,
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
                        .bind(i64::from(ship.system_id))
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
                        .bind(ship.ship_type_id.map(i64::from))
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
                            hull: ship.ship_type_id.map(|type_id| Hull { type_id, hit_points: None }),
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
                        hit_points: Option<[f64; 3]>,
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
                                hit_points: s
                                    .hull
                                    .and_then(|hull| hull.hit_points)
                                    .map(|hp| vector_arg(hp, &format!("ship {} hit points", s.ship_id)))
                                    .transpose()?,
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
                            .bind(ship.hull.map(|hull| i64::from(hull.type_id)))
                            .bind(c.hit_points.map(|hp| hp[0]))
                            .bind(c.hit_points.map(|hp| hp[1]))
                            .bind(c.hit_points.map(|hp| hp[2]))
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

                // ---- combat ----

                async fn save_kills(&self, kills: &[KillRecord], hulls: LossHulls) -> Result<Vec<u64>, StoreError> {
                    if kills.is_empty() {
                        return Ok(Vec::new());
                    }
                    for kill in kills {
                        id_arg(kill.victim_ship_id, "victim ship id")?;
                        count_arg(kill.victim_character_id, "victim character id")?;
                        vector_arg(kill.position, &format!("kill of ship {} position", kill.victim_ship_id))?;
                        count_arg(kill.tick, "kill tick")?;
                        count_arg(kill.sim_time_ms, "kill simulation time")?;
                        for a in kill.attackers.iter().chain([&kill.final_blow]) {
                            count_arg(a.ship_id, "attacker ship id")?;
                            count_arg(a.character_id, "attacker character id")?;
                            if !a.damage.is_finite() {
                                return Err(StoreError::invalid(format!(
                                    "attacker {} damage is not finite",
                                    a.ship_id
                                )));
                            }
                        }
                    }
                    let now = now_ms();
                    let mut tx = self.begin_write().await?;
                    let mut ids = Vec::with_capacity(kills.len());
                    for kill in kills {
                        let victim = kill.victim_ship_id as i64;
                        let pilot = kill.victim_character_id as i64;
                        let f = &kill.final_blow;
                        let row = sqlx::query(sql::INSERT_KILL)
                            .bind(i64::from(kill.system_id))
                            .bind(kill.tick as i64)
                            .bind(kill.sim_time_ms as i64)
                            .bind(now)
                            .bind(victim)
                            .bind(pilot)
                            .bind(i64::from(kill.ship_type_id))
                            .bind(i64::from(kill.capsule))
                            .bind(kill.position[0])
                            .bind(kill.position[1])
                            .bind(kill.position[2])
                            .bind(f.ship_id as i64)
                            .bind(f.character_id as i64)
                            .bind(i64::from(f.ship_type_id))
                            .bind(f.damage)
                            .fetch_one(&mut *tx)
                            .await?;
                        let kill_id = column::<i64>(&row, 0, "new kill")?;
                        for (ordinal, a) in kill.attackers.iter().enumerate() {
                            sqlx::query(sql::INSERT_KILL_ATTACKER)
                                .bind(kill_id)
                                .bind(ordinal as i64)
                                .bind(a.ship_id as i64)
                                .bind(a.character_id as i64)
                                .bind(i64::from(a.ship_type_id))
                                .bind(a.damage)
                                .execute(&mut *tx)
                                .await?;
                        }
                        if !kill.capsule {
                            sqlx::query(sql::EJECT)
                                .bind(victim)
                                .bind(pilot)
                                .bind(i64::from(hulls.capsule))
                                .execute(&mut *tx)
                                .await?;
                        } else if let Some(row) =
                            sqlx::query(sql::CHARACTER_HOME).bind(pilot).fetch_optional(&mut *tx).await?
                        {
                            // The pilot wakes up at home in a new ship, once: only while the lost capsule is still
                            // the character's active ship.
                            let home: Option<i64> = row
                                .try_get(0)
                                .map_err(|e| StoreError::corrupt(format!("character {pilot}: home_system_id: {e}")))?;
                            let active: Option<i64> = row
                                .try_get(1)
                                .map_err(|e| StoreError::corrupt(format!("character {pilot}: ship_id: {e}")))?;
                            if active == Some(victim) {
                                let home = home.unwrap_or(i64::from(kill.system_id));
                                let row = sqlx::query(sql::INSERT_SHIP)
                                    .bind(pilot)
                                    .bind(home)
                                    .bind(0.0)
                                    .bind(0.0)
                                    .bind(0.0)
                                    .bind(0.0)
                                    .bind(0.0)
                                    .bind(0.0)
                                    .bind(now)
                                    .bind(i64::from(hulls.respawn))
                                    .fetch_one(&mut *tx)
                                    .await?;
                                let ship_id = column::<i64>(&row, 0, "respawned ship")?;
                                sqlx::query(sql::SET_ACTIVE_SHIP).bind(ship_id).bind(pilot).execute(&mut *tx).await?;
                                sqlx::query(sql::SHIP_GONE).bind(victim).bind(now).execute(&mut *tx).await?;
                            }
                        }
                        ids.push(id_from_db(kill_id, "new kill's kill_id")?);
                    }
                    tx.commit().await?;
                    Ok(ids)
                }

                async fn kills(&self, system_id: Option<u32>, limit: u32) -> Result<Vec<KillRecord>, StoreError> {
                    let limit = i64::from(limit);
                    let mut tx = self.begin_read().await?;
                    let rows = match system_id {
                        Some(system) => {
                            sqlx::query(sql::KILLS_IN_SYSTEM)
                                .bind(limit)
                                .bind(i64::from(system))
                                .fetch_all(&mut *tx)
                                .await?
                        }
                        None => sqlx::query(sql::KILLS).bind(limit).fetch_all(&mut *tx).await?,
                    };
                    let mut kills = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let mut kill = decode_kill(row)?;
                        let attackers =
                            sqlx::query(sql::KILL_ATTACKERS).bind(kill.kill_id as i64).fetch_all(&mut *tx).await?;
                        let what = format!("kill {}", kill.kill_id);
                        kill.attackers =
                            attackers.iter().map(|a| decode_attacker(a, 0, &what)).collect::<Result<_, _>>()?;
                        kills.push(kill);
                    }
                    tx.commit().await?;
                    Ok(kills)
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
                let hull = decode_hull(row, offset + 11, &what)?;
                Ok(ShipRow {
                    ship_id,
                    character_id,
                    system_id,
                    position: vectors[0],
                    velocity: vectors[1],
                    handoff_seq,
                    in_space,
                    hull,
                })
            }

            /// The hull columns (type, shield, armour, hull hit points) from `offset`: no type is a ship from before
            /// types; hit points are all three or none (a fresh hull).
            fn decode_hull(row: &$row, offset: usize, what: &str) -> Result<Option<Hull>, StoreError> {
                let nullable = |index: usize, name: &str| -> Result<Option<f64>, StoreError> {
                    let value: Option<f64> = row
                        .try_get(offset + index)
                        .map_err(|e| StoreError::corrupt(format!("{what}: {name} cannot be decoded: {e}")))?;
                    value.map(|v| finite_from_db(v, &format!("{what}: {name}"))).transpose()
                };
                let type_id: Option<i64> =
                    row.try_get(offset).map_err(|e| StoreError::corrupt(format!("{what}: type_id: {e}")))?;
                let Some(type_id) = type_id else { return Ok(None) };
                let type_id = u32_from_db(type_id, &format!("{what}: type_id"))?;
                let hit_points = match (nullable(1, "shield_hp")?, nullable(2, "armour_hp")?, nullable(3, "hull_hp")?) {
                    (Some(shield), Some(armour), Some(hull)) => Some([shield, armour, hull]),
                    (None, None, None) => None,
                    _ => {
                        return Err(StoreError::corrupt(format!(
                            "{what}: shield_hp, armour_hp and hull_hp must be all set or all NULL"
                        )));
                    }
                };
                Ok(Some(Hull { type_id, hit_points }))
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

            fn decode_kill(row: &$row) -> Result<KillRecord, StoreError> {
                let kill_id = id_from_db(column(row, 0, "kill row")?, "kill row: kill_id")?;
                let what = format!("kill {kill_id}");
                let at = |name: &str| format!("{what}: {name}");
                let number = |index: usize, name: &str| -> Result<u64, StoreError> {
                    count_from_db(column(row, index, &what)?, &at(name))
                };
                let mut position = [0.0; 3];
                for (i, name) in ["pos_x", "pos_y", "pos_z"].into_iter().enumerate() {
                    position[i] = finite_from_db(column(row, 9 + i, &what)?, &at(name))?;
                }
                Ok(KillRecord {
                    kill_id,
                    system_id: u32_from_db(column(row, 1, &what)?, &at("system_id"))?,
                    tick: number(2, "tick")?,
                    sim_time_ms: number(3, "sim_time_ms")?,
                    killed_at_ms: number(4, "killed_at_ms")?,
                    victim_ship_id: number(5, "victim_ship_id")?,
                    victim_character_id: number(6, "victim_character_id")?,
                    ship_type_id: u32_from_db(column(row, 7, &what)?, &at("ship_type_id"))?,
                    capsule: bool_from_db(column(row, 8, &what)?, &at("capsule"))?,
                    position,
                    final_blow: decode_attacker(row, 12, &format!("{what}: final blow"))?,
                    attackers: Vec::new(),
                })
            }

            /// An attacker's ship, character, type and damage from column `offset` on.
            fn decode_attacker(row: &$row, offset: usize, what: &str) -> Result<KillAttacker, StoreError> {
                Ok(KillAttacker {
                    ship_id: count_from_db(column(row, offset, what)?, &format!("{what}: ship_id"))?,
                    character_id: count_from_db(column(row, offset + 1, what)?, &format!("{what}: character_id"))?,
                    ship_type_id: u32_from_db(column(row, offset + 2, what)?, &format!("{what}: ship_type_id"))?,
                    damage: finite_from_db(column(row, offset + 3, what)?, &format!("{what}: damage"))?,
                })
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
