-- Push webhooks (README, "Webhooks"). An endpoint reads the events table from its own cursor, in
-- feed order ((tx, seq), only past the visibility horizon), into one delivery per event; a sender
-- leases the endpoint and sends a run of its queue in order; each HTTP attempt is kept for the
-- deliveries endpoint.
CREATE TABLE webhooks (
  org_id                 text NOT NULL REFERENCES orgs (id),
  id                     text NOT NULL,
  url                    text NOT NULL,
  description            text,
  event_types            text[] NOT NULL,      -- explicit: "all" is stored as the list it meant
  secret                 bytea NOT NULL,       -- sealed (AES-GCM, key derived from NUDGE_SECRET)
  previous_secret        bytea,                -- sealed; signs too until previous_secret_until
  previous_secret_until  timestamptz,
  disabled               boolean NOT NULL DEFAULT false,
  disabled_reason        text,
  failing_since          timestamptz,          -- first failure since the last success
  lease                  text,                 -- the sender holding the endpoint (one batch in flight at a time)
  lease_until            timestamptz,
  cursor_tx              xid8 NOT NULL,        -- the last event (tx, seq) turned into deliveries
  cursor_seq             bigint NOT NULL,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX webhooks_by_created ON webhooks (org_id, created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
  org_id            text NOT NULL,
  id                text NOT NULL,
  webhook_id        text NOT NULL,
  event_id          text NOT NULL,
  event_type        text NOT NULL,
  event_tx          bigint,                   -- feed position; NULL for test events
  event_seq         bigint,
  ordered           boolean NOT NULL,         -- false: test events and manual retries, sent on their own
  state             text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz,
  first_attempt_at  timestamptz,
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (org_id, webhook_id, event_id);
-- An endpoint's queue in feed order, and what is sent on its own (test events, manual retries,
-- deliveries failing for longer than the order bound).
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (org_id, webhook_id, event_tx, event_seq) WHERE state = 'pending' AND ordered;
CREATE INDEX webhook_deliveries_loose ON webhook_deliveries (org_id, webhook_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (org_id, webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (org_id, created_at);  -- retention

CREATE TABLE webhook_attempts (
  org_id            text NOT NULL,
  seq               bigint GENERATED ALWAYS AS IDENTITY,
  delivery_id       text NOT NULL,
  attempted_at      timestamptz NOT NULL,     -- the server's clock
  status_code       integer,                  -- NULL: no answer (timeout, connection error, refused address)
  latency_ms        integer NOT NULL,
  response_body     text,                     -- the first 1 KiB of the answer
  error             text,
  next_retry_at     timestamptz,
  PRIMARY KEY (org_id, seq),
  FOREIGN KEY (org_id, delivery_id) REFERENCES webhook_deliveries (org_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (org_id, delivery_id, seq);

-- The same row-level security and grants as every tenant table (0002).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['webhooks', 'webhook_deliveries', 'webhook_attempts']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''nudge.org_id'', true)) WITH CHECK (org_id = current_setting(''nudge.org_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO nudge_api, nudge_worker', t);
  END LOOP;
END $$;
