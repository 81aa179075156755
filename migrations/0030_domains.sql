-- An organization's sending domains with their DKIM keys (README, "Connected mailboxes"). Each
-- domain has an Ed25519 and an RSA-2048 key, sealed like mail passwords (AES-GCM under a key
-- derived from NUDGE_SECRET, the organization and the domain bound in; `secret_key_id` names the
-- secret). A domain is `verified` once both public keys are found in DNS; `failing` when a later
-- check no longer finds them. Inboxes may be created on verified domains.
CREATE TABLE domains (
  org_id         text NOT NULL REFERENCES orgs (id),
  id             text NOT NULL,
  domain         text NOT NULL,            -- lower-case, no trailing dot
  selector       text NOT NULL,            -- records at <selector>-ed and <selector>-rsa
  ed25519_key    bytea NOT NULL,
  rsa_key        bytea NOT NULL,
  ed25519_record text NOT NULL,            -- the TXT values to publish (public keys)
  rsa_record     text NOT NULL,
  secret_key_id  text NOT NULL,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failing')),
  verified_at    timestamptz,
  checked_at     timestamptz,
  last_error     text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX domains_name ON domains (org_id, domain);
CREATE INDEX domains_by_created ON domains (org_id, created_at DESC, id DESC);
-- The periodic check takes the domains checked longest ago (pending ones too: publishing the
-- records is enough, no second call needed).
CREATE INDEX domains_to_check ON domains (checked_at NULLS FIRST);
ALTER TABLE domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON domains USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON domains TO nudge_api, nudge_worker;
