-- Reply intelligence (README, "Reply intelligence"). What the rules (and, when configured, the
-- LLM) read from each received reply: its text without signature, the signature, the intent and
-- who it refers to, and for an absence notice the return date and the sentence that states it.
ALTER TABLE messages
  ADD COLUMN signature_text text,
  ADD COLUMN intent text CHECK (intent IN ('interested', 'not_interested', 'meeting_request', 'question', 'referral', 'wrong_person',
    'unsubscribe_request', 'out_of_office', 'other')),
  ADD COLUMN intent_source text CHECK (intent_source IN ('rules', 'llm')),
  ADD COLUMN intent_confidence double precision CHECK (intent_confidence BETWEEN 0 AND 1),
  ADD COLUMN referrals jsonb,
  ADD COLUMN return_date date,
  ADD COLUMN return_sentence text;

-- An out-of-office hold: the enrollment stays active, its next step is due only after the hold
-- (next_due_at moved to held_until plus the step's remaining wait), and the claim skips a held row.
-- The hold's end is claimed in batches through this index and announced once (enrollment.resumed).
ALTER TABLE enrollments
  ADD COLUMN held_until timestamptz,
  ADD COLUMN hold_reason text CHECK (hold_reason IN ('out_of_office')),
  ADD COLUMN hold_return_date date,
  ADD COLUMN hold_sentence text;
CREATE INDEX enrollments_hold_ends ON enrollments (held_until) WHERE held_until IS NOT NULL AND state = 'active';

-- Awaiting reply: set to the time of the thread's latest message Nudge sent, cleared by a human
-- reply (auto-replies, bounces and complaints leave it). Read through partial indexes.
ALTER TABLE threads ADD COLUMN awaiting_since timestamptz;
UPDATE threads t SET awaiting_since = l.at
FROM (SELECT DISTINCT ON (org_id, thread_id) org_id, thread_id, at, direction FROM messages
      WHERE direction = 'outbound' OR classification = 'human_reply' ORDER BY org_id, thread_id, at DESC, created_at DESC) l
WHERE l.org_id = t.org_id AND l.thread_id = t.id AND l.direction = 'outbound';
CREATE INDEX threads_awaiting ON threads (org_id, awaiting_since DESC, id DESC) WHERE awaiting_since IS NOT NULL;
CREATE INDEX threads_awaiting_inbox ON threads (org_id, inbox_id, awaiting_since DESC, id DESC) WHERE awaiting_since IS NOT NULL;

-- Workflow rules triggered by a reply's intent ("on referral, enroll the referred person").
ALTER TABLE workflow_rules
  ALTER COLUMN trigger_label DROP NOT NULL,
  ADD COLUMN trigger_type text NOT NULL DEFAULT 'label_added' CHECK (trigger_type IN ('label_added', 'reply_intent')),
  ADD COLUMN trigger_intent text,
  ADD COLUMN enroll_target text NOT NULL DEFAULT 'contact' CHECK (enroll_target IN ('contact', 'referred')),
  ADD CONSTRAINT workflow_rules_trigger CHECK (
    (trigger_type = 'label_added' AND trigger_label IS NOT NULL) OR (trigger_type = 'reply_intent' AND trigger_intent IS NOT NULL));
CREATE INDEX workflow_rules_intent ON workflow_rules (org_id, inbox_id, trigger_intent) WHERE trigger_type = 'reply_intent';

-- The LLM's second opinion on replies the rules could not label (only with an LLM configured):
-- due reviews are claimed in batches through this index, leased while the model answers.
ALTER TABLE messages
  ADD COLUMN intent_review_at timestamptz,
  ADD COLUMN intent_review_attempts integer NOT NULL DEFAULT 0;
CREATE INDEX messages_intent_review ON messages (intent_review_at) WHERE intent_review_at IS NOT NULL;
