-- pgbench reference for the api part: the rows one enrollment request creates (a contact, its
-- address, an enrollment naming the sequence version, its enrollment.created event),
-- one transaction each, as the API's role with the organization set. Variables: org, inbox, seq, tpl.
BEGIN;
SELECT set_config('role', 'nudge_api', true), set_config('nudge.org_id', :org, true);
SELECT 'ctc_' || substr(md5(random()::text), 1, 22) AS ctc, 'enr_' || substr(md5(random()::text), 1, 22) AS enr,
       'pgb' || substr(md5(random()::text), 1, 20) || '@bench.test' AS addr \gset
INSERT INTO contacts (org_id, id, inbox_id, full_name, notes, labels, fields, timezone, created_at, updated_at)
  VALUES (:org, :ctc, :inbox, NULL, NULL, '{}', '{}', NULL, now(), now());
INSERT INTO contact_emails (org_id, address_key, contact_id, address, label, position) VALUES (:org, lower(:addr), :ctc, :addr, NULL, 0);
INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, sequence_id, sequence_version, steps,
    exit_on_reply, exit_condition_prompt, source, thread_id, state, next_step, next_due_at, trigger, workflow_rule_id,
    created_by, updated_by, created_at, updated_at)
  SELECT org_id, :enr, inbox_id, :ctc, :addr, lower(:addr), sequence_id, sequence_version, steps,
    exit_on_reply, exit_condition_prompt, source, NULL, 'active', 0, now() + interval '2 days', trigger, NULL,
    created_by, created_by, now(), now()
  FROM enrollments WHERE org_id = :org AND id = :tpl;
INSERT INTO events (org_id, id, type, data, created_at)
  VALUES (:org, 'evt_' || substr(md5(random()::text), 1, 22), 'enrollment.created',
          jsonb_build_object('enrollment_id', :enr::text, 'contact_id', :ctc::text, 'sequence_id', :seq::text, 'inbox_id', :inbox::text, 'trigger', 'api'), now());
COMMIT;
