-- The dispatcher marks each email the SMTP server accepted at once, outside its batch's
-- transaction (Dispatch/AcceptanceMark.swift), about 17 times per batch of 200. As BEGIN, a role
-- switch, the INSERT and COMMIT that was four round trips each time, and ops/bench dispatch
-- measured those transactions at about a quarter of the CPU per dispatched step. As a call of
-- this function in autocommit it is one round trip. The function switches to nudge_worker itself
-- (BYPASSRLS: marks span organizations); only its owner, the login that runs Nudge, may call it,
-- so an API transaction (running as nudge_api) cannot. plpgsql keeps the INSERT's plan for the
-- session.
CREATE FUNCTION mark_accepted(orgs text[], enrollment_ids text[], step_indexes int[], rfc_ids text[], scheduled timestamptz[])
RETURNS void
LANGUAGE plpgsql
SET role = 'nudge_worker'
AS $$
BEGIN
  INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, rfc822_message_id, status, scheduled_at)
  SELECT u.org, u.enr, u.step, 'email', u.rfc, 'accepted', u.due
  FROM unnest(orgs, enrollment_ids, step_indexes, rfc_ids, scheduled) AS u(org, enr, step, rfc, due)
  ORDER BY u.org, u.enr
  ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET
    status = EXCLUDED.status, rfc822_message_id = EXCLUDED.rfc822_message_id
  WHERE deliveries.status <> 'sent';   -- a late retry never undoes a recorded send
END
$$;
REVOKE EXECUTE ON FUNCTION mark_accepted(text[], text[], int[], text[], timestamptz[]) FROM PUBLIC;

-- The marks' foreign-key check locked each enrollment FOR KEY SHARE while the batch held it FOR
-- NO KEY UPDATE, so every marked enrollment got a MultiXact that the batch's own UPDATE then had
-- to resolve (ops/bench dispatch: 40,001 checks, 1.05 s of 4.15 s in the marks' INSERT). It
-- protected nothing: enrollments are never deleted, and deliveries are only written for
-- enrollments the dispatcher has just claimed. Judgements keep theirs.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_org_id_enrollment_id_fkey;
