-- Pacing per inbox (README, "Pacing"): settings, the pause state, and the earliest next send.
ALTER TABLE inboxes ADD COLUMN pacing jsonb;
ALTER TABLE inboxes ADD COLUMN ramp_started_on date;      -- the inbox's local day the ramp-up began
ALTER TABLE inboxes ADD COLUMN next_send_at timestamptz;  -- set by the send that took the last slot
ALTER TABLE inboxes ADD COLUMN paused_at timestamptz;
ALTER TABLE inboxes ADD COLUMN paused_reason text;

-- The outcomes of an inbox's last 100 sends (true: hard bounce), written once per dispatch batch;
-- a bounce reported later by a delivery status notification turns the latest unbounced send.
CREATE TABLE inbox_health (
  org_id    text NOT NULL REFERENCES orgs (id),
  inbox_id  text NOT NULL,
  outcomes  boolean[] NOT NULL,
  PRIMARY KEY (org_id, inbox_id)
);
ALTER TABLE inbox_health ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbox_health FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON inbox_health USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT, INSERT, UPDATE ON inbox_health TO nudge_api, nudge_worker;

-- A sequence's stop_on_company_reply, copied to its enrollments like exit_on_reply.
ALTER TABLE enrollments ADD COLUMN stop_on_company_reply boolean NOT NULL DEFAULT false;
