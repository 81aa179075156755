import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct WorkflowRuleRecord: Encodable, Sendable {
    public struct Trigger: Codable, Sendable {
        public let type: String
        public let label: String
    }
    public struct Action: Codable, Sendable {
        public let type: String
        public let sequence_id: String
        public let exit_on_reply: Bool?
    }
    public let id: String
    public let inbox_id: String
    public let trigger: Trigger
    public let action: Action
    public let created_at: Date
}

/// "When label X is added to a contact, enroll it in sequence Y from inbox Z."
public struct WorkflowRuleStore: Sendable {
    package let db: Database
    package let enrollments: EnrollmentStore
    package var logger: Logger { db.logger }

    package static let columns = "id, inbox_id, trigger_label, sequence_id, exit_on_reply, created_at"

    package static func record(_ row: PostgresRow) throws -> WorkflowRuleRecord {
        let (id, inbox, label, seq, exit, created) = try row.decode((String, String, String, String, Bool?, Date).self)
        return WorkflowRuleRecord(
            id: id, inbox_id: inbox, trigger: .init(type: "label_added", label: label),
            action: .init(type: "enroll", sequence_id: seq, exit_on_reply: exit), created_at: created)
    }

    public func create(org: String, inboxID: String, label: String, sequenceID: String, exitOnReply: Bool?, now: Date) async throws
        -> WorkflowRuleRecord
    {
        try await db.tenant(org) { conn in
            if try await !InboxStore.exists(org: org, id: inboxID, conn, logger: logger) {
                throw NudgeError.validation("inbox_id", "No inbox \(inboxID) in this organization.")
            }
            let seq = try await conn.query("SELECT archived_at FROM sequences WHERE org_id = \(org) AND id = \(sequenceID)", logger: logger).decode(
                Date?.self
            ).collect()
            guard let archived = seq.first else {
                throw NudgeError.validation("action.sequence_id", "No sequence \(sequenceID) in this organization.")
            }
            if archived != nil { throw NudgeError.validation("action.sequence_id", "Sequence \(sequenceID) is archived.") }
            let id = ID.make(.wfr)
            return try await conn.query(
                """
                INSERT INTO workflow_rules (org_id, id, inbox_id, trigger_label, sequence_id, exit_on_reply, created_at)
                VALUES (\(org), \(id), \(inboxID), \(label), \(sequenceID), \(exitOnReply), \(now)) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().map(Self.record)[0]
        }
    }

    public func list(org: String, page: PageRequest) async throws -> Page<WorkflowRuleRecord> {
        let rows = try await db.tenant(org) { conn in
            try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM workflow_rules WHERE org_id = \(org)
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect().map(Self.record)
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    public func get(org: String, id: String) async throws -> WorkflowRuleRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT \(unescaped: Self.columns) FROM workflow_rules WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .collect().first.map(Self.record)
        }
    }

    public func delete(org: String, id: String) async throws -> WorkflowRuleRecord? {
        try await db.tenant(org) { conn in
            try await conn.query(
                "DELETE FROM workflow_rules WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger
            ).collect().first.map(Self.record)
        }
    }

    /// Enrolls the contact for each rule matching a newly added label, in the caller's
    /// transaction. The one-running-enrollment index makes a second firing a no-op.
    package func fire(org: String, contactID: String, labels: [String], tokenID: String?, now: Date, _ conn: PostgresConnection) async throws {
        guard !labels.isEmpty else { return }
        let rules = try await conn.query(
            """
            SELECT r.id, r.inbox_id, r.sequence_id, r.exit_on_reply, s.version, s.definition::text,
              (SELECT address FROM contact_emails e WHERE e.org_id = r.org_id AND e.contact_id = \(contactID) ORDER BY position LIMIT 1)
            FROM workflow_rules r JOIN sequences s ON s.org_id = r.org_id AND s.id = r.sequence_id AND s.archived_at IS NULL
            WHERE r.org_id = \(org) AND r.trigger_label = ANY(\(labels)) ORDER BY r.created_at
            """, logger: logger
        ).decode((String, String, String, Bool?, Int, String, String?).self).collect()
        for (ruleID, inboxID, seqID, exitOnReply, version, def, address) in rules {
            guard let address else { continue }
            var definition = try JSONCoding.decoder.decode(SequenceDefinition.self, from: Data(def.utf8))
            if let exitOnReply { definition.exit_on_reply = exitOnReply }
            _ = try await enrollments.enroll(
                .init(
                    inboxID: inboxID, contactID: contactID, recipient: address, sequenceID: seqID,
                    sequenceVersion: version, definition: definition, source: nil, threadID: nil,
                    trigger: "workflow_rule", ruleID: ruleID, tokenID: tokenID), org: org, now: now, conn)
        }
    }

    package init(db: Database, enrollments: EnrollmentStore) {
        self.db = db
        self.enrollments = enrollments
    }
}
