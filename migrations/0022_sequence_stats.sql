-- Sequence statistics (README, "Sequence statistics"). Triggers record each change in the
-- transaction that makes it, as the old and new images of the row (sequence_enrollment_changes,
-- sequence_delivery_changes), so the counters never drift from the rows. The change tables have
-- no index: an append is one heap row, with no index page that concurrent writers of one sequence
-- queue for; housekeeping moves them into sequence_stats in one statement (delete and upsert
-- together), so they stay small, and a reader summing the three tables sees each change once.

-- The first human reply to a running enrollment, and the last step sent before it.
ALTER TABLE enrollments ADD COLUMN replied_at timestamptz, ADD COLUMN replied_after_step integer;

-- metric: enrolled | state:<state> | exit:<reason> | replied | step_replied | sent | bounced | reply_minutes.
-- bucket: the step index for step metrics (-1: the whole sequence); for reply_minutes the whole
-- minutes from enrollment to first reply (the median walks them).
CREATE TABLE sequence_stats (
  org_id       text NOT NULL,
  sequence_id  text NOT NULL,
  metric       text NOT NULL,
  bucket       integer NOT NULL,
  n            bigint NOT NULL,
  PRIMARY KEY (org_id, sequence_id, metric, bucket)
);
-- No index of a sequence's enrollments by creation time: every update the dispatcher or a reply
-- makes to an enrollment is a new index entry in each of its indexes. A window (`since`) reads the
-- organization's enrollments created since then (enrollments_list) and keeps the sequence's.

-- What an enrollment counts for, from the columns that matter (its image): replied_step is the
-- last step sent before the first human reply (-1: none), NULL while not replied; reply_minutes
-- the whole minutes from enrollment to that reply.
CREATE FUNCTION enrollment_image_rows(state text, exit_reason text, replied_step integer, reply_minutes integer)
RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'enrolled', -1, 1::bigint
  UNION ALL SELECT 'state:' || state, -1, 1
  UNION ALL SELECT 'exit:' || exit_reason, -1, 1 WHERE exit_reason IS NOT NULL
  UNION ALL SELECT 'replied', -1, 1 WHERE replied_step IS NOT NULL
  UNION ALL SELECT 'step_replied', replied_step, 1 WHERE replied_step IS NOT NULL
  UNION ALL SELECT 'reply_minutes', reply_minutes, 1 WHERE replied_step IS NOT NULL
$$;

-- What one enrollment row counts for.
CREATE FUNCTION enrollment_stat_rows(e enrollments) RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT * FROM enrollment_image_rows(
    e.state, e.exit_reason, CASE WHEN e.replied_at IS NOT NULL THEN coalesce(e.replied_after_step, -1) END,
    floor(extract(epoch FROM e.replied_at - e.created_at) / 60)::integer)
$$;

-- What a delivery counts for, from its status and step (email deliveries only): an email step
-- counts as sent once its delivery is sent, and still when it later bounced.
CREATE FUNCTION delivery_image_rows(status text, step_index integer) RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'sent', b, 1::bigint FROM unnest(ARRAY[-1, step_index]) b WHERE status IN ('sent', 'bounced')
  UNION ALL SELECT 'bounced', step_index, 1 WHERE status = 'bounced'
$$;

-- What one delivery row counts for (sequence_id is its enrollment's).
CREATE FUNCTION delivery_stat_rows(d deliveries) RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT * FROM delivery_image_rows(d.status, d.step_index) WHERE d.kind = 'email'
$$;

-- An enrollment's changes, one row per image (+1 the new, -1 the old), expanded into counters
-- only when read or moved: a reply that ends an enrollment writes two short rows, not one per
-- counter it touches.
CREATE TABLE sequence_enrollment_changes (
  org_id         text NOT NULL,
  sequence_id    text NOT NULL,
  n              smallint NOT NULL,
  state          text NOT NULL,
  exit_reason    text,
  replied_step   integer,
  reply_minutes  integer
);

CREATE FUNCTION enrollment_stat_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sequence_enrollment_changes (org_id, sequence_id, n, state, exit_reason, replied_step, reply_minutes)
    VALUES (NEW.org_id, NEW.sequence_id, 1, NEW.state, NEW.exit_reason,
            CASE WHEN NEW.replied_at IS NOT NULL THEN coalesce(NEW.replied_after_step, -1) END,
            floor(extract(epoch FROM NEW.replied_at - NEW.created_at) / 60)::integer);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sequence_enrollment_changes (org_id, sequence_id, n, state, exit_reason, replied_step, reply_minutes)
    VALUES (OLD.org_id, OLD.sequence_id, -1, OLD.state, OLD.exit_reason,
            CASE WHEN OLD.replied_at IS NOT NULL THEN coalesce(OLD.replied_after_step, -1) END,
            floor(extract(epoch FROM OLD.replied_at - OLD.created_at) / 60)::integer);
  ELSE
    INSERT INTO sequence_enrollment_changes (org_id, sequence_id, n, state, exit_reason, replied_step, reply_minutes)
    VALUES (OLD.org_id, OLD.sequence_id, -1, OLD.state, OLD.exit_reason,
            CASE WHEN OLD.replied_at IS NOT NULL THEN coalesce(OLD.replied_after_step, -1) END,
            floor(extract(epoch FROM OLD.replied_at - OLD.created_at) / 60)::integer),
           (NEW.org_id, NEW.sequence_id, 1, NEW.state, NEW.exit_reason,
            CASE WHEN NEW.replied_at IS NOT NULL THEN coalesce(NEW.replied_after_step, -1) END,
            floor(extract(epoch FROM NEW.replied_at - NEW.created_at) / 60)::integer);
  END IF;
  RETURN NULL;
END $$;

-- A delivery's change in the same form: its old image (-1) if it counted, its new one (+1) if it
-- counts. Its enrollment's sequence is looked up when the change is read or moved, not when it
-- is written (a removed delivery's is kept, as its enrollment may go in the same transaction).
CREATE TABLE sequence_delivery_changes (
  org_id         text NOT NULL,
  enrollment_id  text NOT NULL,
  sequence_id    text,
  n              smallint NOT NULL,
  status         text NOT NULL,
  step_index     integer NOT NULL
);

-- A delivery's triggers: inserts are mostly acceptance marks (never counted: a row trigger's WHEN
-- clause skips them without a call); updates record a dispatcher's batch per statement, so theirs
-- runs once per statement over its transition tables. An update
-- writes the old image (-1) and the new (+1) of each row that counts in either; a row that counts
-- in both and did not change cancels out.
CREATE FUNCTION delivery_stat_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sequence_delivery_changes (org_id, enrollment_id, n, status, step_index)
  VALUES (NEW.org_id, NEW.enrollment_id, 1, NEW.status, NEW.step_index);
  RETURN NULL;
END $$;

CREATE FUNCTION delivery_stat_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sequence_delivery_changes (org_id, enrollment_id, n, status, step_index)
  SELECT org_id, enrollment_id, -1, status, step_index FROM old_rows WHERE kind = 'email' AND status IN ('sent', 'bounced')
  UNION ALL
  SELECT org_id, enrollment_id, 1, status, step_index FROM new_rows WHERE kind = 'email' AND status IN ('sent', 'bounced');
  RETURN NULL;
END $$;

CREATE FUNCTION delivery_stat_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sequence_delivery_changes (org_id, enrollment_id, sequence_id, n, status, step_index)
  SELECT d.org_id, d.enrollment_id, e.sequence_id, -1, d.status, d.step_index
  FROM old_rows d JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id
  WHERE d.kind = 'email' AND d.status IN ('sent', 'bounced') AND e.sequence_id IS NOT NULL;
  RETURN NULL;
END $$;

-- Enrollments are written one per request: row triggers whose WHEN clause passes over what
-- changes no counter without calling anything (the dispatcher's progress updates).
CREATE TRIGGER enrollments_stats_insert AFTER INSERT ON enrollments FOR EACH ROW
  WHEN (NEW.sequence_id IS NOT NULL) EXECUTE FUNCTION enrollment_stat_change();
CREATE TRIGGER enrollments_stats_update AFTER UPDATE ON enrollments FOR EACH ROW
  WHEN (NEW.sequence_id IS NOT NULL AND (OLD.state, OLD.exit_reason, OLD.replied_at, OLD.replied_after_step)
        IS DISTINCT FROM (NEW.state, NEW.exit_reason, NEW.replied_at, NEW.replied_after_step))
  EXECUTE FUNCTION enrollment_stat_change();
CREATE TRIGGER enrollments_stats_delete AFTER DELETE ON enrollments FOR EACH ROW
  WHEN (OLD.sequence_id IS NOT NULL) EXECUTE FUNCTION enrollment_stat_change();
CREATE TRIGGER deliveries_stats_insert AFTER INSERT ON deliveries FOR EACH ROW
  WHEN (NEW.kind = 'email' AND NEW.status IN ('sent', 'bounced')) EXECUTE FUNCTION delivery_stat_inserted();
CREATE TRIGGER deliveries_stats_update AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION delivery_stat_updated();
CREATE TRIGGER deliveries_stats_delete AFTER DELETE ON deliveries REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION delivery_stat_deleted();

-- The counters of what exists already.
INSERT INTO sequence_stats (org_id, sequence_id, metric, bucket, n)
SELECT e.org_id, e.sequence_id, c.metric, c.bucket, sum(c.n) FROM enrollments e CROSS JOIN LATERAL enrollment_stat_rows(e) c
WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4;
INSERT INTO sequence_stats (org_id, sequence_id, metric, bucket, n)
SELECT d.org_id, e.sequence_id, c.metric, c.bucket, sum(c.n) FROM deliveries d
  JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id CROSS JOIN LATERAL delivery_stat_rows(d) c
WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4
ON CONFLICT (org_id, sequence_id, metric, bucket) DO UPDATE SET n = sequence_stats.n + EXCLUDED.n;

-- The same row-level security and grants as every tenant table (0002).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sequence_stats', 'sequence_enrollment_changes', 'sequence_delivery_changes']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''nudge.org_id'', true)) WITH CHECK (org_id = current_setting(''nudge.org_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO nudge_api, nudge_worker', t);
  END LOOP;
END $$;
