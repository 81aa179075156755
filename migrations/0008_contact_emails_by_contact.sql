-- The addresses of a contact, by contact first. Led by org_id, this index also served "every
-- address of the organization", and with statistics older than a burst of new contacts the
-- planner took that scan (and filtered it) to look one address up, instead of the primary key:
-- both were estimated at one row (ops/bench api, auto_explain: 38-55 ms per enrollment request
-- until autovacuum analysed the table; test newAddressLookupAfterAnUnanalysedBurstProbesOneKey).
-- Contact ids are unique on their own, so contact_id first serves every lookup by contact and
-- none by organization alone.
CREATE INDEX contact_emails_by_contact ON contact_emails (contact_id, org_id);
DROP INDEX contact_emails_contact;
