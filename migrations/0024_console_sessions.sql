-- Operator console sessions (README, "Operator console"). A signed-in browser holds only a random
-- session id in an HttpOnly cookie; the row keeps its SHA-256, the token it was opened with (whose
-- scopes, revocation and expiry are read again on every request) and the CSRF token of its forms.
-- Sign-out deletes the row; expired rows are removed when a new session is opened.
CREATE TABLE console_sessions (
  id_hash     bytea PRIMARY KEY,
  org_id      text NOT NULL REFERENCES orgs (id),
  token_id    text NOT NULL,
  csrf        text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  FOREIGN KEY (org_id, token_id) REFERENCES tokens (org_id, id) ON DELETE CASCADE
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
-- Looked up by its id before any organization is known (as a bearer token is): no tenant policy.
GRANT SELECT, INSERT, DELETE ON console_sessions TO nudge_api, nudge_worker;

-- The console's reads: an enrollment's timeline. Only its rarer events are indexed by enrollment
-- (ConsoleReads.indexedTypes, the same list): sends, exits and the rest of the frequent events
-- would each pay for an index entry, and the deliveries and the enrollment row say the same.
CREATE INDEX events_by_enrollment ON events (org_id, (data->>'enrollment_id'))
  WHERE type IN ('enrollment.paused', 'enrollment.resumed', 'enrollment.held', 'reminder.due', 'judgement.failed') AND data ? 'enrollment_id';
