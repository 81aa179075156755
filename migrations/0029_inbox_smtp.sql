-- An inbox's own SMTP account (README, "Connected mailboxes"). The settings are plain; the
-- password is sealed (AES-GCM under a key derived from NUDGE_SECRET, the organization and the
-- inbox bound in) and never returned; `secret_key_id` names the secret that sealed it, so
-- `nudge secret rotate` knows what to re-seal. `smtp_version` grows with every change of the
-- account, so a dispatcher drops the connections it keeps for an older one.
ALTER TABLE inboxes ADD COLUMN smtp jsonb;
ALTER TABLE inboxes ADD COLUMN smtp_password bytea;
ALTER TABLE inboxes ADD COLUMN secret_key_id text;
ALTER TABLE inboxes ADD COLUMN smtp_version integer NOT NULL DEFAULT 0;
-- The account's health as the dispatcher and the verify endpoint last saw it.
ALTER TABLE inboxes ADD COLUMN smtp_status text NOT NULL DEFAULT 'unknown' CHECK (smtp_status IN ('unknown', 'ok', 'failing'));
ALTER TABLE inboxes ADD COLUMN connection_error text;
ALTER TABLE inboxes ADD COLUMN connection_ok_at timestamptz;
