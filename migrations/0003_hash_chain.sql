-- The hash chain: every event's link to the one stored before it, and what
-- retention keeps of the events it deletes. Events stored before this
-- migration get their links from the server when it opens the store.
ALTER TABLE journal ADD COLUMN hash BLOB;

CREATE TABLE chain_deleted (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
