-- orrery store, schema 4 (PostgreSQL): ships carry a hull and its damage; characters have a home; kill reports.
-- Table for table the same as migrations/sqlite/0004_combat.sql (see there, also for giving a ship by SQL;
-- in PostgreSQL: INSERT ... RETURNING ship_id, then UPDATE characters SET ship_id = <that id>).

ALTER TABLE ships ADD COLUMN type_id BIGINT CHECK (type_id BETWEEN 0 AND 4294967295);
ALTER TABLE ships ADD COLUMN shield_hp DOUBLE PRECISION;
ALTER TABLE ships ADD COLUMN armour_hp DOUBLE PRECISION;
ALTER TABLE ships ADD COLUMN hull_hp DOUBLE PRECISION;

ALTER TABLE characters ADD COLUMN home_system_id BIGINT CHECK (home_system_id BETWEEN 0 AND 4294967295);
UPDATE characters SET home_system_id = (SELECT s.system_id FROM ships s WHERE s.ship_id = characters.ship_id);

CREATE TABLE kills (
    kill_id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY CHECK (kill_id >= 1),
    system_id           BIGINT NOT NULL CHECK (system_id BETWEEN 0 AND 4294967295),
    tick                BIGINT NOT NULL CHECK (tick >= 0),
    sim_time_ms         BIGINT NOT NULL CHECK (sim_time_ms >= 0),
    killed_at_ms        BIGINT NOT NULL,
    victim_ship_id      BIGINT NOT NULL,
    victim_character_id BIGINT NOT NULL,
    ship_type_id        BIGINT NOT NULL CHECK (ship_type_id BETWEEN 0 AND 4294967295),
    capsule             BIGINT NOT NULL CHECK (capsule IN (0, 1)),
    pos_x               DOUBLE PRECISION NOT NULL,
    pos_y               DOUBLE PRECISION NOT NULL,
    pos_z               DOUBLE PRECISION NOT NULL,
    final_ship_id       BIGINT NOT NULL,
    final_character_id  BIGINT NOT NULL,
    final_ship_type_id  BIGINT NOT NULL,
    final_damage        DOUBLE PRECISION NOT NULL
);
CREATE INDEX kills_by_system ON kills (system_id, kill_id);

CREATE TABLE kill_attackers (
    kill_id      BIGINT NOT NULL REFERENCES kills (kill_id) ON DELETE CASCADE,
    ordinal      BIGINT NOT NULL CHECK (ordinal >= 0),
    ship_id      BIGINT NOT NULL,
    character_id BIGINT NOT NULL,
    ship_type_id BIGINT NOT NULL,
    damage       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kill_id, ordinal)
);
