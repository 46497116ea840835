-- sentinel-logd store schema, as left by every migration in migrations/.
-- This file is documentation and a test fixture: the server builds the
-- schema from migrations/ and a test checks that both agree.
--
-- The file is one SQLite database in WAL mode with incremental auto-vacuum.
-- PRAGMA user_version holds the number of the last migration applied.

-- journal: one row per event, in commit order.
--   id     the event id: assigned by the store, strictly increasing in
--          commit order. AUTOINCREMENT makes SQLite remember the highest id
--          ever used (in sqlite_sequence), so an id is never reused, even
--          after retention has deleted every row.
--   ts_us  the event's "timestamp" as microseconds since 1970-01-01 UTC
--          (the ingest time when the producer gave none). Time ranges and
--          retention by age use it.
--   type   the event's "type", copied out of the body for indexing.
--   body   the event as the producer sent it, minus insignificant
--          whitespace, plus "timestamp" when the producer gave none. It
--          never holds "id": readers get {"id":N, ...body members}.
--   hash   the event's link in the hash chain, 32 bytes:
--          SHA-256(previous hash || id as 8 bytes big-endian || body),
--          where the previous hash is the one of the event stored just
--          before it (32 zero bytes for a store's first event). Written in
--          the same transaction as the row; NULL only in a store made
--          before the chain, until the server has opened it.
CREATE TABLE journal (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us INTEGER NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL,
    hash  BLOB
);
-- Time ranges: WHERE ts_us BETWEEN ... (see the view's ts_us column).
CREATE INDEX journal_ts ON journal (ts_us);
-- One type in a time range: WHERE type = 'error' AND ts_us >= ...
CREATE INDEX journal_type_ts ON journal (type, ts_us);

-- meta: facts about the store as a whole.
--   epoch        random hex made when the store was created, and made anew
--                when the store turns out to be an older copy put back in
--                place (sentinel-logd restore, or a store that ends below
--                the mark file beside it); clients resuming with an id also
--                send the epoch it came from, so that an id from a store
--                that was since re-created or restored is not trusted. A
--                node of a cluster (--jetstream) sets it to its stream's
--                identity instead, the same on every node.
--   id_reserved  the durable high-water mark of the ids this store assigns
--                itself: no id above it was ever handed out. Under --sync
--                normal a commit reaches the disk only at the next sync,
--                but its events are broadcast and acknowledged at once; so
--                the server moves this mark ahead in blocks, each with a
--                synced commit of its own, before it hands out any id of
--                the block. (A cluster node's ids come from its stream.)
--   applied_seq  (cluster nodes only) the highest stream sequence applied
--                to the journal, written in the same transaction as its
--                rows.
--   stream       (cluster nodes only) the name of the stream applied.
--   id_reserved_boot  the machine's boot id when id_reserved last moved:
--                opened again in the same boot after a crash of the
--                process, the store lost nothing and ids go on.
--   chain_head_id, chain_head_hash  the id and hash (hex) of the newest
--                link of the hash chain, written with every commit that
--                adds events: a check compares the end of the chain with it.
--   chain_anchor_id, chain_anchor_hash  where a check of the chain starts:
--                the id and hash (hex) of the newest event retention
--                deleted below every kept event (absent until retention
--                deletes one).
--   chain_upgrade_id  (only while an upgrade runs) the last event of a
--                store older than the chain that has been given its link.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- lost_ids: ids that may have been handed out before an unclean stop and
-- a restart of the machine (a power cut), and are not in the journal: those between the
-- journal's last id and id_reserved when the store was next opened for
-- writing. The journal's sequence then moves past them, so they are never
-- used again, and subscribers resuming across them are told
-- {"control":"gap",...,"reason":"lost"}.
--   from_id, to_id  the range, inclusive
--   found_at        when it was found (ISO 8601, UTC)
CREATE TABLE lost_ids (
    from_id  INTEGER PRIMARY KEY,
    to_id    INTEGER NOT NULL,
    found_at TEXT NOT NULL
);

-- chain_deleted: the links of events retention deleted between kept
-- events (by age or per-type age), so that the chain can still be checked
-- across them. For each kept event whose predecessor in the chain was
-- deleted, the hash of that predecessor; nothing else (deleted events below
-- every kept one are summed up by the anchor in meta).
CREATE TABLE chain_deleted (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- idempotency_keys: the answers given to ingest requests that carried an
-- Idempotency-Key header (or a /ws/ingest envelope's key), so that a
-- producer's retry gets the same answer and stores nothing. A row is
-- written in the transaction that commits the request's events: both are
-- durable together, or neither is. Rows older than --idempotency-window
-- are deleted in bounded steps by the writer; a key found older than that
-- counts as unused. A cluster node (--jetstream) writes none: there the
-- stream's duplicate window does this work.
--   key         the key as the producer sent it (1-128 printable ASCII)
--   body_hash   SHA-256 of what the request asked for: the endpoint's
--               kind, its parameters and the body; the same key with
--               another request is refused (422)
--   status      the HTTP status of the answer (200, or 204 for a Loki push)
--   first_id, last_id  the ids of the events the request stored
--   answer      the answer's body as it was sent
--   created_us  when it was stored, microseconds since 1970 (UTC)
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    body_hash  BLOB NOT NULL,
    status     INTEGER NOT NULL,
    first_id   INTEGER NOT NULL,
    last_id    INTEGER NOT NULL,
    answer     TEXT NOT NULL,
    created_us INTEGER NOT NULL
) WITHOUT ROWID;
-- Expiry: WHERE created_us < now - window, oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- events: the journal as auditors read it, one column per event field.
--   message, timestamp  strings as sent (timestamp verbatim)
--   data                the "data" object as JSON text, NULL when absent
--   ts_us, body         as in journal, for indexed time ranges and for
--                       fields other than the usual ones
-- Example: SELECT id, timestamp, message FROM events
--          WHERE type = 'error' AND json_extract(data, '$.service') = 'redis';
CREATE VIEW events AS
SELECT id,
       type,
       json_extract(body, '$.message')   AS message,
       json_extract(body, '$.timestamp') AS timestamp,
       json_extract(body, '$.data')      AS data,
       ts_us,
       body
FROM journal;
