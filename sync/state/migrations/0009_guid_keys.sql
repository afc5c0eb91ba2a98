-- External ids in two tables (guidkeys.go): item_ids, each item's claimed
-- ids as text in item order (new items append), and guid_keys, the item
-- that claimed an id under a 62-bit hash of it (playmark_guid_key, the
-- function state.guidHash registered with SQLite): small rows with integer
-- keys, for the one look-up whose writes land in no useful order. The
-- text-keyed guids table and its item index outgrew the page cache at a
-- million items. Every claim is copied as it was.
CREATE TABLE item_ids (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    type    TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (item_id, type, kind, value)
) WITHOUT ROWID;
INSERT INTO item_ids (item_id, type, kind, value)
    SELECT item_id, type, kind, value FROM guids ORDER BY item_id, type, kind, value;

-- key: playmark_guid_key(type, kind, value), or a later slot when that
-- one holds another id (state.Store.migrate places those after this).
CREATE TABLE guid_keys (
    key     INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE
);
INSERT INTO guid_keys (key, item_id)
    SELECT playmark_guid_key(type, kind, value), item_id FROM guids WHERE true ORDER BY 1
    ON CONFLICT DO NOTHING;
DROP TABLE guids;
