-- Sequence statistics (README, "Sequence statistics"). Statement-level triggers append what each
-- statement changed (summed per counter) to sequence_stat_deltas, in the transaction that changes
-- the enrollments or deliveries, so the counters never drift from the rows. Appending takes no
-- lock another writer waits for; housekeeping moves deltas into sequence_stats in one statement
-- (delete and upsert together), so a reader summing both tables sees each delta exactly once.
-- A `since` window is an indexed aggregate over the enrollments created since then.

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
CREATE TABLE sequence_stat_deltas (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id       text NOT NULL,
  sequence_id  text NOT NULL,
  metric       text NOT NULL,
  bucket       integer NOT NULL,
  n            bigint NOT NULL
);
CREATE INDEX sequence_stat_deltas_by_sequence ON sequence_stat_deltas (org_id, sequence_id, metric, bucket);

-- The window: a sequence's enrollments by creation time.
CREATE INDEX enrollments_by_sequence ON enrollments (org_id, sequence_id, created_at) WHERE sequence_id IS NOT NULL;

-- What one enrollment row counts for.
CREATE FUNCTION enrollment_stat_rows(e enrollments) RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'enrolled', -1, 1::bigint
  UNION ALL SELECT 'state:' || e.state, -1, 1
  UNION ALL SELECT 'exit:' || e.exit_reason, -1, 1 WHERE e.exit_reason IS NOT NULL
  UNION ALL SELECT 'replied', -1, 1 WHERE e.replied_at IS NOT NULL
  UNION ALL SELECT 'step_replied', coalesce(e.replied_after_step, -1), 1 WHERE e.replied_at IS NOT NULL
  UNION ALL SELECT 'reply_minutes', floor(extract(epoch FROM e.replied_at - e.created_at) / 60)::integer, 1 WHERE e.replied_at IS NOT NULL
$$;

-- What one delivery row counts for (sequence_id is its enrollment's): an email step counts as
-- sent once its delivery is sent, and still when it later bounced.
CREATE FUNCTION delivery_stat_rows(d deliveries) RETURNS TABLE (metric text, bucket integer, n bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'sent', b, 1::bigint FROM unnest(ARRAY[-1, d.step_index]) b WHERE d.kind = 'email' AND d.status IN ('sent', 'bounced')
  UNION ALL SELECT 'bounced', d.step_index, 1 WHERE d.kind = 'email' AND d.status = 'bounced'
$$;

CREATE FUNCTION enrollments_stats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT e.org_id, e.sequence_id, c.metric, c.bucket, sum(c.n) FROM new_rows e CROSS JOIN LATERAL enrollment_stat_rows(e) c
    WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT e.org_id, e.sequence_id, c.metric, c.bucket, -sum(c.n) FROM old_rows e CROSS JOIN LATERAL enrollment_stat_rows(e) c
    WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4;
  ELSE
    -- Only rows whose counted columns changed (the dispatcher's progress updates add nothing).
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT org_id, sequence_id, metric, bucket, sum(n) FROM (
      SELECT n.org_id, n.sequence_id, c.metric, c.bucket, c.n FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
        CROSS JOIN LATERAL enrollment_stat_rows(n) c
        WHERE n.sequence_id IS NOT NULL AND (o.state, o.exit_reason, o.replied_at, o.replied_after_step) IS DISTINCT FROM (n.state, n.exit_reason, n.replied_at, n.replied_after_step)
      UNION ALL
      SELECT o.org_id, o.sequence_id, c.metric, c.bucket, -c.n FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
        CROSS JOIN LATERAL enrollment_stat_rows(o) c
        WHERE o.sequence_id IS NOT NULL AND (o.state, o.exit_reason, o.replied_at, o.replied_after_step) IS DISTINCT FROM (n.state, n.exit_reason, n.replied_at, n.replied_after_step)
    ) x GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION deliveries_stats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT d.org_id, e.sequence_id, c.metric, c.bucket, sum(c.n) FROM new_rows d
      JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id CROSS JOIN LATERAL delivery_stat_rows(d) c
    WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT d.org_id, e.sequence_id, c.metric, c.bucket, -sum(c.n) FROM old_rows d
      JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id CROSS JOIN LATERAL delivery_stat_rows(d) c
    WHERE e.sequence_id IS NOT NULL GROUP BY 1, 2, 3, 4;
  ELSE
    INSERT INTO sequence_stat_deltas (org_id, sequence_id, metric, bucket, n)
    SELECT x.org_id, e.sequence_id, x.metric, x.bucket, sum(x.n) FROM (
      SELECT d.org_id, d.enrollment_id, d.step_index, c.metric, c.bucket, c.n FROM new_rows d
        JOIN old_rows o ON o.org_id = d.org_id AND o.enrollment_id = d.enrollment_id AND o.step_index = d.step_index
        CROSS JOIN LATERAL delivery_stat_rows(d) c WHERE (o.kind, o.status) IS DISTINCT FROM (d.kind, d.status)
      UNION ALL
      SELECT o.org_id, o.enrollment_id, o.step_index, c.metric, c.bucket, -c.n FROM new_rows d
        JOIN old_rows o ON o.org_id = d.org_id AND o.enrollment_id = d.enrollment_id AND o.step_index = d.step_index
        CROSS JOIN LATERAL delivery_stat_rows(o) c WHERE (o.kind, o.status) IS DISTINCT FROM (d.kind, d.status)
    ) x JOIN enrollments e ON e.org_id = x.org_id AND e.id = x.enrollment_id
    WHERE e.sequence_id IS NOT NULL GROUP BY x.org_id, e.sequence_id, x.metric, x.bucket HAVING sum(x.n) <> 0;
  END IF;
  RETURN NULL;
END $$;

-- One trigger per event: transition tables allow no more.
CREATE TRIGGER enrollments_stats_insert AFTER INSERT ON enrollments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION enrollments_stats();
CREATE TRIGGER enrollments_stats_update AFTER UPDATE ON enrollments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION enrollments_stats();
CREATE TRIGGER enrollments_stats_delete AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION enrollments_stats();
CREATE TRIGGER deliveries_stats_insert AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deliveries_stats();
CREATE TRIGGER deliveries_stats_update AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deliveries_stats();
CREATE TRIGGER deliveries_stats_delete AFTER DELETE ON deliveries REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deliveries_stats();

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
  FOREACH t IN ARRAY ARRAY['sequence_stats', 'sequence_stat_deltas']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''nudge.org_id'', true)) WITH CHECK (org_id = current_setting(''nudge.org_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO nudge_api, nudge_worker', t);
  END LOOP;
END $$;
