-- Bulk load for ops/bench: N copies of what one POST /v1/sequences/enrollments/ with a new
-- recipient created (the template enrollment :tpl, made through the API): a contact, its address,
-- the enrollment (the template's sequence, version, steps and options; state active at step 0)
-- and the events that request wrote (enrollment.created), with fresh ids and addresses.
-- Variables: org, tpl (template enrollment id), n, run (unique per call), due (SQL expression of
-- next_due_at for row i; `created` is the row's creation time).
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT i,
       'enr_' || substr(md5('e' || :'run' || i), 1, 22) AS enr,
       'ctc_' || substr(md5('c' || :'run' || i), 1, 22) AS ctc,
       :'run' || '-' || i || '@bench.test' AS addr,
       clock_timestamp() - (:n - i) * interval '1 microsecond' AS created
FROM generate_series(1, :n) AS i;
CREATE TEMP TABLE tpl ON COMMIT DROP AS
SELECT e.*, c.inbox_id AS c_inbox, c.full_name AS c_name, c.notes AS c_notes, c.labels AS c_labels, c.fields AS c_fields, c.timezone AS c_tz
FROM enrollments e JOIN contacts c ON c.org_id = e.org_id AND c.id = e.contact_id
WHERE e.org_id = :'org' AND e.id = :'tpl';

INSERT INTO contacts (org_id, id, inbox_id, full_name, notes, labels, fields, timezone, created_at, updated_at)
SELECT t.org_id, g.ctc, t.c_inbox, t.c_name, t.c_notes, t.c_labels, t.c_fields, t.c_tz, g.created, g.created FROM gen g, tpl t;
INSERT INTO contact_emails (org_id, address_key, contact_id, address, label, position)
SELECT t.org_id, lower(g.addr), g.ctc, g.addr, NULL, 0 FROM gen g, tpl t;
INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, sequence_id, sequence_version, steps,
    exit_on_reply, exit_condition_prompt, source, thread_id, state, next_step, next_due_at, attempts, held, trigger, workflow_rule_id,
    created_by, updated_by, created_at, updated_at)
SELECT t.org_id, g.enr, t.inbox_id, g.ctc, g.addr, lower(g.addr), t.sequence_id, t.sequence_version, t.steps,
    t.exit_on_reply, t.exit_condition_prompt, t.source, NULL, 'active', 0, :due, 0, false, t.trigger, t.workflow_rule_id,
    t.created_by, t.created_by, g.created, g.created
FROM gen g, tpl t ORDER BY g.i;
-- The events the template's request wrote (same transaction time, naming its enrollment or contact).
INSERT INTO events (org_id, id, type, data, created_at)
SELECT t.org_id, 'evt_' || substr(md5(v.id || :'run' || g.i), 1, 22), v.type,
       replace(replace(v.data::text, t.id, g.enr), t.contact_id, g.ctc)::jsonb, g.created
FROM gen g, tpl t
JOIN events v ON v.org_id = t.org_id AND v.created_at = t.created_at
             AND (v.data ->> 'enrollment_id' = t.id OR v.data ->> 'contact_id' = t.contact_id)
ORDER BY g.i, v.seq;
COMMIT;
-- As after any bulk load: statistics that still describe the tables before it mislead the planner
-- for the minute or so until autovacuum analyses them (docs/benchmarks.md, "stale statistics").
-- (ops/bench BENCH_STALE_STATS=1 skips it, to measure with statistics older than the data.)
\if :analyze
ANALYZE contacts, contact_emails, enrollments, events;
\endif
