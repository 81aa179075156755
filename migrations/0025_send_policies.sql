-- Send policies (README, "Send policies"): limits an administrator sets on a token, over the
-- organization's defaults. The token's own policy overrides the defaults key by key; the version
-- counts every change of either, so (token, version) names the policy an enrollment was made under.
ALTER TABLE orgs ADD COLUMN send_policy jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tokens ADD COLUMN send_policy jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tokens ADD COLUMN policy_version integer NOT NULL DEFAULT 1;
ALTER TABLE enrollments ADD COLUMN policy_token_id text;
ALTER TABLE enrollments ADD COLUMN policy_version integer;

-- New enrollments per token and UTC day: one row, raised by an UPDATE that refuses to pass the
-- cap, so two requests racing the cap cannot both pass it.
CREATE TABLE token_daily_enrollments (
  org_id    text NOT NULL REFERENCES orgs (id),
  token_id  text NOT NULL,
  day       date NOT NULL,
  enrolled  integer NOT NULL,
  PRIMARY KEY (org_id, token_id, day)
);
-- Emails per token (the one that made the enrollment) and UTC day, reserved by dispatch batches
-- as the organization's quota is (DailyCounts).
CREATE TABLE token_daily_sends (
  org_id    text NOT NULL REFERENCES orgs (id),
  token_id  text NOT NULL,
  day       date NOT NULL,
  sent      integer NOT NULL,
  PRIMARY KEY (org_id, token_id, day)
);
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['token_daily_enrollments', 'token_daily_sends'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''nudge.org_id'', true)) WITH CHECK (org_id = current_setting(''nudge.org_id'', true))', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE ON token_daily_enrollments TO nudge_api, nudge_worker;
GRANT SELECT ON token_daily_sends TO nudge_api;
GRANT SELECT, INSERT, UPDATE ON token_daily_sends TO nudge_worker;
