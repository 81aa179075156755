-- An inbox address is unique within its organization only: a global index let the first
-- organization to register an address block every other one, and its 409 told another
-- organization that the address was taken (an existence oracle across tenants).
DROP INDEX inboxes_address;
CREATE UNIQUE INDEX inboxes_address ON inboxes (org_id, lower(address));

-- The domains each organization may send from, set by an operator (`nudge domain allow`); a new
-- inbox's address must be on one of them unless the server allows any domain (--dev,
-- NUDGE_ALLOW_ANY_SENDER_DOMAIN=1). The domains of existing inboxes are allowed, so nothing
-- that runs today stops.
CREATE TABLE sender_domains (
  org_id      text NOT NULL REFERENCES orgs (id),
  domain      text NOT NULL,           -- lower case
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (org_id, domain)
);
INSERT INTO sender_domains (org_id, domain, created_at)
SELECT DISTINCT org_id, lower(split_part(address, '@', 2)), now() FROM inboxes
ON CONFLICT DO NOTHING;

ALTER TABLE sender_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE sender_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON sender_domains USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
-- The API reads them; only operators (the CLI, as nudge_worker) change them.
GRANT SELECT ON sender_domains TO nudge_api;
GRANT SELECT, INSERT, DELETE ON sender_domains TO nudge_worker;
