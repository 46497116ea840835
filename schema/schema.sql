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
CREATE TABLE journal (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us INTEGER NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL
);
-- Time ranges: WHERE ts_us BETWEEN ... (see the view's ts_us column).
CREATE INDEX journal_ts ON journal (ts_us);
-- One type in a time range: WHERE type = 'error' AND ts_us >= ...
CREATE INDEX journal_type_ts ON journal (type, ts_us);

-- meta: facts about the store as a whole.
--   epoch  random hex made when the store was created, and made anew
--          when the store turns out to be an older copy put back in place
--          (sentinel-logd restore, or a store that ends below the mark
--          beside it); clients resuming with an id also send the epoch it
--          came from, so that an id from a store that was since re-created
--          or restored is not trusted. A node of a cluster (--jetstream)
--          sets it to its stream's identity instead, the same on every node.
--   applied_seq  (cluster nodes only) the highest stream sequence applied
--          to the journal, written in the same transaction as its rows.
--   stream  (cluster nodes only) the name of the stream applied.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

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
