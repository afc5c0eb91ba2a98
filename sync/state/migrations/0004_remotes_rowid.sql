-- The sub-records as a rowid table: its rows are large (paths), and a
-- WITHOUT ROWID table keeps them in key order, so a first import of a
-- server with random ids (Jellyfin, Emby) inserted each into the middle
-- of the B-tree. Rows are now appended; only the small key index is in
-- key order.
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
    ids_hash   INTEGER NOT NULL DEFAULT 0,
    seen       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (backend_id, remote_id)
);
INSERT INTO remotes_new SELECT backend_id, remote_id, item_id, watched, play_count, played_at, added_at, progress, duration, library, show_id, path, ids_hash, seen FROM remotes;
DROP TABLE remotes;
ALTER TABLE remotes_new RENAME TO remotes;
CREATE INDEX remotes_item ON remotes (item_id, backend_id);
