import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct DraftRecord: Encodable, Sendable {
    public let id: String
    public let enrollment_id: String
    public let step_index: Int
    public let state: String
    public let recipient: String
    public let inbox_id: String
    public let subject: String
    public let body: String
    /// As rendered, when an edit replaced it.
    public let original_subject: String?
    public let original_body: String?
    public let edited_by: String?
    public let decision: String?
    public let decided_by: String?
    public let decided_at: Date?
    public let void_reason: String?
    public let expires_at: Date
    public let expiry_action: String
    public let created_at: Date
}

/// Approval drafts (README, "Approval drafts"). A decision locks the enrollment before the draft,
/// the order a dispatch batch (which holds the enrollment from its claim) takes them in.
public struct DraftStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    public init(db: Database) { self.db = db }

    public static let states = ["pending", "approved", "rejected", "expired", "voided"]

    static let columns = """
        d.id, d.enrollment_id, d.step_index, d.state, e.recipient, e.inbox_id, d.subject, d.body, d.original_subject, d.original_body,
        d.edited_by, d.decision, d.decided_by, d.decided_at, d.void_reason, d.expires_at, d.expiry_action, d.created_at
        """

    static func record(_ row: PostgresRow) throws -> DraftRecord {
        let r = row.makeRandomAccess()
        return DraftRecord(
            id: try r["id"].decode(String.self), enrollment_id: try r["enrollment_id"].decode(String.self),
            step_index: try r["step_index"].decode(Int.self), state: try r["state"].decode(String.self),
            recipient: try r["recipient"].decode(String.self), inbox_id: try r["inbox_id"].decode(String.self),
            subject: try r["subject"].decode(String.self), body: try r["body"].decode(String.self),
            original_subject: try r["original_subject"].decode(String?.self), original_body: try r["original_body"].decode(String?.self),
            edited_by: try r["edited_by"].decode(String?.self), decision: try r["decision"].decode(String?.self),
            decided_by: try r["decided_by"].decode(String?.self), decided_at: try r["decided_at"].decode(Date?.self),
            void_reason: try r["void_reason"].decode(String?.self), expires_at: try r["expires_at"].decode(Date.self),
            expiry_action: try r["expiry_action"].decode(String.self), created_at: try r["created_at"].decode(Date.self))
    }

    public func list(org: String, state: String?, enrollmentID: String?, page: PageRequest) async throws -> Page<DraftRecord> {
        let rows = try await db.tenant(org) { conn in
            var out: [DraftRecord] = []
            for try await row in try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM drafts d JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id
                WHERE d.org_id = \(org) AND (\(state)::text IS NULL OR d.state = \(state)) AND (\(enrollmentID)::text IS NULL OR d.enrollment_id = \(enrollmentID))
                AND (d.created_at, d.id) < (\(page.beforeAt), \(page.beforeID))
                ORDER BY d.created_at DESC, d.id DESC LIMIT \(page.limit + 1)
                """, logger: logger)
            { out.append(try Self.record(row)) }
            return out
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    public func get(org: String, id: String) async throws -> DraftRecord? {
        try await db.tenant(org) { conn in try await Self.get(org: org, id: id, conn, logger: logger) }
    }

    static func get(org: String, id: String, _ conn: PostgresConnection, logger: Logger) async throws -> DraftRecord? {
        try await conn.query(
            """
            SELECT \(unescaped: columns) FROM drafts d JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id
            WHERE d.org_id = \(org) AND d.id = \(id)
            """, logger: logger
        ).first { _ in true }.map(record)
    }

    public enum Decision: Sendable {
        case approve(subject: String?, body: String?)
        case reject(exit: Bool)
    }

    /// Decides a pending draft: approval makes the step due now (it is sent by the dispatcher's
    /// usual path, under its Message-ID); `skip_step` moves the enrollment past the step, `exit`
    /// ends it. A draft no longer pending is a 409 naming its state.
    public func decide(org: String, id: String, _ decision: Decision, tokenID: String, now: Date) async throws -> DraftRecord? {
        try await db.tenant(org) { conn in
            guard
                let enrollmentID = try await conn.query("SELECT enrollment_id FROM drafts WHERE org_id = \(org) AND id = \(id)", logger: logger)
                    .decode(String.self).first(where: { _ in true })
            else { return nil }
            try await EnrollmentStore.lockForDraft(org: org, id: enrollmentID, conn, logger: logger)
            let verdict: String
            var subject: String?
            var body: String?
            switch decision {
            case .approve(let s, let b):
                verdict = "send"
                (subject, body) = (s, b)
            case .reject(let exit): verdict = exit ? "exit" : "skip_step"
            }
            let edited = subject != nil || body != nil
            let rows = try await conn.query(
                """
                UPDATE drafts SET state = CASE WHEN \(verdict) = 'send' THEN 'approved' ELSE 'rejected' END, decision = \(verdict),
                  decided_by = \(tokenID), decided_at = \(now),
                  original_subject = CASE WHEN \(subject)::text IS NOT NULL AND \(subject) <> subject THEN subject END,
                  original_body = CASE WHEN \(body)::text IS NOT NULL AND \(body) <> body THEN body END,
                  subject = coalesce(\(subject), subject), body = coalesce(\(body), body),
                  edited_by = CASE WHEN \(edited) THEN \(tokenID) END
                WHERE org_id = \(org) AND id = \(id) AND state = 'pending'
                RETURNING step_index
                """, logger: logger
            ).decode(Int.self).collect()
            guard let step = rows.first else {
                let state =
                    try await conn.query("SELECT state FROM drafts WHERE org_id = \(org) AND id = \(id)", logger: logger)
                    .decode(String.self).collect().first ?? "gone"
                throw NudgeError.conflict("This draft is \(state), not pending; only a pending draft can be decided.", param: "state")
            }
            switch verdict {
            case "send": try await EnrollmentStore.draftApproved(org: org, id: enrollmentID, step: step, now: now, conn, logger: logger)
            case "skip_step": try await EnrollmentStore.skipStep(org: org, id: enrollmentID, step: step, now: now, conn, logger: logger)
            default:
                _ = try await EnrollmentStore.finish(
                    org: org, enrollmentIDs: [enrollmentID], state: .exited, reason: .draft_rejected, detail: "draft \(id) was rejected",
                    now: now, conn, logger: logger)
            }
            try await Events.append(
                [Self.decidedEvent(org: org, id: id, enrollmentID: enrollmentID, step: step, decision: verdict, by: tokenID, edited: edited)],
                at: now,
                on: conn, logger: logger)
            return try await Self.get(org: org, id: id, conn, logger: logger)
        }
    }

    static func decidedEvent(org: String, id: String, enrollmentID: String, step: Int, decision: String, by: String?, edited: Bool) -> PendingEvent {
        PendingEvent(
            org: org, type: .draftDecided,
            [
                "draft_id": .string(id), "enrollment_id": .string(enrollmentID), "step_index": .number(Double(step)), "decision": .string(decision),
                "decided_by": .str(by), "edited": .bool(edited), "expired": .bool(by == nil),
            ])
    }

    /// A step rendered for approval, by the dispatcher.
    package struct NewDraft: Sendable {
        package let org: String
        package let enrollmentID: String
        package let contactID: String
        package let step: Int
        package let subject: String
        package let body: String
        package let expiresAt: Date
        package let expiryAction: String

        package init(
            org: String, enrollmentID: String, contactID: String, step: Int, subject: String, body: String, expiresAt: Date, expiryAction: String
        ) {
            self.org = org
            self.enrollmentID = enrollmentID
            self.contactID = contactID
            self.step = step
            self.subject = subject
            self.body = body
            self.expiresAt = expiresAt
            self.expiryAction = expiryAction
        }
    }

    /// Stores the drafts (one statement), their `draft.created` events, and makes each enrollment
    /// wait for its draft's decision until the draft expires.
    package static func create(_ drafts: [NewDraft], now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        guard !drafts.isEmpty else { return }
        let ids = drafts.map { _ in ID.make(.drf) }
        let made = try await conn.query(
            """
            INSERT INTO drafts (org_id, id, enrollment_id, step_index, state, subject, body, expires_at, expiry_action, created_at)
            SELECT u.org, u.id, u.enr, u.step, 'pending', u.subject, u.body, u.expires, u.action, \(now)
            FROM unnest(\(drafts.map(\.org))::text[], \(ids)::text[], \(drafts.map(\.enrollmentID))::text[], \(drafts.map(\.step))::int[],
                        \(drafts.map(\.subject))::text[], \(drafts.map(\.body))::text[], \(drafts.map(\.expiresAt))::timestamptz[],
                        \(drafts.map(\.expiryAction))::text[]) AS u(org, id, enr, step, subject, body, expires, action)
            ON CONFLICT (org_id, enrollment_id, step_index) DO NOTHING
            RETURNING id
            """, logger: logger
        ).decode(String.self).collect()
        let inserted = Set(made)
        let new = zip(ids, drafts).filter { inserted.contains($0.0) }
        try await EnrollmentStore.awaitDrafts(new.map(\.1), conn, logger: logger)
        try await Events.append(
            new.map { id, d in
                PendingEvent(
                    org: d.org, type: .draftCreated,
                    [
                        "draft_id": .string(id), "enrollment_id": .string(d.enrollmentID), "contact_id": .string(d.contactID),
                        "step_index": .number(Double(d.step)), "expires_at": .string(RFC3339.string(d.expiresAt)),
                        "expiry_action": .string(d.expiryAction),
                    ])
            }, at: now, on: conn, logger: logger)
    }

    /// Drafts whose time ran out, decided by their expiry action (by the dispatcher, which holds
    /// their enrollments and sends or skips the step in the same batch).
    package static func expire(
        _ drafts: [(org: String, id: String, enrollmentID: String, step: Int, action: String)], now: Date,
        _ conn: PostgresConnection, logger: Logger
    ) async throws {
        guard !drafts.isEmpty else { return }
        let decisions = drafts.map { $0.action == "send" ? "send" : "skip_step" }
        try await conn.query(
            """
            UPDATE drafts d SET state = 'expired', decision = u.decision, decided_at = \(now)
            FROM unnest(\(drafts.map(\.org))::text[], \(drafts.map(\.id))::text[], \(decisions)::text[]) AS u(org, id, decision)
            WHERE d.org_id = u.org AND d.id = u.id AND d.state = 'pending'
            """, logger: logger)
        try await Events.append(
            zip(drafts, decisions).map { d, decision in
                decidedEvent(org: d.org, id: d.id, enrollmentID: d.enrollmentID, step: d.step, decision: decision, by: nil, edited: false)
            }, at: now, on: conn, logger: logger)
    }
}
