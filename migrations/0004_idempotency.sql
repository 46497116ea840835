-- Idempotency keys: the answer given to each ingest request that carried an
-- Idempotency-Key, written in the transaction that committed its events,
-- so that a retry is answered again instead of stored twice.
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    body_hash  BLOB NOT NULL,
    status     INTEGER NOT NULL,
    first_id   INTEGER NOT NULL,
    last_id    INTEGER NOT NULL,
    answer     TEXT NOT NULL,
    created_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);
