-- Kept answers are sealed from now on (IdempotencyMiddleware). Answers kept in clear by earlier
-- versions may hold a token's secret (POST /v1/tokens/): drop them; a retry with such a key runs anew.
DELETE FROM idempotency_keys;
