import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// What is already known about an inbound message, in one round trip: whether the inbox
/// exists, an earlier copy of the message, the sender's contact, and the newest stored
/// message it refers to. Each referenced Message-ID is its own equality probe of
/// `messages_rfc_id`: with `= ANY(refs)`, statistics that predate a burst of sent mail made
/// the planner scan the inbox's whole prefix of that index and filter it (ops/bench inbound
/// with auto_explain: 262 ms for one reply, 20,015 rows removed; 0.05 ms once analysed).
package struct InboundLookup {
    package struct Previous {
        package let id: String
        package let threadID: String
        package let classification: String
        package let enrollments: String
    }
    /// The newest stored message the inbound one refers to.
    package struct Referenced {
        package let threadID: String
        package let enrollmentID: String?
        package let toAddresses: [String]
    }
    package var previous: Previous?
    package var contactID: String?
    package var byRef: Referenced?
    /// The zone the sender's dates are read in: the contact's, else the inbox's.
    package var timeZone = "UTC"
    /// The inbox has `reply_intent` workflow rules (most have none: no query for them then).
    package var hasIntentRules = false

    /// nil when the inbox does not exist.
    package static func run(
        org: String, inboxID: String, rfcID: String, senderKey: String, refs: [String],
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> InboundLookup? {
        let rows = try await conn.execute(Statement(org: org, inboxID: inboxID, rfcID: rfcID, senderKey: senderKey, refs: refs), logger: logger)
            .collect()
        guard let row = rows.first else { return nil }
        var out = InboundLookup()
        let (previousID, previousThread, classification, enrollments, contactID, refThread, refEnrollment, refTo, zone, intentRules) = row
        if let previousID, let previousThread {
            out.previous = Previous(
                id: previousID, threadID: previousThread, classification: classification ?? "other", enrollments: enrollments ?? "[]")
        }
        out.contactID = contactID
        out.timeZone = zone
        out.hasIntentRules = intentRules
        if let refThread { out.byRef = Referenced(threadID: refThread, enrollmentID: refEnrollment, toAddresses: refTo ?? []) }
        return out
    }

    /// Prepared: planning it took 0.64 ms against 0.33 ms to run it (pg_stat_statements,
    /// ops/bench inbound). `message_refs` (migration 0010) is unnest with an estimate of a few
    /// rows, so that PostgreSQL keeps the generic plan instead of planning every message again.
    package struct Statement: PostgresPreparedStatement {
        package static let sql = """
            SELECT p.id, p.thread_id, p.cls, p.enr, c.contact_id, r.thread_id, r.enrollment_id, r.to_addresses,
              coalesce(nullif(c.timezone, ''), i.timezone),
              EXISTS (SELECT 1 FROM workflow_rules w WHERE w.org_id = i.org_id AND w.inbox_id = i.id AND w.trigger_type = 'reply_intent')
            FROM inboxes i
            LEFT JOIN LATERAL (
              SELECT id, thread_id, coalesce(classification, 'other') AS cls, coalesce(details -> 'enrollments', '[]'::jsonb)::text AS enr FROM messages
              WHERE org_id = i.org_id AND inbox_id = i.id AND rfc822_message_id = $3::text AND direction = 'inbound' LIMIT 1) p ON true
            LEFT JOIN LATERAL (
              SELECT e.contact_id, t.timezone FROM contact_emails e JOIN contacts t ON t.org_id = e.org_id AND t.id = e.contact_id
              WHERE e.org_id = i.org_id AND e.address_key = $4::text AND $4::text <> '' LIMIT 1) c ON true
            LEFT JOIN LATERAL (
              SELECT m.thread_id, m.enrollment_id, m.to_addresses FROM message_refs($5::text[]) AS ref(id)
              CROSS JOIN LATERAL (
                SELECT thread_id, enrollment_id, to_addresses, at FROM messages
                WHERE org_id = i.org_id AND inbox_id = i.id AND rfc822_message_id = ref.id ORDER BY at DESC LIMIT 1) m
              ORDER BY m.at DESC LIMIT 1) r ON true
            WHERE i.org_id = $1::text AND i.id = $2::text
            """
        package let org: String
        package let inboxID: String
        package let rfcID: String
        package let senderKey: String
        package let refs: [String]

        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 5)
            b.append(org)
            b.append(inboxID)
            b.append(rfcID)
            b.append(senderKey)
            b.append(refs)
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws -> (String?, String?, String?, String?, String?, String?, String?, [String]?, String, Bool)
        {
            try row.decode((String?, String?, String?, String?, String?, String?, String?, [String]?, String, Bool).self)
        }
    }
}

extension HistoryStore {
    /// The newest thread of the inbox with this normalised subject in which `sender` took part
    /// (threading mail that carries no references).
    package static func thread(
        org: String, inboxID: String, subjectKey: String, sender: String, senderKey: String,
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> String? {
        try await conn.query(
            """
            SELECT t.id FROM threads t WHERE t.org_id = \(org) AND t.inbox_id = \(inboxID) AND t.subject_key = \(subjectKey)
            AND EXISTS (SELECT 1 FROM messages x WHERE x.org_id = t.org_id AND x.thread_id = t.id AND (lower(x.from_address) = \(senderKey) OR \(sender) = ANY(x.to_addresses)))
            ORDER BY t.last_message_at DESC LIMIT 1
            """, logger: logger
        ).decode(String.self).collect().first
    }
}

/// One of a thread's latest messages, as an LLM-written step sees it.
package struct RecentMessage: Sendable {
    package let direction: MessageDirection
    package let from: String
    package let subject: String
    /// The new text of a reply, else the whole text.
    package let text: String
}

extension HistoryStore {
    /// What an LLM step is written from: the source message's new text and the thread's six
    /// latest messages, newest first.
    package func stepContext(org: String, sourceMessageID: String?, threadID: String?) async throws -> (source: String?, recent: [RecentMessage]) {
        try await db.tenant(org) { [logger] conn in
            var source: String?
            if let mid = sourceMessageID {
                source = try await conn.query(
                    "SELECT coalesce(nullif(reply_text, ''), text_body) FROM messages WHERE org_id = \(org) AND id = \(mid)", logger: logger
                )
                .decode(String.self).collect().first
            }
            var recent: [RecentMessage] = []
            if let tid = threadID {
                for try await (direction, from, subject, text) in try await conn.query(
                    """
                    SELECT direction, from_address, subject, coalesce(nullif(reply_text, ''), text_body) FROM messages
                    WHERE org_id = \(org) AND thread_id = \(tid) ORDER BY at DESC, created_at DESC LIMIT 6
                    """, logger: logger
                ).decode((String, String, String, String).self) {
                    recent.append(
                        RecentMessage(
                            direction: try MessageDirection.stored(direction, column: "messages.direction"), from: from, subject: subject, text: text)
                    )
                }
            }
            return (source, recent)
        }
    }
}

extension HistoryStore {
    /// A stored message of the inbox, as an enrollment's source: its thread, subject and sender.
    package static func message(org: String, id: String, inboxID: String, _ conn: PostgresConnection, logger: Logger) async throws
        -> (threadID: String, subject: String, from: String)?
    {
        try await conn.query(
            """
            SELECT thread_id, subject, from_address FROM messages WHERE org_id = \(org) AND id = \(id) AND inbox_id = \(inboxID)
            """, logger: logger
        ).decode((String, String, String).self).collect().first.map { (threadID: $0.0, subject: $0.1, from: $0.2) }
    }

    /// The subject of a thread of the inbox; nil when the inbox has no such thread.
    package static func threadSubject(org: String, id: String, inboxID: String, _ conn: PostgresConnection, logger: Logger) async throws -> String? {
        try await conn.query("SELECT subject FROM threads WHERE org_id = \(org) AND id = \(id) AND inbox_id = \(inboxID)", logger: logger)
            .decode(String.self).collect().first
    }
}
