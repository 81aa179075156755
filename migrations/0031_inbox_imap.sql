-- An inbox's own IMAP account (README, "Connected mailboxes"): replies are read from it. The
-- password is sealed like the SMTP one. The reader's position: the folder's UIDVALIDITY and the
-- last UID read; when UIDVALIDITY changes the folder is read again from the last good day and
-- messages already received are recognised by Message-ID. A poll is leased (imap_lease_until) so
-- that one worker reads a mailbox at a time; a worker that dies leaves the lease to expire.
ALTER TABLE inboxes ADD COLUMN imap jsonb;
ALTER TABLE inboxes ADD COLUMN imap_password bytea;
ALTER TABLE inboxes ADD COLUMN imap_secret_key_id text;
ALTER TABLE inboxes ADD COLUMN imap_version integer NOT NULL DEFAULT 0;
ALTER TABLE inboxes ADD COLUMN imap_status text NOT NULL DEFAULT 'unknown' CHECK (imap_status IN ('unknown', 'ok', 'failing'));
ALTER TABLE inboxes ADD COLUMN imap_error text;
ALTER TABLE inboxes ADD COLUMN imap_ok_at timestamptz;
ALTER TABLE inboxes ADD COLUMN imap_failures integer NOT NULL DEFAULT 0;
ALTER TABLE inboxes ADD COLUMN imap_uidvalidity bigint;
ALTER TABLE inboxes ADD COLUMN imap_last_uid bigint;
ALTER TABLE inboxes ADD COLUMN imap_next_poll_at timestamptz;
ALTER TABLE inboxes ADD COLUMN imap_lease_until timestamptz;
CREATE INDEX inboxes_imap_due ON inboxes (imap_next_poll_at) WHERE imap IS NOT NULL;
