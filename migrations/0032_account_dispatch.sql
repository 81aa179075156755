-- Steps of inboxes with their own SMTP account are claimed one inbox at a time (README,
-- "Connected mailboxes"), so that a slow account holds only its own claim. The dispatcher finds
-- which of those inboxes have due steps, and claims them, through this index.
CREATE INDEX enrollments_due_by_inbox ON enrollments (inbox_id, next_due_at) WHERE state = 'active';
CREATE INDEX inboxes_with_smtp ON inboxes (org_id, id) WHERE smtp IS NOT NULL;

-- A dispatch batch steps out of the events feed's horizon while it only sends, and writes its
-- events under a fresh transaction id taken when it steps back in (FeedHorizon): the id comes
-- from this setting when the transaction set it.
ALTER TABLE events ALTER COLUMN tx SET DEFAULT coalesce(nullif(current_setting('nudge.event_tx', true), '')::xid8, pg_current_xact_id());
