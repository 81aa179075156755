-- ops/bench webhooks: one event per transaction in one of the 20 bench organizations, as a
-- product transaction writes it (Events.insertOne); created_at is the insert's own time.
\set o random(0, 19)
INSERT INTO events (org_id, id, type, data, created_at)
SELECT id, 'evt_s' || md5(random()::text), 'suppression.created', '{"email": "someone@bench.test", "reason": "unsubscribed"}', clock_timestamp()
FROM bench_orgs WHERE n = :o;
