-- Every secret a rotation retires keeps signing for 24 h (README, "Webhooks"), however many
-- rotations happen meanwhile: a receiver still configured with any of them keeps verifying. One row
-- per retired secret replaces webhooks.previous_secret, which kept only the latest.
CREATE TABLE webhook_retired_secrets (
  org_id       text NOT NULL,
  webhook_id   text NOT NULL,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  secret       bytea NOT NULL,                   -- sealed, as webhooks.secret
  signs_until  timestamptz NOT NULL,
  PRIMARY KEY (org_id, webhook_id, seq),
  FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
);
INSERT INTO webhook_retired_secrets (org_id, webhook_id, secret, signs_until)
  SELECT org_id, id, previous_secret, previous_secret_until FROM webhooks
  WHERE previous_secret IS NOT NULL AND previous_secret_until IS NOT NULL;
ALTER TABLE webhooks DROP COLUMN previous_secret, DROP COLUMN previous_secret_until;

-- The same row-level security and grants as every tenant table (0002).
ALTER TABLE webhook_retired_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_retired_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON webhook_retired_secrets USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT, INSERT, DELETE ON webhook_retired_secrets TO nudge_api, nudge_worker;
