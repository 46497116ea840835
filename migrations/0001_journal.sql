-- The journal of events, the store's metadata and the auditors' view.
CREATE TABLE journal (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us INTEGER NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL
);
CREATE INDEX journal_ts ON journal (ts_us);
CREATE INDEX journal_type_ts ON journal (type, ts_us);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))));

CREATE VIEW events AS
SELECT id,
       type,
       json_extract(body, '$.message')   AS message,
       json_extract(body, '$.timestamp') AS timestamp,
       json_extract(body, '$.data')      AS data,
       ts_us,
       body
FROM journal;
