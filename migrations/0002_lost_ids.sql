-- Ids and power cuts: the durable high-water mark of ids handed out, and
-- the ids an unclean stop may have taken away.
INSERT INTO meta (key, value)
SELECT 'id_reserved', coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0);

CREATE TABLE lost_ids (
    from_id  INTEGER PRIMARY KEY,
    to_id    INTEGER NOT NULL,
    found_at TEXT NOT NULL
);
