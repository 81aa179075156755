-- Approval drafts (README, "Approval drafts"): a step whose token's send policy requires approval
-- is rendered when due into a draft, and waits for a person's decision or the draft's expiry.
CREATE TABLE drafts (
  org_id            text NOT NULL REFERENCES orgs (id),
  id                text NOT NULL,
  enrollment_id     text NOT NULL,
  step_index        integer NOT NULL,
  state             text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'voided')),
  subject           text NOT NULL,          -- what will be sent (the edit, once approved with one)
  body              text NOT NULL,
  original_subject  text,                   -- as rendered, when an edit replaced it
  original_body     text,
  edited_by         text,                   -- the token that edited it
  decision          text CHECK (decision IN ('send', 'skip_step', 'exit')),
  decided_by        text,                   -- a token id; NULL for an expiry
  decided_at        timestamptz,
  void_reason       text,                   -- why a waiting draft was voided (the enrollment's end)
  expires_at        timestamptz NOT NULL,
  expiry_action     text NOT NULL CHECK (expiry_action IN ('send', 'skip')),
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, enrollment_id) REFERENCES enrollments (org_id, id) ON DELETE CASCADE
);
-- One draft per step of an enrollment: the claim finds it by this key.
CREATE UNIQUE INDEX drafts_step ON drafts (org_id, enrollment_id, step_index);
CREATE INDEX drafts_by_state ON drafts (org_id, state, created_at DESC, id DESC);
ALTER TABLE drafts ENABLE ROW LEVEL SECURITY;
ALTER TABLE drafts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON drafts USING (org_id = current_setting('nudge.org_id', true))
  WITH CHECK (org_id = current_setting('nudge.org_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON drafts TO nudge_api, nudge_worker;

-- Set while the current step has a draft (waiting, or approved and not yet sent): the dispatcher's
-- claim looks drafts up only then. An enrollment that stops running while one waits (a reply,
-- a cancel, a suppression, any exit) voids the draft in the same statement, whichever code path
-- ended it, with its draft.decided event; the trigger runs only for rows with a waiting draft.
ALTER TABLE enrollments ADD COLUMN draft_pending boolean NOT NULL DEFAULT false;
-- Event ids as the application makes them: the prefix and 22 base62 characters.
CREATE FUNCTION nudge_event_id() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT 'evt_' || string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1), '')
  FROM generate_series(1, 22)
$$;
CREATE FUNCTION void_waiting_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d record;
  why text := NEW.state || coalesce(': ' || NEW.exit_reason, '');
BEGIN
  FOR d IN
    UPDATE drafts SET state = 'voided', decided_at = NEW.updated_at, void_reason = why
    WHERE org_id = NEW.org_id AND enrollment_id = NEW.id AND state = 'pending'
    RETURNING id, step_index
  LOOP
    INSERT INTO events (org_id, id, type, data, created_at)
    VALUES (NEW.org_id, nudge_event_id(), 'draft.decided',
            jsonb_build_object('draft_id', d.id, 'enrollment_id', NEW.id, 'step_index', d.step_index, 'decision', 'void',
                               'void_reason', why, 'decided_by', NULL, 'edited', false, 'expired', false),
            NEW.updated_at);
  END LOOP;
  NEW.draft_pending := false;
  RETURN NEW;
END $$;
CREATE TRIGGER enrollments_void_drafts BEFORE UPDATE OF state ON enrollments
  FOR EACH ROW WHEN (OLD.draft_pending AND NEW.state NOT IN ('active', 'paused'))
  EXECUTE FUNCTION void_waiting_drafts();
