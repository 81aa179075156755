-- Which running enrollments send through their inbox's own SMTP account (README, "Connected
-- mailboxes"): set when the enrollment is made, and when the inbox's account is set or removed.
-- Only those are indexed by inbox, for the account loops' claims, so enrollments of relay inboxes
-- cost no second due index (all of one inbox's new enrollments contended for its last page), and
-- the shared loops' claim skips account enrollments by this column instead of a look-up per row.
-- A stale flag costs isolation only: any claim sends any step through the right transport.
DROP INDEX enrollments_due_by_inbox;
ALTER TABLE enrollments ADD COLUMN through_account boolean NOT NULL DEFAULT false;
UPDATE enrollments e SET through_account = true FROM inboxes i
WHERE i.org_id = e.org_id AND i.id = e.inbox_id AND i.smtp IS NOT NULL AND e.state IN ('active', 'paused');
CREATE INDEX enrollments_due_through_account ON enrollments (inbox_id, next_due_at) WHERE state = 'active' AND through_account;
