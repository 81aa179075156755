-- Idempotency keys belong to the token that sent them, not to the whole organization: a replay
-- must never hand one token's answer (a new token's secret, a contact) to another token. Kept
-- answers were sealed under a key that did not name the token and cannot be opened under the new
-- one, and the token that made them was not recorded: they are dropped, as in 0006 (a retry that
-- crosses this upgrade runs as a new request).
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN token_id text NOT NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (org_id, token_id, key);
