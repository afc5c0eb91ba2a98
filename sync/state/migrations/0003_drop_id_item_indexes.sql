-- Nothing looks external ids up by item: items are never deleted (so the
-- cascades never run) and a backup sorts them once. Each index cost a
-- B-tree insert per id on every first import (about 10 % of it).
DROP INDEX guids_item;
DROP INDEX episode_ids_item;
