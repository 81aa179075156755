import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct WorkflowRuleRecord: Encodable, Sendable {
    public struct Trigger: Codable, Sendable {
        /// `label_added` or `reply_intent`.
        public let type: String
        public let label: String?
        public let intent: String?

        package init(type: String, label: String? = nil, intent: String? = nil) {
            self.type = type
            self.label = label
            self.intent = intent
        }
    }
    public struct Action: Codable, Sendable {
        public let type: String
        public let sequence_id: String
        public let exit_on_reply: Bool?
        /// Who is enrolled: `contact` (the labelled or replying contact) or `referred` (each
        /// person a `referral` reply points to).
        public let target: String
    }
    public let id: String
    public let inbox_id: String
    public let trigger: Trigger
    public let action: Action
    public let created_at: Date
}

/// "When label X is added to a contact, enroll it in sequence Y from inbox Z"; "when a reply in
/// inbox Z has intent I, enroll its sender (or, for a referral, the referred people) in sequence Y".
public struct WorkflowRuleStore: Sendable {
    package let db: Database
    package let enrollments: EnrollmentStore
    package var logger: Logger { db.logger }

    package static let columns = "id, inbox_id, trigger_type, trigger_label, trigger_intent, sequence_id, exit_on_reply, enroll_target, created_at"

    package static func record(_ row: PostgresRow) throws -> WorkflowRuleRecord {
        let (id, inbox, type, label, intent, seq, exit, target, created) = try row.decode(
            (String, String, String, String?, String?, String, Bool?, String, Date).self)
        return WorkflowRuleRecord(
            id: id, inbox_id: inbox, trigger: .init(type: type, label: label, intent: intent),
            action: .init(type: "enroll", sequence_id: seq, exit_on_reply: exit, target: target), created_at: created)
    }

    public func create(
        org: String, inboxID: String, trigger: WorkflowRuleRecord.Trigger, sequenceID: String, exitOnReply: Bool?, target: String, now: Date
    ) async throws -> WorkflowRuleRecord {
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
                INSERT INTO workflow_rules (org_id, id, inbox_id, trigger_type, trigger_label, trigger_intent, sequence_id, exit_on_reply,
                  enroll_target, created_at)
                VALUES (\(org), \(id), \(inboxID), \(trigger.type), \(trigger.label), \(trigger.intent), \(sequenceID), \(exitOnReply),
                  \(target), \(now))
                RETURNING \(unescaped: Self.columns)
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
            WHERE r.org_id = \(org) AND r.trigger_type = 'label_added' AND r.trigger_label = ANY(\(labels)) ORDER BY r.created_at
            """, logger: logger
        ).decode((String, String, String, Bool?, Int, String, String?).self).collect()
        guard rules.contains(where: { $0.6 != nil }) else { return }
        // The firing token's send policy holds for what its rules enroll, as for its API calls: a
        // refused recipient or a reached daily enrollment cap enrolls nothing (the label stays).
        var policy: (SendPolicy, Int)?
        if let tokenID {
            policy = try await conn.query(
                """
                SELECT \(unescaped: TokenStore.effectivePolicy)::text, t.policy_version FROM tokens t JOIN orgs o ON o.id = t.org_id
                WHERE t.org_id = \(org) AND t.id = \(tokenID)
                """, logger: logger
            ).decode((String, Int).self).collect().first.map { (SendPolicy.decode($0.0), $0.1) }
        }
        let day = ScheduleMath.localDay(now, .gmt)
        for (ruleID, inboxID, seqID, exitOnReply, version, def, address) in rules {
            guard let address else { continue }
            if let (p, _) = policy, p.refusal(of: address) != nil { continue }
            var definition = try JSONCoding.decoder.decode(SequenceDefinition.self, from: Data(def.utf8))
            if let exitOnReply { definition.exit_on_reply = exitOnReply }
            let cap = policy?.0.daily_enrollment_cap
            if let cap, let tokenID {
                guard try await DailyCounts.countEnrollment(org: org, tokenID: tokenID, day: day, cap: cap, conn, logger: logger) else { continue }
            }
            var e = EnrollmentStore.NewEnrollment(
                inboxID: inboxID, contactID: contactID, recipient: address, sequenceID: seqID,
                sequenceVersion: version, definition: definition, source: nil, threadID: nil,
                trigger: "workflow_rule", ruleID: ruleID, tokenID: tokenID)
            e.policyVersion = policy?.1
            let (_, created) = try await enrollments.enroll(e, org: org, now: now, conn)
            if cap != nil, !created, let tokenID {
                try await DailyCounts.uncountEnrollment(org: org, tokenID: tokenID, day: day, conn, logger: logger)
            }
        }
    }

    /// A received reply, as `reply_intent` rules see it.
    package struct Reply: Sendable {
        package let inboxID: String
        package let intent: String
        /// The sender's contact and address; rules act only on replies from a known contact.
        package let contactID: String
        package let sender: String
        package let messageID: String
        package let threadID: String
        package let referrals: [ReferredPerson]

        package init(
            inboxID: String, intent: String, contactID: String, sender: String, messageID: String, threadID: String, referrals: [ReferredPerson]
        ) {
            self.inboxID = inboxID
            self.intent = intent
            self.contactID = contactID
            self.sender = sender
            self.messageID = messageID
            self.threadID = threadID
            self.referrals = referrals
        }
    }

    package struct ReferredPerson: Sendable {
        package let email: String
        package let name: String?

        package init(email: String, name: String?) {
            self.email = email
            self.name = name
        }
    }

    /// At most this many referred people are enrolled from one reply.
    package static let maxReferred = 5

    /// Runs the inbox's `reply_intent` rules for the reply's intent, in the caller's transaction:
    /// enrolls the sender (follow-ups in the reply's thread), or each referred address, made a
    /// contact of the inbox when it is not one yet. Returns the enrollments made.
    package func fire(org: String, _ reply: Reply, now: Date, _ conn: PostgresConnection) async throws -> [String] {
        let rules = try await conn.query(
            """
            SELECT r.id, r.sequence_id, r.exit_on_reply, r.enroll_target, s.version, s.definition::text
            FROM workflow_rules r JOIN sequences s ON s.org_id = r.org_id AND s.id = r.sequence_id AND s.archived_at IS NULL
            WHERE r.org_id = \(org) AND r.inbox_id = \(reply.inboxID) AND r.trigger_type = 'reply_intent' AND r.trigger_intent = \(reply.intent)
            ORDER BY r.created_at
            """, logger: logger
        ).decode((String, String, Bool?, String, Int, String).self).collect()
        var made: [String] = []
        for (ruleID, seqID, exitOnReply, target, version, def) in rules {
            var definition = try JSONCoding.decoder.decode(SequenceDefinition.self, from: Data(def.utf8))
            if let exitOnReply { definition.exit_on_reply = exitOnReply }
            var people: [(contactID: String, address: String, thread: String?)] = []
            if target == "referred" {
                for r in reply.referrals.prefix(Self.maxReferred) {
                    guard case .success(let address) = Mailbox.validate(r.email) else { continue }
                    people.append((try await contact(org: org, address: address, name: r.name, inboxID: reply.inboxID, now: now, conn), address, nil))
                }
            } else {
                people.append((reply.contactID, reply.sender, reply.threadID))
            }
            for p in people {
                let source = p.thread.map { EnrollmentSource(type: "email", message_id: reply.messageID, thread_id: $0) }
                let (e, created) = try await enrollments.enroll(
                    .init(
                        inboxID: reply.inboxID, contactID: p.contactID, recipient: p.address, sequenceID: seqID, sequenceVersion: version,
                        definition: definition, source: source, threadID: p.thread, trigger: "workflow_rule", ruleID: ruleID),
                    org: org, now: now, conn)
                if created { made.append(e.id) }
            }
        }
        return made
    }

    /// The contact owning `address`, or a new one of the inbox named `name`.
    private func contact(org: String, address: String, name: String?, inboxID: String, now: Date, _ conn: PostgresConnection) async throws
        -> String
    {
        if let known = try await conn.query(
            "SELECT contact_id FROM contact_emails WHERE org_id = \(org) AND address_key = \(Mailbox.key(address))", logger: logger
        ).decode(String.self).collect().first {
            return known
        }
        let input = ContactInput(inboxID: inboxID, fullName: .some(name), emails: [ContactEmail(label: "referred", address: address)])
        return try await ContactStore(db: db, rules: self).upsertID(org: org, input, now: now, tokenID: nil, conn).0
    }

    package init(db: Database, enrollments: EnrollmentStore) {
        self.db = db
        self.enrollments = enrollments
    }
}
