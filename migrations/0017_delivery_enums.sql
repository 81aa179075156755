-- Delivery kinds and statuses are closed sets (DeliveryKind and DeliveryStatus in NudgeCore),
-- now also in the schema. 'skipped', named in 0001's comment, was never written.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check CHECK (kind IN ('email', 'reminder')) NOT VALID;
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
  CHECK (status IN ('accepted', 'rendered', 'sent', 'reminded', 'retrying', 'failed', 'bounced')) NOT VALID;
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_status_check;
