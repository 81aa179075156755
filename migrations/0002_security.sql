-- Row-level security as defence in depth. The API's transactions run as nudge_api with
-- nudge.org_id set (set_config(..., true)); a query that forgets its org_id filter still sees only
-- the caller's rows. Workers run as nudge_worker, which has BYPASSRLS. FORCE makes the policies bind
-- the table owner too, so a transaction that forgot to pick a role sees nothing at all.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tokens','inboxes','contacts','contact_emails','sequences','sequence_versions',
                           'threads','messages','enrollments','deliveries','inbox_daily_sends','suppressions',
                           'workflow_rules','judgements','events','idempotency_keys','llm_calls']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''nudge.org_id'', true)) WITH CHECK (org_id = current_setting(''nudge.org_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO nudge_api, nudge_worker', t);
  END LOOP;
END $$;

GRANT SELECT ON orgs TO nudge_api;
GRANT SELECT, INSERT, UPDATE ON orgs TO nudge_worker;
GRANT SELECT ON schema_migrations TO nudge_api, nudge_worker;
