-- Playmark local state, version 1.
-- Times are UTC epoch seconds; positions and durations are milliseconds.

-- One row per configured media server (as one user).
CREATE TABLE backends (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL CHECK (kind IN ('plex', 'jellyfin', 'emby')),
    url              TEXT    NOT NULL,
    token            TEXT    NOT NULL,
    user_id          TEXT    NOT NULL DEFAULT '',
    user_name        TEXT    NOT NULL DEFAULT '',
    server_id        TEXT    NOT NULL DEFAULT '',
    server_name      TEXT    NOT NULL DEFAULT '',
    import_mode      TEXT    NOT NULL DEFAULT 'full' CHECK (import_mode IN ('off', 'metadata', 'full')),
    export           INTEGER NOT NULL DEFAULT 0,
    options          TEXT    NOT NULL DEFAULT '{}', -- JSON: libraries, max in flight, ...
    import_cursor    INTEGER NOT NULL DEFAULT 0,    -- remote time the last good import covered
    last_full_import INTEGER NOT NULL DEFAULT 0,    -- when a full listing last succeeded
    export_cursor    INTEGER NOT NULL DEFAULT 0,    -- items.seq the last good export covered
    last_import      INTEGER NOT NULL DEFAULT 0,
    last_export      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    last_error_at    INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL
);

-- The canonical play state: one row per movie or episode.
CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL CHECK (type IN ('movie', 'episode')),
    title       TEXT    NOT NULL DEFAULT '',
    year        INTEGER NOT NULL DEFAULT 0,
    show_title  TEXT    NOT NULL DEFAULT '',
    season      INTEGER NOT NULL DEFAULT 0,
    episode     INTEGER NOT NULL DEFAULT 0,
    watched     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL,             -- time of the current play state
    via         TEXT    NOT NULL DEFAULT '',  -- backend that last changed it
    explicit    INTEGER NOT NULL DEFAULT 0,   -- 1: a play or an un-watch set the state; 0: never watched anywhere yet
    progress    INTEGER NOT NULL DEFAULT 0,   -- resume position
    progress_at INTEGER NOT NULL DEFAULT 0,
    duration    INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0    -- change sequence: export cursors compare to it
);
CREATE INDEX items_seq ON items (seq);

-- Typed external ids: (type, kind, value) -> item. First claim wins.
CREATE TABLE guids (
    type    TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (type, kind, value)
) WITHOUT ROWID;
CREATE INDEX guids_item ON guids (item_id);

-- Relative ids of episodes: the show's external id + season + episode.
CREATE TABLE episode_ids (
    kind    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    season  INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, season, episode)
) WITHOUT ROWID;
CREATE INDEX episode_ids_item ON episode_ids (item_id);

-- What each backend knows of an item: the sub-record.
CREATE TABLE remotes (
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
    seen       INTEGER NOT NULL DEFAULT 0,  -- when a listing last showed it
    PRIMARY KEY (backend_id, remote_id)
) WITHOUT ROWID;
CREATE INDEX remotes_item ON remotes (item_id, backend_id);

-- Items a backend has that cannot be matched (no usable id).
CREATE TABLE unmatched (
    backend_id INTEGER NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    remote_id  TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    title      TEXT    NOT NULL DEFAULT '',
    show_title TEXT    NOT NULL DEFAULT '',
    season     INTEGER NOT NULL DEFAULT 0,
    episode    INTEGER NOT NULL DEFAULT 0,
    path       TEXT    NOT NULL DEFAULT '',
    seen       INTEGER NOT NULL,
    PRIMARY KEY (backend_id, remote_id)
) WITHOUT ROWID;

-- The two scheduled tasks.
CREATE TABLE tasks (
    name    TEXT    PRIMARY KEY CHECK (name IN ('import', 'export')),
    cron    TEXT    NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tasks (name, cron, enabled) VALUES ('import', '0 */6 * * *', 0), ('export', '0 1-23/6 * * *', 0);

-- Key/value settings and counters (seq).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('seq', '0');

-- Runs: one row per import, export or sync.
CREATE TABLE runs (
    id       INTEGER PRIMARY KEY,
    kind     TEXT    NOT NULL,              -- import, export, sync, webhook
    trigger  TEXT    NOT NULL DEFAULT '',   -- cli, schedule, tray, window, webhook
    dry_run  INTEGER NOT NULL DEFAULT 0,
    started  INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    status   TEXT    NOT NULL DEFAULT 'running', -- running, ok, failed, cancelled, held, interrupted
    message  TEXT    NOT NULL DEFAULT ''
);

-- Per-backend figures of a run.
CREATE TABLE run_backends (
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    phase     TEXT    NOT NULL,  -- import or export
    backend   TEXT    NOT NULL,
    mode      TEXT    NOT NULL DEFAULT '',  -- quick, full, push
    read      INTEGER NOT NULL DEFAULT 0,
    added     INTEGER NOT NULL DEFAULT 0,  -- items new to the local state
    changed   INTEGER NOT NULL DEFAULT 0,
    skipped   INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    unmatched INTEGER NOT NULL DEFAULT 0,
    requests  INTEGER NOT NULL DEFAULT 0,
    millis    INTEGER NOT NULL DEFAULT 0,
    error     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, phase, backend)
);

-- History: every change made to the local state or a backend.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    item_id INTEGER NOT NULL DEFAULT 0,
    item    TEXT    NOT NULL,        -- label: "Movie (2001)" or "Show S01E02"
    target  TEXT    NOT NULL,        -- "local" or a backend name
    before  TEXT    NOT NULL,
    after   TEXT    NOT NULL,
    reason  TEXT    NOT NULL
);
CREATE INDEX changes_run ON changes (run_id);

-- Exports held by the mass-change guard until the user decides.
CREATE TABLE held (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL,
    backend    TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    unwatches  INTEGER NOT NULL,
    watched    INTEGER NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'held' -- held, applied, discarded
);
