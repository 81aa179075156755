-- An inbound reply stops the running enrollments of its contact *or of its thread*. Only the
-- contact half had an index (enrollments_contact), so the OR fell back to reading every running
-- enrollment of the organization for each reply (ops/bench inbound: 23 replies/s with 120,000
-- running). With this one the two halves are a BitmapOr of two small index scans.
CREATE INDEX enrollments_thread ON enrollments (org_id, thread_id) WHERE state IN ('active', 'paused');
