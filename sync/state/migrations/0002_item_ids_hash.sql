-- The hash of the external ids last indexed for an item (from any
-- backend): an import that meets the same ids on another backend need not
-- offer them to the index again. 0: unknown, index again.
ALTER TABLE items ADD COLUMN ids_hash INTEGER NOT NULL DEFAULT 0;
