import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Enrollments: creation (from the API and from workflow rules), state changes, and reads.
public struct EnrollmentStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    public struct NewEnrollment: Sendable {
        package var inboxID: String
        package var contactID: String
        package var recipient: String
        package var sequenceID: String?
        package var sequenceVersion: Int?
        package var definition: SequenceDefinition
        package var source: EnrollmentSource?
        package var threadID: String?
        package var trigger: String
        package var ruleID: String?
        package var tokenID: String?
        /// The sequence version read from `SequenceCache`: the insert checks it is still current
        /// and not archived, and throws `SequenceCache.Changed` otherwise. Nil: read in this transaction.
        package var cachedVersion: Int? = nil
        /// The version of the token's send policy in force (recorded with the token as `policy_token_id`).
        package var policyVersion: Int? = nil

        package init(
            inboxID: String, contactID: String, recipient: String, sequenceID: String? = nil, sequenceVersion: Int? = nil,
            definition: SequenceDefinition, source: EnrollmentSource? = nil, threadID: String? = nil, trigger: String, ruleID: String? = nil,
            tokenID: String? = nil, cachedVersion: Int? = nil
        ) {
            self.inboxID = inboxID
            self.contactID = contactID
            self.recipient = recipient
            self.sequenceID = sequenceID
            self.sequenceVersion = sequenceVersion
            self.definition = definition
            self.source = source
            self.threadID = threadID
            self.trigger = trigger
            self.ruleID = ruleID
            self.tokenID = tokenID
            self.cachedVersion = cachedVersion
        }
    }

    /// Creates the enrollment, or returns the running one for the same contact and sequence
    /// (the partial unique index decides, so concurrent calls converge). Runs inside the caller's
    /// transaction so workflow rules enroll atomically with the label change that fired them.
    package func enroll(_ e: NewEnrollment, org: String, now: Date, _ conn: PostgresConnection) async throws -> (EnrollmentRecord, created: Bool) {
        // The enrollment and its event in one round trip; no event when it already existed.
        let (current, inserted) = try await conn.execute(try Insert(org: org, e, now: now), logger: logger).collect()[0]
        guard current else { throw SequenceCache.Changed() }
        if var record = inserted {
            record.steps = e.definition.steps
            return (record, true)
        }
        let existing = try await conn.query(
            """
            SELECT \(unescaped: EnrollmentRecord.columns), \(unescaped: EnrollmentRecord.stepsColumn) FROM enrollments
            WHERE org_id = \(org) AND contact_id = \(e.contactID) AND sequence_id = \(e.sequenceID) AND state IN ('active', 'paused')
            """, logger: logger
        ).collect()
        guard let row = existing.first else {
            // The conflicting enrollment finished between our insert and this read: try once more.
            return try await enroll(e, org: org, now: now, conn)
        }
        return (try EnrollmentRecord.decode(row), false)
    }

    /// An enrollment by address with the contact upsert in the same statement, so a new address
    /// costs four round trips (BEGIN, the tenant, this, COMMIT) instead of six. `e.contactID` is
    /// the id for the contact if the address is new. When it is known nothing is written and the
    /// owning contact comes back, for `ContactStore.settle` and then `enroll`. A contact made here
    /// has no labels, so no workflow rule can fire for it.
    package enum NewContactOutcome {
        case enrolled(EnrollmentRecord)
        case known([(String, String, Bool)])
    }

    package func enrollNewContact(_ e: NewEnrollment, contact: ContactInput, org: String, now: Date, _ conn: PostgresConnection) async throws
        -> NewContactOutcome
    {
        let statement = InsertWithNewContact(
            contact: .init(org: org, newID: e.contactID, input: contact, fields: "{}", now: now), enrollment: try Insert(org: org, e, now: now))
        let rows = try await conn.execute(statement, logger: logger).collect()
        guard rows[0].current else { throw SequenceCache.Changed() }
        if var record = rows[0].enrollment {
            record.steps = e.definition.steps
            return .enrolled(record)
        }
        return .known(rows.compactMap(\.found))
    }

    /// Prepared (its planning cost a third of its execution); no event when the enrollment
    /// already existed. One row: whether the sequence version is current, then the enrollment
    /// if it was inserted. `ctes(when:)` is also the enrollment half of `InsertWithNewContact`.
    package struct Insert: ComposableStatement {
        package static func ctes(when condition: String) -> String {
            """
            seq AS (
              SELECT $22::int8 IS NULL OR EXISTS (
                SELECT 1 FROM sequences WHERE org_id = $1::text AND id = $7::text AND version = $22::int8 AND archived_at IS NULL) AS current
            ), e AS (
              INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, sequence_id, sequence_version, steps,
                exit_on_reply, exit_condition_prompt, source, thread_id, state, next_step, next_due_at, trigger, workflow_rule_id,
                created_by, updated_by, created_at, updated_at, policy_token_id, policy_version, stop_on_company_reply, through_account)
              SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::int8, $9::text::jsonb,
                $10::bool, $11::text, $12::text::jsonb, $13::text, 'active', 0, $14::timestamptz, $15::text, $16::text,
                $17::text, $17::text, $18::timestamptz, $18::timestamptz, $17::text, $23::int8, $24::bool,
                EXISTS (SELECT 1 FROM inboxes WHERE org_id = $1::text AND id = $3::text AND smtp IS NOT NULL)
              FROM seq WHERE seq.current AND \(condition)
              ON CONFLICT (org_id, contact_id, sequence_id) WHERE state IN ('active', 'paused') AND sequence_id IS NOT NULL DO NOTHING
              RETURNING *
            ), ev AS (
              \(Events.insertOne(org: "$1::text", id: "$19::text", type: "$20::text", data: "$21::text", at: "$18::timestamptz", forEachRowOf: "e"))
            )
            """
        }
        package static let sql = "WITH \(ctes(when: "true")) SELECT seq.current, \(EnrollmentRecord.columns) FROM seq LEFT JOIN e ON true"
        package static let parameterCount = 24
        package let org: String
        package let id: String
        package let e: NewEnrollment
        /// Ad-hoc steps; nil for a sequence's, which its version holds (migration 0014).
        package let steps: String?
        package let source: String?
        package let firstDue: Date
        package let event: PendingEvent
        package let now: Date

        package init(org: String, _ e: NewEnrollment, now: Date) throws {
            self.org = org
            self.id = ID.make(.enr)
            self.e = e
            self.steps = e.sequenceID != nil ? nil : String(decoding: try JSONCoding.encoder.encode(e.definition.steps), as: UTF8.self)
            self.source = try e.source.map { String(decoding: try JSONCoding.encoder.encode($0), as: UTF8.self) }
            self.firstDue = now.addingTimeInterval(e.definition.steps[0].delaySeconds)
            self.event = PendingEvent(
                org: org, type: .enrollmentCreated,
                [
                    "enrollment_id": .string(id), "contact_id": .string(e.contactID), "sequence_id": .str(e.sequenceID),
                    "inbox_id": .string(e.inboxID), "trigger": .string(e.trigger), "workflow_rule_id": .str(e.ruleID),
                ])
            self.now = now
        }

        package func bind(into b: inout PostgresBindings) {
            b.append(org)
            b.append(id)
            b.append(e.inboxID)
            b.append(e.contactID)
            b.append(e.recipient)
            b.append(Mailbox.key(e.recipient))
            b.append(e.sequenceID)
            b.append(e.sequenceVersion)
            b.append(steps)
            b.append(e.definition.exit_on_reply)
            b.append(e.definition.exit_condition_prompt)
            b.append(source)
            b.append(e.threadID)
            b.append(firstDue)
            b.append(e.trigger)
            b.append(e.ruleID)
            b.append(e.tokenID)
            b.append(now)
            b.append(ID.make(.evt))
            b.append(event.type.rawValue)
            b.append(event.data)
            b.append(e.cachedVersion)
            b.append(e.policyVersion)
            b.append(e.definition.stop_on_company_reply ?? false)
        }
        package func decodeRow(_ row: PostgresRow) throws -> (current: Bool, EnrollmentRecord?) { try Self.decodeResult(row) }

        package static func decodeResult(_ row: PostgresRow) throws -> (current: Bool, EnrollmentRecord?) {
            let r = row.makeRandomAccess()
            let current = try r["current"].decode(Bool.self)
            return (current, try r["id"].decode(String?.self) == nil ? nil : EnrollmentRecord.decode(row))
        }
    }

    /// `ContactStore.UpsertByAddress` and `Insert` as one statement: the enrollment is inserted
    /// only when the contact was (a known address writes nothing). Rows: the sequence check, the
    /// contact found or made, the enrollment if inserted.
    package struct InsertWithNewContact: PostgresPreparedStatement {
        package static let sql = """
            WITH \(ContactStore.UpsertByAddress.ctes),
            \(SQLParameters.shifted(Insert.ctes(when: "EXISTS (SELECT 1 FROM made)"), by: ContactStore.UpsertByAddress.parameterCount))
            SELECT seq.current, c.found_id, c.found_address, c.found_made, \(EnrollmentRecord.columns)
            FROM seq LEFT JOIN (\(ContactStore.UpsertByAddress.found)) AS c(found_id, found_address, found_made) ON true LEFT JOIN e ON true
            """
        package let contact: ContactStore.UpsertByAddress
        package let enrollment: Insert

        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: ContactStore.UpsertByAddress.parameterCount + Insert.parameterCount)
            contact.bind(into: &b)
            enrollment.bind(into: &b)
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws -> (current: Bool, found: (String, String, Bool)?, enrollment: EnrollmentRecord?) {
            let (current, record) = try Insert.decodeResult(row)
            let r = row.makeRandomAccess()
            let found = try r["found_id"].decode(String?.self).map { id in
                (id, try r["found_address"].decode(String.self), try r["found_made"].decode(Bool.self))
            }
            return (current, found, record)
        }
    }

    public func get(org: String, id: String) async throws -> EnrollmentRecord? {
        try await db.tenant(org) { conn in try await reload(org: org, id: id, conn) }
    }

    /// Each step: when it was (or is expected to be) due, when it was sent, and how it went.
    package func timeline(org: String, _ e: EnrollmentRecord, _ conn: PostgresConnection) async throws -> [TimelineEntry] {
        var deliveries: [Int: DeliveryRow] = [:]
        for try await (i, rfc, msg, status, sched, sent, attempts, err, subj) in try await conn.query(
            """
            SELECT step_index, rfc822_message_id, message_id, status, scheduled_at, sent_at, attempts, last_error, rendered_subject
            FROM deliveries WHERE org_id = \(org) AND enrollment_id = \(e.id)
            """, logger: logger
        ).decode((Int, String?, String?, String, Date, Date?, Int, String?, String?).self) {
            deliveries[i] = DeliveryRow(
                rfc822MessageID: rfc, messageID: msg, status: try DeliveryStatus.stored(status, column: "deliveries.status"),
                scheduledAt: sched, sentAt: sent, attempts: attempts, error: err, renderedSubject: subj)
        }
        let running = e.state.isRunning
        var expected: Date? = nil
        return (e.steps ?? []).enumerated().map { i, step in
            if let d = deliveries[i], let outcome = TimelineOutcome(d.status) {
                expected = d.sentAt
                return TimelineEntry(
                    step_index: i, type: step.type.rawValue, subject: d.renderedSubject ?? step.subject, scheduled_at: d.scheduledAt,
                    sent_at: d.sentAt,
                    message_id: d.messageID, rfc822_message_id: d.rfc822MessageID, outcome: outcome, attempts: d.attempts, error: d.error)
            }
            if running, let next = e.next_step, i == next {
                expected = e.next_due_at
                return TimelineEntry(
                    step_index: i, type: step.type.rawValue, subject: step.subject, scheduled_at: e.next_due_at, sent_at: nil,
                    message_id: nil, rfc822_message_id: nil, outcome: e.state == .paused ? .paused : .scheduled,
                    attempts: deliveries[i]?.attempts, error: deliveries[i]?.error)
            }
            if running, let next = e.next_step, i > next, let prev = expected {
                expected = prev.addingTimeInterval(step.delaySeconds)
                return TimelineEntry(
                    step_index: i, type: step.type.rawValue, subject: step.subject, scheduled_at: expected, sent_at: nil,
                    message_id: nil, rfc822_message_id: nil, outcome: .pending, attempts: nil, error: nil)
            }
            return TimelineEntry(
                step_index: i, type: step.type.rawValue, subject: step.subject, scheduled_at: nil, sent_at: nil,
                message_id: nil, rfc822_message_id: nil, outcome: .not_sent, attempts: nil, error: nil)
        }
    }

    /// A step's delivery row, as the timeline reads it.
    package struct DeliveryRow: Sendable {
        package let rfc822MessageID: String?
        package let messageID: String?
        package let status: DeliveryStatus
        package let scheduledAt: Date
        package let sentAt: Date?
        package let attempts: Int
        package let error: String?
        package let renderedSubject: String?
    }

    public struct Filter: Sendable {
        package var state: EnrollmentState?
        package var contactID: String?
        package var sequenceID: String?
        package var inboxID: String?

        package init(state: EnrollmentState? = nil, contactID: String? = nil, sequenceID: String? = nil, inboxID: String? = nil) {
            self.state = state
            self.contactID = contactID
            self.sequenceID = sequenceID
            self.inboxID = inboxID
        }
    }

    /// Without steps (`EnrollmentRecord.steps`), and bounded in bytes (`EncodedPage`). Rows past
    /// a full page are read (at most `limit + 1`, each a few kilobytes at most) but not decoded.
    public func list(org: String, filter: Filter, page: PageRequest) async throws -> EncodedPage {
        try await db.tenant(org) { conn in
            var out = page.encoded()
            for try await row in try await conn.query(
                """
                SELECT \(unescaped: EnrollmentRecord.columns) FROM enrollments WHERE org_id = \(org)
                AND (\(filter.state?.rawValue)::text IS NULL OR state = \(filter.state?.rawValue))
                AND (\(filter.contactID)::text IS NULL OR contact_id = \(filter.contactID))
                AND (\(filter.sequenceID)::text IS NULL OR sequence_id = \(filter.sequenceID))
                AND (\(filter.inboxID)::text IS NULL OR inbox_id = \(filter.inboxID))
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID))
                ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger) where !out.isComplete
            {
                let e = try EnrollmentRecord.decode(row)
                try out.add(e, key: (e.created_at, e.id))
            }
            return out
        }
    }

    public enum Action: String, Sendable {
        case cancel, pause, resume

        /// cancel: to cancelled, pause: to paused, resume: to active; the table of transitions
        /// (`EnrollmentState.transitions`) says from where.
        package var target: EnrollmentState {
            switch self {
            case .cancel: return .cancelled
            case .pause: return .paused
            case .resume: return .active
            }
        }

        package var event: EventType {
            switch self {
            case .cancel: return .enrollmentCancelled
            case .pause: return .enrollmentPaused
            case .resume: return .enrollmentResumed
            }
        }
    }

    /// cancel: active|paused -> cancelled; pause: active -> paused; resume: paused -> active, due
    /// now (missed steps are not sent in a burst: later delays count from this step's send).
    /// Repeating the current state is a no-op; anything else is a 409 that says why.
    public func act(org: String, id: String, action: Action, tokenID: String, now: Date) async throws -> EnrollmentRecord? {
        try await db.tenant(org) { conn in
            guard
                let row = try await conn.query(
                    "SELECT \(unescaped: EnrollmentRecord.columns) FROM enrollments WHERE org_id = \(org) AND id = \(id) FOR UPDATE", logger: logger
                )
                .collect().first
            else { return nil }
            let current = try EnrollmentRecord.decode(row)
            let target: EnrollmentState = action.target
            if current.state == target { return try await reload(org: org, id: id, conn) }
            guard current.state.canMove(to: target) else {
                throw NudgeError.conflict(
                    "Cannot \(action.rawValue) an enrollment that is \(current.state.rawValue)\(current.exit_reason.map { " (\($0.rawValue))" } ?? "").",
                    param: "action")
            }
            let resumed = target == .active
            try await conn.query(
                """
                UPDATE enrollments SET state = \(target.rawValue), updated_by = \(tokenID), updated_at = \(now),
                  next_due_at = CASE WHEN \(resumed) THEN \(now) ELSE next_due_at END,
                  attempts = CASE WHEN \(resumed) THEN 0 ELSE attempts END,
                  exit_detail = CASE WHEN \(resumed) THEN NULL ELSE exit_detail END
                WHERE org_id = \(org) AND id = \(id) AND state IN (\(unescaped: EnrollmentState.sqlSources(of: target)))
                """, logger: logger)
            try await Events.append(
                [
                    PendingEvent(
                        org: org, type: action.event,
                        ["enrollment_id": .string(id), "contact_id": .string(current.contact_id), "by": .string(tokenID)])
                ],
                at: now, on: conn, logger: logger)
            return try await reload(org: org, id: id, conn)
        }
    }

    package func reload(org: String, id: String, _ conn: PostgresConnection) async throws -> EnrollmentRecord? {
        guard
            let row = try await conn.query(
                """
                SELECT \(unescaped: EnrollmentRecord.columns), \(unescaped: EnrollmentRecord.stepsColumn) FROM enrollments WHERE org_id = \(org) AND id = \(id)
                """, logger: logger
            ).collect().first
        else { return nil }
        var record = try EnrollmentRecord.decode(row)
        record.timeline = try await timeline(org: org, record, conn)
        return record
    }

    /// Ends running enrollments matched by `filter` with `state`/`reason`, emitting events.
    /// Used by replies, bounces, complaints, suppressions and contact deletion.
    package static func finish(
        org: String, contactID: String? = nil, recipientKey: String? = nil, inboxID: String? = nil,
        onlyExitOnReply: Bool = false, enrollmentIDs: [String]? = nil,
        state: EnrollmentState, reason: ExitReason?, detail: String?, now: Date,
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> [String] {
        var events: [PendingEvent] = []
        let ids = try await finish(
            org: org, contactID: contactID, recipientKey: recipientKey, inboxID: inboxID, onlyExitOnReply: onlyExitOnReply,
            enrollmentIDs: enrollmentIDs, state: state, reason: reason, detail: detail, now: now, events: &events, conn, logger: logger)
        try await Events.append(events, at: now, on: conn, logger: logger)
        return ids
    }

    /// The same, leaving the events to the caller (which writes them with its own in one statement).
    package static func finish(
        org: String, contactID: String? = nil, recipientKey: String? = nil, inboxID: String? = nil,
        onlyExitOnReply: Bool = false, enrollmentIDs: [String]? = nil,
        state: EnrollmentState, reason: ExitReason?, detail: String?, now: Date, events: inout [PendingEvent],
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> [String] {
        let rows = try await conn.query(
            """
            UPDATE enrollments SET state = \(state.rawValue), exit_reason = \(reason?.rawValue), exit_detail = \(detail), next_due_at = NULL, updated_at = \(now)
            WHERE org_id = \(org) AND state IN (\(unescaped: EnrollmentState.sqlSources(of: state)))
              AND (\(contactID)::text IS NULL OR contact_id = \(contactID))
              AND (\(recipientKey)::text IS NULL OR recipient_key = \(recipientKey))
              AND (\(inboxID)::text IS NULL OR inbox_id = \(inboxID))
              AND (NOT \(onlyExitOnReply) OR exit_on_reply)
              AND (\(enrollmentIDs)::text[] IS NULL OR id = ANY(\(enrollmentIDs)))
            RETURNING id, contact_id
            """, logger: logger
        ).decode((String, String).self).collect()
        events += rows.map { finishedEvent(org: org, id: $0, contactID: $1, state: state, reason: reason, detail: detail) }
        return rows.map(\.0)
    }

    package static func finishedEvent(org: String, id: String, contactID: String, state: EnrollmentState, reason: ExitReason?, detail: String?)
        -> PendingEvent
    {
        let type: EventType = state == .cancelled ? .enrollmentCancelled : (state == .exited ? .enrollmentExited : .enrollmentFailed)
        return PendingEvent(
            org: org, type: type,
            ["enrollment_id": .string(id), "contact_id": .string(contactID), "exit_reason": .str(reason?.rawValue), "exit_detail": .str(detail)])
    }

    package init(db: Database) {
        self.db = db
    }
}
