-- The running-enrollment indexes, led by the key they are looked up by, as 0008 did for addresses.
-- Led by org_id, these small partial indexes also served "every running enrollment of the
-- organization", and with statistics older than a burst of enrollments the planner took that
-- scan (and filtered it) for a reply's enrollments by contact or thread, even for the lock by
-- primary key (ops/bench inbound, auto_explain: 218-439 ms per reply, 11,411-20,001 rows removed).
-- Contact and thread ids are unique on their own. Uniqueness and ON CONFLICT inference do not
-- depend on the column order.
CREATE UNIQUE INDEX enrollments_one_running_by_contact ON enrollments (contact_id, sequence_id, org_id)
  WHERE state IN ('active', 'paused') AND sequence_id IS NOT NULL;
DROP INDEX enrollments_one_running;
CREATE INDEX enrollments_contact_running ON enrollments (contact_id, org_id) WHERE state IN ('active', 'paused');
DROP INDEX enrollments_contact;
CREATE INDEX enrollments_thread_running ON enrollments (thread_id, org_id) WHERE state IN ('active', 'paused');
DROP INDEX enrollments_thread;
