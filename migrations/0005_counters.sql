-- Counters and marks that the store keeps in the same transaction as the
-- journal's rows, so that statistics and time lookups do not grow with the
-- store, and an index that serves the type filter in id order.
--
-- On an existing store this counts every event once (linear in the store,
-- at this upgrade only); from here on the store keeps them up to date.

CREATE TABLE type_counts (
    type   TEXT PRIMARY KEY,
    events INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO type_counts (type, events)
SELECT type, count(*) FROM journal GROUP BY type;

CREATE TABLE journal_marks (
    id    INTEGER PRIMARY KEY,
    ts_hi INTEGER NOT NULL,
    ts_lo INTEGER NOT NULL
);
-- One mark per run of 1024 stored events; the events after the last full
-- run are the open run, which the store marks as they come.
WITH numbered AS (
    SELECT id, ts_us, (row_number() OVER (ORDER BY id) - 1) / 1024 AS run
    FROM journal
), runs AS (
    SELECT max(id) AS id, max(ts_us) AS run_hi, min(ts_us) AS run_lo, count(*) AS events
    FROM numbered
    GROUP BY run
)
INSERT INTO journal_marks (id, ts_hi, ts_lo)
SELECT id,
       max(run_hi) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       min(run_lo) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
FROM runs
WHERE events = 1024;
CREATE INDEX journal_marks_ts_hi ON journal_marks (ts_hi);
CREATE INDEX journal_marks_ts_lo ON journal_marks (ts_lo);

CREATE INDEX journal_type ON journal (type);
