-- Solar systems added while the cluster runs (PostgreSQL): migrations/sqlite/0002_runtime_systems.sql table
-- for table, with BIGINT integers.
CREATE TABLE added_systems (
    system_id     BIGINT PRIMARY KEY CHECK (system_id BETWEEN 0 AND 4294967295),
    name          TEXT NOT NULL,
    x             DOUBLE PRECISION NOT NULL DEFAULT 0,
    y             DOUBLE PRECISION NOT NULL DEFAULT 0,
    z             DOUBLE PRECISION NOT NULL DEFAULT 0,
    security      DOUBLE PRECISION NOT NULL DEFAULT 0,
    arena         BIGINT NOT NULL DEFAULT 0 CHECK (arena IN (0, 1)),
    created_at_ms BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE added_stargates (
    from_system BIGINT NOT NULL,
    to_system   BIGINT NOT NULL,
    PRIMARY KEY (from_system, to_system)
);

CREATE TABLE arena_invites (
    system_id    BIGINT NOT NULL,
    character_id BIGINT NOT NULL,
    PRIMARY KEY (system_id, character_id)
);
