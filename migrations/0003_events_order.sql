-- The events feed is read in (tx, seq) order: a transaction's id is fixed before it writes, so once
-- no older transaction of this database is still running, nothing can appear before a given event.
CREATE INDEX events_feed ON events (org_id, tx, seq);
