-- A bounce or complaint acts only on an address Nudge mailed from that inbox: by the original
-- Message-ID it names (messages_rfc_id), or by a send to that exact address within the last 30
-- days (InboundProcessor.ReportMatch). This index answers the second question with one probe.
-- Outbound messages are the dispatcher's, one recipient each, so the first To is the recipient.
CREATE INDEX messages_sent_to ON messages (org_id, inbox_id, lower(to_addresses[1]), at) WHERE direction = 'outbound';
