-- orrery store, schema 3 (SQLite): operators' requests to move a system to another sol node while it runs.
--
-- The same as `POST /api/v1/systems/{id}/move`, by SQL: `INSERT INTO system_moves (system_id, node_id) VALUES
-- (30000142, 1)`. The coordinator runs the pending rows (done_at_ms NULL) in move_id order and writes when it
-- finished and the outcome (the move's JSON report, or `error: …`).

CREATE TABLE system_moves (
    move_id    INTEGER PRIMARY KEY AUTOINCREMENT CHECK (move_id >= 1),
    system_id  INTEGER NOT NULL CHECK (system_id BETWEEN 0 AND 4294967295),
    node_id    INTEGER NOT NULL CHECK (node_id BETWEEN 0 AND 4294967295),
    done_at_ms BIGINT,
    outcome    TEXT
);
CREATE INDEX system_moves_pending ON system_moves (move_id) WHERE done_at_ms IS NULL;
