-- People: each person has their own play state. Media identity (items,
-- guids, episode_ids) stays shared by everyone; the play state moves from
-- items into plays, one row per person and item. A database with data
-- (backends or items) keeps it as the first person's, losslessly.

CREATE TABLE people (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
INSERT INTO people (id, name, created)
    SELECT 1, COALESCE((SELECT user_name FROM backends WHERE user_name <> '' ORDER BY id LIMIT 1), 'me'),
           CAST(strftime('%s', 'now') AS INTEGER)
    WHERE EXISTS (SELECT 1 FROM backends) OR EXISTS (SELECT 1 FROM items);

-- Every backend is one user on one server and belongs to one person.
-- (No REFERENCES clause: SQLite cannot add one with a default; the store
-- keeps it true, and deleting a person moves or refuses its backends.)
ALTER TABLE backends ADD COLUMN person_id INTEGER NOT NULL DEFAULT 0;
UPDATE backends SET person_id = 1;
CREATE INDEX backends_person ON backends (person_id);

-- A person's play state of an item. An item without a row for a person
-- was never played nor started by them: unwatched, not explicit, its
-- time the item's creation, sequence 0 (nothing to export).
CREATE TABLE plays (
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    item_id     INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    watched     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL,             -- time of the current play state
    via         TEXT    NOT NULL DEFAULT '',  -- backend that last changed it
    explicit    INTEGER NOT NULL DEFAULT 0,   -- 1: a play or an un-watch set the state
    progress    INTEGER NOT NULL DEFAULT 0,   -- resume position
    progress_at INTEGER NOT NULL DEFAULT 0,
    seq         INTEGER NOT NULL DEFAULT 0,   -- change sequence: export cursors compare to it
    PRIMARY KEY (person_id, item_id)
) WITHOUT ROWID;
CREATE INDEX plays_seq ON plays (person_id, seq);

INSERT INTO plays (person_id, item_id, watched, updated, via, explicit, progress, progress_at, seq)
    SELECT 1, id, watched, updated, via, explicit, progress, progress_at, seq FROM items;

DROP INDEX items_seq;
ALTER TABLE items DROP COLUMN watched;
ALTER TABLE items DROP COLUMN updated;
ALTER TABLE items DROP COLUMN via;
ALTER TABLE items DROP COLUMN explicit;
ALTER TABLE items DROP COLUMN progress;
ALTER TABLE items DROP COLUMN progress_at;
ALTER TABLE items DROP COLUMN seq;

-- History: whose play state a change was (0: not a person's, e.g. a run).
ALTER TABLE changes ADD COLUMN person_id INTEGER NOT NULL DEFAULT 0;
UPDATE changes SET person_id = 1;
