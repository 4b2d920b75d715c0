-- orrery store, schema 4 (SQLite): ships carry a hull and its damage; characters have a home; kill reports.
--
-- ships.type_id is a ship type of data/ship-types.csv (NULL: a ship from before schema 4, which the sol node
-- gives the starter frigate when it enters space). shield_hp, armour_hp and hull_hp are what is left of the
-- hull as of the last checkpoint, all three NULL for a fresh hull (full hit points of its type).
--
-- Giving a character a ship by SQL (it becomes the character's active ship at its next undock; the old one
-- stays in the table, not in space):
--   INSERT INTO ships (character_id, system_id, pos_x, pos_y, pos_z, vel_x, vel_y, vel_z, updated_at_ms, type_id)
--     VALUES (7, 30000142, 0, 0, 0, 0, 0, 0, 0, 639);
--   UPDATE characters SET ship_id = last_insert_rowid() WHERE character_id = 7;
-- or, simpler, replacing the hull of the ship the character has (while it is docked):
--   UPDATE ships SET type_id = 639, shield_hp = NULL, armour_hp = NULL, hull_hp = NULL WHERE ship_id = 12;

ALTER TABLE ships ADD COLUMN type_id INTEGER CHECK (type_id BETWEEN 0 AND 4294967295);
ALTER TABLE ships ADD COLUMN shield_hp DOUBLE PRECISION;
ALTER TABLE ships ADD COLUMN armour_hp DOUBLE PRECISION;
ALTER TABLE ships ADD COLUMN hull_hp DOUBLE PRECISION;

-- Where a character wakes up when its capsule is destroyed: the system it was created in.
ALTER TABLE characters ADD COLUMN home_system_id INTEGER CHECK (home_system_id BETWEEN 0 AND 4294967295);
UPDATE characters SET home_system_id = (SELECT s.system_id FROM ships s WHERE s.ship_id = characters.ship_id);

-- Every loss, written before anything else about it is sent to a client. The final blow is also one of the
-- attackers (kill_attackers, in the order they first hurt the victim).
CREATE TABLE kills (
    kill_id             INTEGER PRIMARY KEY AUTOINCREMENT CHECK (kill_id >= 1),
    system_id           INTEGER NOT NULL CHECK (system_id BETWEEN 0 AND 4294967295),
    tick                BIGINT NOT NULL CHECK (tick >= 0),
    sim_time_ms         BIGINT NOT NULL CHECK (sim_time_ms >= 0),
    killed_at_ms        BIGINT NOT NULL,
    victim_ship_id      BIGINT NOT NULL,
    victim_character_id BIGINT NOT NULL,
    ship_type_id        INTEGER NOT NULL CHECK (ship_type_id BETWEEN 0 AND 4294967295),
    capsule             INTEGER NOT NULL CHECK (capsule IN (0, 1)),
    pos_x               DOUBLE PRECISION NOT NULL,
    pos_y               DOUBLE PRECISION NOT NULL,
    pos_z               DOUBLE PRECISION NOT NULL,
    final_ship_id       BIGINT NOT NULL,
    final_character_id  BIGINT NOT NULL,
    final_ship_type_id  INTEGER NOT NULL,
    final_damage        DOUBLE PRECISION NOT NULL
);
CREATE INDEX kills_by_system ON kills (system_id, kill_id);

CREATE TABLE kill_attackers (
    kill_id      BIGINT NOT NULL REFERENCES kills (kill_id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL CHECK (ordinal >= 0),
    ship_id      BIGINT NOT NULL,
    character_id BIGINT NOT NULL,
    ship_type_id INTEGER NOT NULL,
    damage       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kill_id, ordinal)
);
