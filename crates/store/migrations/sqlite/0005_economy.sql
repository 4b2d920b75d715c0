-- orrery store, schema 5 (SQLite): the economy (issue 23) — wallets, hangars, market orders with their escrow,
-- the wallet journal, transactions, faucet and sink counters per day, daily market history, NPC desks, and the
-- market role's operation log.
--
-- The market role keeps the books in memory and writes, per batch of operations, the rows those operations
-- changed (absolute values) together with the operations themselves (`econ_log`), in ONE transaction: money,
-- items, escrow and the fills that moved them land together or not at all. At start the role replays the log
-- (the market core is deterministic) and checks that the replay gives exactly these rows.
-- Amounts are whole money units or item counts, never floats, and never negative except journal amounts.

CREATE TABLE econ_log (
    seq   BIGINT PRIMARY KEY CHECK (seq >= 1),
    at_ms BIGINT NOT NULL CHECK (at_ms >= 0),
    op    TEXT NOT NULL
);

CREATE TABLE econ_wallets (
    character_id BIGINT PRIMARY KEY CHECK (character_id >= 1),
    balance      BIGINT NOT NULL CHECK (balance >= 0)
);

CREATE TABLE econ_hangars (
    character_id BIGINT NOT NULL CHECK (character_id >= 1),
    station_id   BIGINT NOT NULL CHECK (station_id >= 1),
    type_id      BIGINT NOT NULL CHECK (type_id BETWEEN 0 AND 4294967295),
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (character_id, station_id, type_id)
);

-- One row per order ever placed; `state` 0 open, 1 filled, 2 cancelled, 3 expired. `escrow` is what the order
-- holds now: money for a player's buy order, items for a player's sell order, 0 for an NPC's and a closed one.
CREATE TABLE econ_orders (
    order_id      BIGINT PRIMARY KEY CHECK (order_id >= 1),
    owner_kind    BIGINT   NOT NULL CHECK (owner_kind IN (0, 1)),
    owner_id      BIGINT NOT NULL CHECK (owner_id >= 0),
    side          BIGINT   NOT NULL CHECK (side IN (0, 1)),
    region_id     BIGINT NOT NULL CHECK (region_id >= 0),
    type_id       BIGINT NOT NULL CHECK (type_id BETWEEN 0 AND 4294967295),
    station_id    BIGINT NOT NULL CHECK (station_id >= 1),
    price         BIGINT NOT NULL CHECK (price >= 1),
    quantity      BIGINT NOT NULL CHECK (quantity >= 1),
    remaining     BIGINT NOT NULL CHECK (remaining >= 0),
    escrow        BIGINT NOT NULL CHECK (escrow >= 0),
    state         BIGINT   NOT NULL CHECK (state BETWEEN 0 AND 3),
    placed_at_ms  BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX econ_orders_owner ON econ_orders (owner_kind, owner_id, state);
CREATE INDEX econ_orders_open ON econ_orders (state) WHERE state = 0;

-- Money in and out of a wallet: `amount` signed (negative: paid out), `kind` e.g. grant, buy_escrow, purchase.
CREATE TABLE econ_journal (
    entry_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    character_id BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    order_id     BIGINT
);
CREATE INDEX econ_journal_character ON econ_journal (character_id, entry_id);

-- Fills. Owner kinds as in econ_orders.
CREATE TABLE econ_transactions (
    transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          BIGINT NOT NULL,
    buy_order      BIGINT NOT NULL,
    sell_order     BIGINT NOT NULL,
    buyer_kind     BIGINT   NOT NULL,
    buyer_id       BIGINT NOT NULL,
    seller_kind    BIGINT   NOT NULL,
    seller_id      BIGINT NOT NULL,
    station_id     BIGINT NOT NULL,
    region_id      BIGINT NOT NULL,
    type_id        BIGINT NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity >= 1),
    price          BIGINT NOT NULL CHECK (price >= 1),
    sales_tax      BIGINT NOT NULL CHECK (sales_tax >= 0)
);
CREATE INDEX econ_transactions_buyer ON econ_transactions (buyer_kind, buyer_id, transaction_id);
CREATE INDEX econ_transactions_seller ON econ_transactions (seller_kind, seller_id, transaction_id);

-- Faucets and sinks per day (day = at_ms / 86,400,000): `type_id` 0 is money, any other an item type; `kind` one
-- of grant, npc_purchase, broker_fee, sales_tax, npc_sale (money), mined, npc_sale, npc_purchase (items).
CREATE TABLE econ_flows (
    day     BIGINT NOT NULL CHECK (day >= 0),
    kind    TEXT NOT NULL,
    type_id BIGINT NOT NULL CHECK (type_id BETWEEN 0 AND 4294967295),
    amount  BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (day, kind, type_id)
);

-- Daily open, high, low, close, volume per region and item type.
CREATE TABLE econ_history (
    region_id BIGINT NOT NULL,
    type_id   BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    open      BIGINT NOT NULL,
    high      BIGINT NOT NULL,
    low       BIGINT NOT NULL,
    close     BIGINT NOT NULL,
    volume    BIGINT NOT NULL,
    fills     BIGINT NOT NULL,
    PRIMARY KEY (region_id, type_id, day)
);

-- NPC trader desks with their current price factor (millionths of the base price), for operators' charts.
CREATE TABLE econ_desks (
    desk_id    BIGINT PRIMARY KEY CHECK (desk_id >= 0),
    station_id BIGINT NOT NULL,
    type_id    BIGINT NOT NULL,
    factor_ppm BIGINT NOT NULL CHECK (factor_ppm >= 0),
    buy_price  BIGINT NOT NULL,
    sell_price BIGINT NOT NULL
);
