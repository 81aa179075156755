-- Which one-click unsubscribe links have been used, so that an admin's removal of a suppression
-- is not undone by the same earlier action posted again: a link used before the removal
-- (lifted_at set) suppresses again only when the person confirms anew on its page.
CREATE TABLE unsubscribe_uses (
  org_id        text NOT NULL REFERENCES orgs (id),
  token_digest  bytea NOT NULL,         -- SHA-256 of the link's token
  address_key   text NOT NULL,
  used_at       timestamptz NOT NULL,
  lifted_at     timestamptz,            -- an admin removed the suppression after this use
  PRIMARY KEY (org_id, token_digest)
);
CREATE INDEX unsubscribe_uses_address ON unsubscribe_uses (org_id, address_key) WHERE lifted_at IS NULL;

ALTER TABLE unsubscribe_uses ENABLE ROW LEVEL SECURITY;
ALTER TABLE unsubscribe_uses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON unsubscribe_uses USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON unsubscribe_uses TO nudge_api, nudge_worker;
