-- Retention per organization (README, "Retention"). Events, message bodies and raw sources, and
-- LLM call logs are removed after these many days, in small batches by the worker; a message's
-- metadata (ids, references, addresses, thread) stays, so a late reply still finds its thread and
-- stops its enrollment.
ALTER TABLE orgs
  ADD COLUMN events_retention_days integer NOT NULL DEFAULT 30 CHECK (events_retention_days BETWEEN 1 AND 36500),
  ADD COLUMN bodies_retention_days integer NOT NULL DEFAULT 365 CHECK (bodies_retention_days BETWEEN 1 AND 36500),
  ADD COLUMN llm_calls_retention_days integer NOT NULL DEFAULT 90 CHECK (llm_calls_retention_days BETWEEN 1 AND 36500),
  -- Events created before this may have been removed: a feed cursor naming one is answered 410.
  ADD COLUMN events_purged_before timestamptz;

ALTER TABLE messages ADD COLUMN body_purged_at timestamptz;
CREATE INDEX messages_bodies_kept ON messages (org_id, at) WHERE body_purged_at IS NULL;
CREATE INDEX llm_calls_age ON llm_calls (org_id, created_at);
