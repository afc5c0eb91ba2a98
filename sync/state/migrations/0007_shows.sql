-- A show's external ids are stored once per show, not once per episode:
-- episode_ids held a row per show id (typically three) per episode.
-- A show is a number that its ids name; each episode has one row per
-- show it is known under. First claim wins, for a show id as for an
-- episode.
CREATE TABLE show_ids (
    kind    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    show_id INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX show_ids_show ON show_ids (show_id);

CREATE TABLE episodes (
    show_id INTEGER NOT NULL,
    season  INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (show_id, season, episode)
) WITHOUT ROWID;
CREATE INDEX episodes_item ON episodes (item_id);

-- Losslessly: each show id already recorded becomes a show of its own,
-- so that every relative id finds the same episode as before (new
-- episodes then join a show's ids together).
INSERT INTO show_ids (kind, value, show_id)
    SELECT kind, value, ROW_NUMBER() OVER (ORDER BY kind, value) FROM (SELECT DISTINCT kind, value FROM episode_ids);
INSERT INTO episodes (show_id, season, episode, item_id)
    SELECT s.show_id, e.season, e.episode, e.item_id FROM episode_ids e JOIN show_ids s ON s.kind = e.kind AND s.value = e.value;
DROP TABLE episode_ids;
