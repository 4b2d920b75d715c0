-- Solar systems added while the cluster runs: an operator inserts a row (and its stargates) with any SQL
-- client, and the coordinator brings it online on the least-loaded sol node. An arena is a system without
-- stargates, entered by invitation (arena_invites: the invited character's next undock goes there).
CREATE TABLE added_systems (
    system_id     INTEGER PRIMARY KEY CHECK (system_id BETWEEN 0 AND 4294967295),
    name          TEXT NOT NULL,
    x             DOUBLE PRECISION NOT NULL DEFAULT 0,
    y             DOUBLE PRECISION NOT NULL DEFAULT 0,
    z             DOUBLE PRECISION NOT NULL DEFAULT 0,
    security      DOUBLE PRECISION NOT NULL DEFAULT 0,
    arena         INTEGER NOT NULL DEFAULT 0 CHECK (arena IN (0, 1)),
    created_at_ms BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE added_stargates (
    from_system INTEGER NOT NULL,
    to_system   INTEGER NOT NULL,
    PRIMARY KEY (from_system, to_system)
);

CREATE TABLE arena_invites (
    system_id    INTEGER NOT NULL,
    character_id INTEGER NOT NULL,
    PRIMARY KEY (system_id, character_id)
);
