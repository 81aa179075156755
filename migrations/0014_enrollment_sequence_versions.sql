-- Template enrollments run the sequence version they name (sequence_id, sequence_version) and read
-- its steps from sequence_versions, whose rows are never changed or deleted once written. Until
-- now each enrollment kept a copy of its steps: with a 50-step sequence of 20 KB bodies that is
-- 1 MB per enrollment, stored again for every enrollment and read back by every list (200
-- enrollments: a 200 MB answer, and the process grew by 1.5 GB serving four at once). `steps` is
-- now kept only where no version holds it: ad-hoc enrollments (stored once, with the enrollment),
-- and older rows whose copy matches no stored version. Readers take `steps` when set, else the
-- version's (EnrollmentRecord.stepsColumn, DueStep.claimQuery).
--
-- No foreign key to sequence_versions: its check would lock the version row (FOR KEY SHARE) on
-- every enrollment insert, and all enrollments of a sequence would share that row lock, the cost
-- 0007 removed for organizations. Enrollments take their version from the sequence row read in
-- the same transaction (or check a cached one in their insert), and that version's row is
-- written with it; the CHECK below keeps a row without steps naming a version.
--
-- Upgrading: stop processes of earlier versions before migrating; they expect steps on every row.
ALTER TABLE enrollments ALTER COLUMN steps DROP NOT NULL;

-- Existing rows drop their copy when it equals their version's steps (jsonb equality: key order
-- and number spelling do not matter); any other copy is kept, so no enrollment's steps change.
-- As nudge_worker (BYPASSRLS): row-level security is forced on the owner too, and this spans
-- organizations.
SET LOCAL ROLE nudge_worker;
UPDATE enrollments e SET steps = NULL
FROM sequence_versions v
WHERE v.org_id = e.org_id AND v.sequence_id = e.sequence_id AND v.version = e.sequence_version
  AND e.steps IS NOT NULL AND e.steps = v.definition -> 'steps';
RESET ROLE;

ALTER TABLE enrollments ADD CONSTRAINT enrollments_steps_or_version
  CHECK (steps IS NOT NULL OR (sequence_id IS NOT NULL AND sequence_version IS NOT NULL));
