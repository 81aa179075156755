-- Nudge schema. Every tenant table leads with org_id in its primary key and in every foreign key,
-- so the schema can be distributed by organization later. Row-level security (see the end of this
-- file) is defence in depth: the API's transactions run as nudge_api with nudge.org_id set.

CREATE TABLE orgs (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL
);

CREATE TABLE tokens (
  org_id       text NOT NULL REFERENCES orgs (id),
  id           text NOT NULL,
  name         text NOT NULL,
  scopes       text[] NOT NULL,
  secret_hash  bytea NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  created_by   text,
  PRIMARY KEY (org_id, id)
);
-- Authentication looks a secret up before the organization is known.
CREATE UNIQUE INDEX tokens_secret_hash ON tokens (secret_hash);

CREATE TABLE inboxes (
  org_id           text NOT NULL REFERENCES orgs (id),
  id               text NOT NULL,
  address          text NOT NULL,
  display_name     text,
  timezone         text NOT NULL,
  send_window      jsonb,
  daily_send_limit integer,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
-- An address belongs to one organization.
CREATE UNIQUE INDEX inboxes_address ON inboxes (lower(address));

CREATE TABLE contacts (
  org_id      text NOT NULL REFERENCES orgs (id),
  id          text NOT NULL,
  inbox_id    text,
  full_name   text,
  notes       text,
  labels      text[] NOT NULL DEFAULT '{}',
  fields      jsonb NOT NULL DEFAULT '{}',
  timezone    text,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  deleted_at  timestamptz,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX contacts_list ON contacts (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX contacts_labels ON contacts USING gin (labels);

-- One row per address: the unique key makes concurrent create-or-update converge on one contact.
CREATE TABLE contact_emails (
  org_id        text NOT NULL,
  address_key   text NOT NULL,   -- lower(address)
  contact_id    text NOT NULL,
  address       text NOT NULL,
  label         text,
  position      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, address_key),
  FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id)
);
CREATE INDEX contact_emails_contact ON contact_emails (org_id, contact_id);

CREATE TABLE sequences (
  org_id           text NOT NULL REFERENCES orgs (id),
  id               text NOT NULL,
  name             text NOT NULL,
  sender_inbox_id  text NOT NULL,
  version          integer NOT NULL,
  definition       jsonb NOT NULL,     -- current version: steps, exit_on_reply, exit_condition_prompt
  archived_at      timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, sender_inbox_id) REFERENCES inboxes (org_id, id)
);

CREATE TABLE sequence_versions (
  org_id       text NOT NULL,
  sequence_id  text NOT NULL,
  version      integer NOT NULL,
  name         text NOT NULL,
  definition   jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (org_id, sequence_id, version),
  FOREIGN KEY (org_id, sequence_id) REFERENCES sequences (org_id, id)
);

CREATE TABLE threads (
  org_id             text NOT NULL,
  id                 text NOT NULL,
  inbox_id           text NOT NULL,
  contact_id         text,
  subject            text NOT NULL DEFAULT '',
  subject_key        text NOT NULL DEFAULT '',   -- normalised subject, for threading without headers
  message_count      integer NOT NULL DEFAULT 0,
  last_message_at    timestamptz NOT NULL,
  created_at         timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, inbox_id) REFERENCES inboxes (org_id, id)
);
CREATE INDEX threads_inbox ON threads (org_id, inbox_id, last_message_at DESC, id DESC);

CREATE TABLE messages (
  org_id             text NOT NULL,
  id                 text NOT NULL,
  inbox_id           text NOT NULL,
  thread_id          text NOT NULL,
  direction          text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  rfc822_message_id  text NOT NULL,
  in_reply_to        text,
  refs               text[] NOT NULL DEFAULT '{}',
  from_address       text NOT NULL DEFAULT '',
  from_name          text,
  to_addresses       text[] NOT NULL DEFAULT '{}',
  cc_addresses       text[] NOT NULL DEFAULT '{}',
  subject            text NOT NULL DEFAULT '',
  text_body          text NOT NULL DEFAULT '',
  reply_text         text,
  classification     text,
  raw                bytea,
  raw_size           integer NOT NULL DEFAULT 0,
  contact_id         text,
  enrollment_id      text,
  step_index         integer,
  details            jsonb,               -- bounce / complaint / llm facts
  at                 timestamptz NOT NULL, -- sent or received
  created_at         timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, thread_id) REFERENCES threads (org_id, id)
);
CREATE INDEX messages_thread ON messages (org_id, thread_id, at, id);
CREATE INDEX messages_rfc_id ON messages (org_id, inbox_id, rfc822_message_id);
-- A provider retrying its inbound webhook must not store the message twice.
CREATE UNIQUE INDEX messages_inbound_once ON messages (org_id, inbox_id, rfc822_message_id) WHERE direction = 'inbound';

CREATE TABLE enrollments (
  org_id                 text NOT NULL,
  id                     text NOT NULL,
  inbox_id               text NOT NULL,
  contact_id             text NOT NULL,
  recipient              text NOT NULL,          -- the address steps go to
  recipient_key          text NOT NULL,          -- lower(recipient), for suppression checks
  sequence_id            text,                   -- null for ad-hoc enrollments
  sequence_version       integer,
  steps                  jsonb NOT NULL,         -- the steps this enrollment runs (a snapshot)
  exit_on_reply          boolean NOT NULL,
  exit_condition_prompt  text,
  source                 jsonb,
  thread_id              text,                   -- the thread follow-ups are sent into
  state                  text NOT NULL CHECK (state IN ('active','paused','completed','exited','cancelled','failed')),
  exit_reason            text,
  exit_detail            text,
  next_step              integer NOT NULL DEFAULT 0,
  next_due_at            timestamptz,            -- when next_step is due (absent once finished)
  attempts               integer NOT NULL DEFAULT 0,  -- transient failures of the current step
  held                   boolean NOT NULL DEFAULT false, -- an inbound message awaits the exit-condition judge
  trigger                text NOT NULL DEFAULT 'api',  -- api | workflow_rule
  workflow_rule_id       text,
  created_by             text,
  updated_by             text,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id),
  FOREIGN KEY (org_id, inbox_id) REFERENCES inboxes (org_id, id)
);
-- One running enrollment per contact and sequence; concurrent enrolls converge on it.
CREATE UNIQUE INDEX enrollments_one_running ON enrollments (org_id, contact_id, sequence_id)
  WHERE state IN ('active', 'paused') AND sequence_id IS NOT NULL;
-- The dispatcher's claim walks only what is due: its cost follows the due rows, not the table.
CREATE INDEX enrollments_due ON enrollments (next_due_at) WHERE state = 'active';
CREATE INDEX enrollments_contact ON enrollments (org_id, contact_id) WHERE state IN ('active', 'paused');
CREATE INDEX enrollments_list ON enrollments (org_id, created_at DESC, id DESC);

-- One row per (enrollment, step): its Message-ID is fixed before the SMTP transaction.
CREATE TABLE deliveries (
  org_id             text NOT NULL,
  enrollment_id      text NOT NULL,
  step_index         integer NOT NULL,
  kind               text NOT NULL,          -- email | reminder
  rfc822_message_id  text,
  message_id         text,                   -- msg_… once stored in the history
  status             text NOT NULL,          -- rendered | sent | failed | skipped | reminded
  scheduled_at       timestamptz NOT NULL,
  sent_at            timestamptz,
  attempts           integer NOT NULL DEFAULT 0,
  last_error         text,
  rendered_subject   text,                   -- an LLM-written step, kept so a retry sends the same text
  rendered_body      text,
  PRIMARY KEY (org_id, enrollment_id, step_index),
  FOREIGN KEY (org_id, enrollment_id) REFERENCES enrollments (org_id, id)
);

CREATE TABLE inbox_daily_sends (
  org_id    text NOT NULL,
  inbox_id  text NOT NULL,
  day       date NOT NULL,    -- in the inbox's timezone
  sent      integer NOT NULL,
  PRIMARY KEY (org_id, inbox_id, day)
);

CREATE TABLE suppressions (
  org_id       text NOT NULL REFERENCES orgs (id),
  id           text NOT NULL,
  address_key  text NOT NULL,
  address      text NOT NULL,
  reason       text NOT NULL CHECK (reason IN ('unsubscribed','bounced','complained','manual')),
  detail       text,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX suppressions_address ON suppressions (org_id, address_key);

CREATE TABLE workflow_rules (
  org_id         text NOT NULL REFERENCES orgs (id),
  id             text NOT NULL,
  inbox_id       text NOT NULL,
  trigger_label  text NOT NULL,
  sequence_id    text NOT NULL,
  exit_on_reply  boolean,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, inbox_id) REFERENCES inboxes (org_id, id),
  FOREIGN KEY (org_id, sequence_id) REFERENCES sequences (org_id, id)
);
CREATE INDEX workflow_rules_label ON workflow_rules (org_id, trigger_label);

-- Inbound messages waiting for the exit-condition judge, one per (message, enrollment).
CREATE TABLE judgements (
  org_id          text NOT NULL,
  id              text NOT NULL,
  message_id      text NOT NULL,
  enrollment_id   text NOT NULL,
  contact_id      text NOT NULL,
  state           text NOT NULL CHECK (state IN ('pending','done','failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  verdict         boolean,
  reason          text,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, enrollment_id) REFERENCES enrollments (org_id, id)
);
CREATE INDEX judgements_due ON judgements (next_attempt_at) WHERE state = 'pending';

-- Append-only. `tx` lets readers skip events of transactions still in flight, so a consumer
-- paging with ?after= never misses one that commits late with a lower seq.
CREATE TABLE events (
  org_id      text NOT NULL REFERENCES orgs (id),
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  id          text NOT NULL,
  type        text NOT NULL,
  data        jsonb NOT NULL,
  tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (org_id, seq)
);
CREATE UNIQUE INDEX events_id ON events (org_id, id);

CREATE TABLE idempotency_keys (
  org_id           text NOT NULL REFERENCES orgs (id),
  key              text NOT NULL,
  request_hash     text NOT NULL,
  status           integer,          -- null while the first request is running
  response_body    bytea,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

CREATE TABLE llm_calls (
  org_id            text NOT NULL REFERENCES orgs (id),
  id                text NOT NULL,
  purpose           text NOT NULL,     -- write_step | judge
  enrollment_id     text,
  model             text NOT NULL,
  outcome           text NOT NULL,
  latency_ms        integer NOT NULL,
  prompt_tokens     integer,
  completion_tokens integer,
  prompt_sha256     text NOT NULL,
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
