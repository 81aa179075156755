-- A per-organization cap on emails sent per UTC day (an abuse limit: a runaway agent cannot mail
-- without bound). NULL uses the server's default (NUDGE_ORG_DAILY_QUOTA); 0 stops all sending.
ALTER TABLE orgs ADD COLUMN daily_send_quota integer CHECK (daily_send_quota IS NULL OR daily_send_quota >= 0);

CREATE TABLE org_daily_sends (
  org_id  text NOT NULL REFERENCES orgs (id),
  day     date NOT NULL,        -- UTC
  sent    integer NOT NULL,
  PRIMARY KEY (org_id, day)
);
ALTER TABLE org_daily_sends ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_daily_sends FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON org_daily_sends USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT ON org_daily_sends TO nudge_api;
GRANT SELECT, INSERT, UPDATE ON org_daily_sends TO nudge_worker;
