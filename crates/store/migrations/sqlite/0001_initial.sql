-- orrery store, schema 1 (SQLite).
--
-- Kept to what PostgreSQL also accepts so that its migration can mirror this one table for table: INTEGER,
-- BIGINT, TEXT and DOUBLE PRECISION columns, CHECK constraints, partial indexes. The SQLite-only parts are
-- `INTEGER PRIMARY KEY AUTOINCREMENT` (PostgreSQL: `BIGINT GENERATED ALWAYS AS IDENTITY`) and the forward
-- reference from characters to ships (PostgreSQL: add that foreign key after both tables exist).
--
-- Ids are 64-bit integers from 1 up. Names are unique case-insensitively through a `*_key` column holding
-- the Unicode-lowercased name, computed by the store (portable, unlike COLLATE NOCASE, which is ASCII-only).
-- Times are milliseconds since the Unix epoch, set by the store.

CREATE TABLE accounts (
    account_id    INTEGER PRIMARY KEY AUTOINCREMENT CHECK (account_id >= 1),
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- What a client presents to resume a session, hashed by the caller.
CREATE TABLE session_tokens (
    token_hash    TEXT NOT NULL PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX session_tokens_by_account ON session_tokens (account_id);

-- ship_id is the character's active ship. It is NULL only inside the transaction that creates the character
-- (the ship needs the character's id first); a committed NULL is corruption.
CREATE TABLE characters (
    character_id  INTEGER PRIMARY KEY AUTOINCREMENT CHECK (character_id >= 1),
    account_id    INTEGER NOT NULL REFERENCES accounts (account_id),
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,
    ship_id       INTEGER REFERENCES ships (ship_id),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX characters_by_account ON characters (account_id);

-- Where each ship is, as of its last checkpoint. handoff_seq grows by one at every handoff between systems;
-- a checkpoint carrying an older sequence than the stored one is a late write from the previous system and
-- is ignored. in_space: the ship is live in a system's simulation (1) or not (0).
CREATE TABLE ships (
    ship_id       INTEGER PRIMARY KEY AUTOINCREMENT CHECK (ship_id >= 1),
    character_id  INTEGER NOT NULL REFERENCES characters (character_id),
    system_id     INTEGER NOT NULL CHECK (system_id BETWEEN 0 AND 4294967295),
    pos_x         DOUBLE PRECISION NOT NULL,
    pos_y         DOUBLE PRECISION NOT NULL,
    pos_z         DOUBLE PRECISION NOT NULL,
    vel_x         DOUBLE PRECISION NOT NULL,
    vel_y         DOUBLE PRECISION NOT NULL,
    vel_z         DOUBLE PRECISION NOT NULL,
    handoff_seq   BIGINT NOT NULL DEFAULT 0 CHECK (handoff_seq >= 0),
    in_space      INTEGER NOT NULL DEFAULT 0 CHECK (in_space IN (0, 1)),
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX ships_by_character ON ships (character_id);
CREATE INDEX ships_in_space ON ships (ship_id) WHERE in_space = 1;

-- The system -> node mapping. One row of mapping_epoch (singleton = 1) holds the epoch of the mapping in
-- mapping; both are replaced together.
CREATE TABLE mapping_epoch (
    singleton   INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    epoch       BIGINT NOT NULL CHECK (epoch >= 0),
    saved_at_ms BIGINT NOT NULL
);
CREATE TABLE mapping (
    system_id INTEGER NOT NULL PRIMARY KEY CHECK (system_id BETWEEN 0 AND 4294967295),
    node_id   INTEGER NOT NULL CHECK (node_id BETWEEN 0 AND 4294967295)
);

-- Operator settings: value is JSON text, read by whoever owns the key.
CREATE TABLE settings (
    key           TEXT NOT NULL PRIMARY KEY,
    value         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
