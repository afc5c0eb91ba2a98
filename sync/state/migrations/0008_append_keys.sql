-- Sub-records in a rowid table: a listing delivers remote ids in no
-- order, and as a WITHOUT ROWID table keyed (backend_id, remote_id) each
-- insert landed on a random leaf page carrying whole rows. Rows are now
-- appended in arrival order; the key is a UNIQUE index of small entries
-- (more per page), which the upserts' ON CONFLICT (backend_id, remote_id)
-- still targets. Every row is copied as it was.
CREATE TABLE remotes_new (
    backend_id INTEGER NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    remote_id  TEXT    NOT NULL,
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    watched    INTEGER NOT NULL DEFAULT 0,
    play_count INTEGER NOT NULL DEFAULT 0,
    played_at  INTEGER NOT NULL DEFAULT 0,
    added_at   INTEGER NOT NULL DEFAULT 0,
    progress   INTEGER NOT NULL DEFAULT 0,
    duration   INTEGER NOT NULL DEFAULT 0,
    library    TEXT    NOT NULL DEFAULT '',
    show_id    TEXT    NOT NULL DEFAULT '',
    path       TEXT    NOT NULL DEFAULT '',
    ids_hash   INTEGER NOT NULL DEFAULT 0,  -- hash of the external ids last recorded from it
    seen       INTEGER NOT NULL DEFAULT 0   -- when a listing last showed it
);
INSERT INTO remotes_new (backend_id, remote_id, item_id, watched, play_count, played_at, added_at, progress, duration, library, show_id, path, ids_hash, seen)
    SELECT backend_id, remote_id, item_id, watched, play_count, played_at, added_at, progress, duration, library, show_id, path, ids_hash, seen
    FROM remotes ORDER BY backend_id, remote_id;
DROP TABLE remotes;
ALTER TABLE remotes_new RENAME TO remotes;
CREATE UNIQUE INDEX remotes_key ON remotes (backend_id, remote_id);
CREATE INDEX remotes_item ON remotes (item_id, backend_id);
CREATE INDEX remotes_in_progress ON remotes (backend_id) WHERE progress > 0 AND watched = 0;
-- A backend's watched count (the mass-change guard, before every export)
-- and its watched ids (a quick import's played-id diff): without it, the
-- count walked remotes_key and read every row of the backend at random.
-- Its entries (backend, rowid) append as rows do.
CREATE INDEX remotes_watched ON remotes (backend_id) WHERE watched = 1;
