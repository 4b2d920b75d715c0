-- orrery store, schema 3 (PostgreSQL): operators' requests to move a system to another sol node while it runs.
-- Table for table the same as migrations/sqlite/0003_system_moves.sql (see there).

CREATE TABLE system_moves (
    move_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY CHECK (move_id >= 1),
    system_id  BIGINT NOT NULL CHECK (system_id BETWEEN 0 AND 4294967295),
    node_id    BIGINT NOT NULL CHECK (node_id BETWEEN 0 AND 4294967295),
    done_at_ms BIGINT,
    outcome    TEXT
);
CREATE INDEX system_moves_pending ON system_moves (move_id) WHERE done_at_ms IS NULL;
