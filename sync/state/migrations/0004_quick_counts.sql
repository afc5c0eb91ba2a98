-- The number of played movies and episodes each backend's library showed
-- when it was last read: a quick import asks the server for the same
-- count, and lists the played ids only when the count moved otherwise
-- than the plays the import saw (an un-watch, a mark without a date).
CREATE TABLE played_counts (
    backend_id INTEGER NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    library    TEXT    NOT NULL,
    played     INTEGER NOT NULL,
    PRIMARY KEY (backend_id, library)
) WITHOUT ROWID;

-- A quick import compares every item in progress with the server's list:
-- find a backend's without reading all its sub-records.
CREATE INDEX remotes_in_progress ON remotes (backend_id) WHERE progress > 0 AND watched = 0;
