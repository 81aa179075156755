import Foundation
import NudgeCore
import PostgresNIO

/// One claimed enrollment whose next step is due, with everything needed to act on it.
package struct DueStep: Sendable {
    package let org: String
    package let enrollmentID: String
    package let inboxID: String
    package let contactID: String
    package let recipient: String
    package let sequenceID: String?
    package let stepIndex: Int
    package let stepCount: Int
    package let step: Step
    package let nextStep: Step?
    package let dueAt: Date
    package let attempts: Int
    package let source: EnrollmentSource?
    package let threadID: String?
    package let inboxAddress: String
    package let inboxName: String?
    package let inboxTimezone: String
    package let window: SendWindow?
    /// The inbox's daily limit, ramped (`InboxPacing.ramp_up`) for today.
    package var dailyLimit: Int?
    package let contactName: String?
    package let contactFields: [String: String]
    package let contactTimezone: String?
    package let suppressed: Bool
    package var renderedSubject: String?
    package var renderedBody: String?
    package let firstAttemptAt: Date?
    package let sequenceName: String?
    /// "accepted" when an SMTP server took this step's email but the batch that sent it never
    /// recorded it (the worker died): it is recorded as sent, not sent again.
    package let deliveryStatus: String?
    /// The token whose send policy governs this enrollment, and that policy as it is now (nil
    /// when it sets nothing).
    package var policyTokenID: String? = nil
    package var policy: SendPolicy? = nil
    /// This step's approval draft, if it has one (its text then replaces the rendering).
    package var draft: Draft? = nil
    /// The inbox's pacing, whether it is paused, and when its next send slot opens.
    package var pacing: InboxPacing? = nil
    package var inboxPaused = false
    package var inboxNextSend: Date? = nil
    /// Above 0 when the inbox sends through its own SMTP account (that account's version).
    package var smtpVersion = 0

    package struct Draft: Sendable {
        package let id: String
        package let state: String
        package let decision: String?
        package let expiresAt: Date
        package let expiryAction: String
        /// Approved, or expired with `send`: the draft's text goes out.
        package var cleared: Bool { state == "approved" || (state == "expired" && decision == "send") }
    }
    package var acceptedEarlier: Bool { deliveryStatus == DeliveryStatus.accepted.rawValue }
    /// When the step was first due: its delivery row keeps this across retries.
    package var scheduledAt: Date { firstAttemptAt ?? dueAt }

    /// The claim: due, running, not held for a judgement, oldest first, locked so no other worker
    /// takes it (SKIP LOCKED), across all organizations. The partial index on next_due_at keeps
    /// this proportional to what is due. NO KEY UPDATE, so that rows referencing the enrollment
    /// (judgements) can still be inserted meanwhile; the acceptance marks, written on other
    /// connections mid-batch, no longer take a key lock at all (migration 0011).
    /// The enrollments are picked and locked first and only those `limit` rows are joined, each
    /// table through a LIMIT 1 lateral lookup by primary key: with the joins under the LIMIT, a
    /// burst of due rows the statistics did not know of yet made the planner join and sort every
    /// due row first (ops/bench scale: 367 ms per claim, 10,000 due among 1,000,000), and a plain
    /// join of the 200 let stale statistics pick hash joins that read whole tables. LIMIT 1 keeps
    /// each lookup an index probe the planner cannot flatten into such a join. The pick carries
    /// only narrow columns. The columns another worker's batch changes (next step, attempts,
    /// thread) come from the locked row version; the rest, which never change, from the row
    /// looked up again. A template enrollment's steps are its sequence version's (migration
    /// 0014), read by primary key in the same statement; the LIMIT 1 also makes PostgreSQL
    /// extract them once per row, not once for each of the three uses.
    ///
    /// The pick must walk `enrollments_due` in due order and stop after `limit` lockable rows.
    /// After a burst the statistics still expect a few due rows, and the planner then prefers a
    /// bitmap scan that reads and sorts every due row on each claim (`nudge explain claim` during
    /// ops/bench dispatch, 40,000 due: 125 ms per claim, all 40,000 rows; the index scan read 600
    /// rows, 200 of them taken, in 1-15 ms). So bitmap scans are off while the claim is planned,
    /// and work_mem leaves room for a sort of every due row should a plan still need one.
    /// `wroteEvents`: a damaged row was failed, with its event, in this transaction.
    package static func claim(
        now: Date, limit: Int, lane: ClaimLane = .all, _ conn: PostgresConnection, logger: Logger
    ) async throws -> (due: [DueStep], wroteEvents: Bool) {
        try await planTheClaim(conn, logger: logger)
        let rows = try await conn.query(claimQuery(now: now, limit: limit, lane: lane), logger: logger).collect()
        // The batch's other statements, in this transaction, plan as usual (an empty claim ends
        // the transaction, so an idle poll needs no reset).
        if !rows.isEmpty { try await conn.query("SELECT set_config('enable_bitmapscan', 'on', true)", logger: logger) }
        var steps = StepCache()
        var due: [DueStep] = []
        var wroteEvents = false
        due.reserveCapacity(rows.count)
        for row in rows {
            do {
                due.append(try decode(row, &steps, now: now))
            } catch let missing as MissingStep {
                // A damaged row (its step index past its steps): it fails, alone, instead of
                // failing every batch that claims it.
                wroteEvents = true
                _ = try await EnrollmentStore.finish(
                    org: missing.org, enrollmentIDs: [missing.enrollmentID], state: .failed, reason: nil,
                    detail: "step \(missing.stepIndex) does not exist in this enrollment's steps", now: now, conn, logger: logger)
            }
        }
        // Each token's policy as it is now, once per token of the batch (not a lookup per step).
        let policies = try await TokenStore.currentPolicies(due.compactMap { d in d.policyTokenID.map { (d.org, $0) } }, conn, logger: logger)
        for i in due.indices { due[i].policy = due[i].policyTokenID.flatMap { policies[$0] } }
        return (due, wroteEvents)
    }

    /// Which due steps a claim takes (README, "Connected mailboxes"). The dispatcher's shared
    /// loops take the relay's; each inbox with its own SMTP account is claimed on its own, so a
    /// slow account's open claim holds only its own steps. Any claim sends any step correctly
    /// (an account set or removed meanwhile is looked up at sending): the lanes are for isolation.
    package enum ClaimLane: Sendable {
        /// Everything due (the manual clock's drain, `nudge explain claim --lane all`).
        case all
        /// Steps of inboxes without their own account.
        case relay
        /// The steps of one inbox that go through its own account (`through_account`, migration 0033).
        case inbox(org: String, id: String)
    }

    /// A claimed enrollment whose next step index points past its steps.
    package struct MissingStep: Error {
        let org: String
        let enrollmentID: String
        let stepIndex: Int
    }

    /// Enrollments of one sequence carry the same step JSON: a batch decodes each text once.
    package struct StepCache {
        private var decoded: [String: Step] = [:]
        package mutating func step(_ json: String?) throws -> Step? {
            guard let json else { return nil }
            if let hit = decoded[json] { return hit }
            let step = try JSONCoding.decoder.decode(Step.self, from: Data(json.utf8))
            decoded[json] = step
            return step
        }
    }

    /// The claim's planner settings (see `claim`), for this transaction only.
    package static func planTheClaim(_ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query("SELECT set_config('work_mem', '32MB', true), set_config('enable_bitmapscan', 'off', true)", logger: logger)
    }

    package static func claimQuery(now: Date, limit: Int, lane: ClaimLane = .all) -> PostgresQuery {
        """
        WITH e AS (
            SELECT org_id, id, next_step, next_due_at, attempts, thread_id
            FROM enrollments
            WHERE state = 'active' AND next_due_at <= \(now) AND NOT held AND held_until IS NULL\(lane)
            ORDER BY next_due_at
            LIMIT \(limit)
            FOR NO KEY UPDATE SKIP LOCKED
        )
        SELECT e.org_id, e.id, f.inbox_id, f.contact_id, f.recipient, f.sequence_id, e.next_step,
               jsonb_array_length(coalesce(f.steps, v.steps)) AS step_count, (coalesce(f.steps, v.steps) -> e.next_step)::text AS step,
               (coalesce(f.steps, v.steps) -> (e.next_step + 1))::text AS next,
               e.next_due_at, e.attempts, f.source::text AS source, e.thread_id,
               i.address, i.display_name, i.timezone, i.send_window::text AS window, i.daily_send_limit,
               c.full_name, c.fields::text AS fields, c.timezone AS contact_tz,
               EXISTS (SELECT 1 FROM suppressions s WHERE s.org_id = e.org_id AND s.address_key = f.recipient_key) AS suppressed,
               d.rendered_subject, d.rendered_body, d.scheduled_at AS first_attempt, q.name AS sequence_name, d.status AS delivery_status,
               f.policy_token_id, dr.id AS draft_id, dr.state AS draft_state, dr.decision AS draft_decision,
               dr.subject AS draft_subject, dr.body AS draft_body, dr.expires_at AS draft_expires, dr.expiry_action AS draft_expiry_action,
               i.pacing::text AS inbox_pacing, i.paused_at IS NOT NULL AS inbox_paused, i.next_send_at AS inbox_next_send,
               to_char(i.ramp_started_on, 'YYYY-MM-DD') AS ramp_started_on, i.smtp_version
        FROM e
        CROSS JOIN LATERAL (SELECT * FROM enrollments f WHERE f.org_id = e.org_id AND f.id = e.id LIMIT 1) f
        CROSS JOIN LATERAL (SELECT * FROM inboxes i WHERE i.org_id = e.org_id AND i.id = f.inbox_id LIMIT 1) i
        CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.org_id = e.org_id AND c.id = f.contact_id LIMIT 1) c
        LEFT JOIN LATERAL (SELECT * FROM deliveries d WHERE d.org_id = e.org_id AND d.enrollment_id = e.id AND d.step_index = e.next_step LIMIT 1) d ON true
        LEFT JOIN LATERAL (SELECT * FROM sequences q WHERE q.org_id = e.org_id AND q.id = f.sequence_id LIMIT 1) q ON true
        LEFT JOIN LATERAL (SELECT v.definition -> 'steps' AS steps FROM sequence_versions v
          WHERE f.steps IS NULL AND v.org_id = e.org_id AND v.sequence_id = f.sequence_id AND v.version = f.sequence_version LIMIT 1) v ON true
        LEFT JOIN LATERAL (SELECT * FROM drafts dr
          WHERE f.draft_pending AND dr.org_id = e.org_id AND dr.enrollment_id = e.id AND dr.step_index = e.next_step LIMIT 1) dr ON true
        ORDER BY e.next_due_at
        """
    }

    package static func decode(_ row: PostgresRow, _ steps: inout StepCache, now: Date) throws -> DueStep {
        let r = row.makeRandomAccess()
        func json<T: Decodable>(_ col: String, _ t: T.Type) throws -> T? {
            try r[col].decode(String?.self).flatMap { try JSONCoding.decoder.decode(T.self, from: Data($0.utf8)) }
        }
        var due = DueStep(
            org: try r["org_id"].decode(String.self), enrollmentID: try r["id"].decode(String.self),
            inboxID: try r["inbox_id"].decode(String.self), contactID: try r["contact_id"].decode(String.self),
            recipient: try r["recipient"].decode(String.self), sequenceID: try r["sequence_id"].decode(String?.self),
            stepIndex: try r["next_step"].decode(Int.self), stepCount: try r["step_count"].decode(Int.self),
            step: try steps.step(r["step"].decode(String?.self))
                ?? {
                    throw MissingStep(
                        org: try r["org_id"].decode(String.self), enrollmentID: try r["id"].decode(String.self),
                        stepIndex: try r["next_step"].decode(Int.self))
                }(), nextStep: try steps.step(r["next"].decode(String?.self)),
            dueAt: try r["next_due_at"].decode(Date.self), attempts: try r["attempts"].decode(Int.self),
            source: try json("source", EnrollmentSource.self), threadID: try r["thread_id"].decode(String?.self),
            inboxAddress: try r["address"].decode(String.self), inboxName: try r["display_name"].decode(String?.self),
            inboxTimezone: try r["timezone"].decode(String.self), window: try json("window", SendWindow.self),
            dailyLimit: try r["daily_send_limit"].decode(Int?.self), contactName: try r["full_name"].decode(String?.self),
            contactFields: try json("fields", [String: String].self) ?? [:], contactTimezone: try r["contact_tz"].decode(String?.self),
            suppressed: try r["suppressed"].decode(Bool.self), renderedSubject: try r["rendered_subject"].decode(String?.self),
            renderedBody: try r["rendered_body"].decode(String?.self), firstAttemptAt: try r["first_attempt"].decode(Date?.self),
            sequenceName: try r["sequence_name"].decode(String?.self), deliveryStatus: try r["delivery_status"].decode(String?.self))
        due.policyTokenID = try r["policy_token_id"].decode(String?.self)
        due.pacing = InboxPacing.decode(try r["inbox_pacing"].decode(String?.self))
        due.inboxPaused = try r["inbox_paused"].decode(Bool.self)
        due.inboxNextSend = try r["inbox_next_send"].decode(Date?.self)
        due.smtpVersion = try r["smtp_version"].decode(Int.self)
        if let p = due.pacing, p.ramp_up != nil, let start = try r["ramp_started_on"].decode(String?.self) {
            due.dailyLimit = p.rampedLimit(due.dailyLimit, days: ScheduleMath.daysBetween(start, ScheduleMath.localDay(now, due.inboxTimeZone)))
        }
        if let id = try r["draft_id"].decode(String?.self) {
            due.draft = Draft(
                id: id, state: try r["draft_state"].decode(String.self), decision: try r["draft_decision"].decode(String?.self),
                expiresAt: try r["draft_expires"].decode(Date.self), expiryAction: try r["draft_expiry_action"].decode(String.self))
            due.renderedSubject = try r["draft_subject"].decode(String.self)
            due.renderedBody = try r["draft_body"].decode(String.self)
        }
        return due
    }

    /// Send windows apply in the contact's timezone when known, else the inbox's.
    package var sendingTimeZone: TimeZone {
        contactTimezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: inboxTimezone) ?? .gmt
    }
    package var inboxTimeZone: TimeZone { TimeZone(identifier: inboxTimezone) ?? .gmt }

    package init(
        org: String, enrollmentID: String, inboxID: String, contactID: String, recipient: String, sequenceID: String?, stepIndex: Int, stepCount: Int,
        step: Step, nextStep: Step?, dueAt: Date, attempts: Int, source: EnrollmentSource?, threadID: String?, inboxAddress: String,
        inboxName: String?, inboxTimezone: String, window: SendWindow?, dailyLimit: Int?, contactName: String?, contactFields: [String: String],
        contactTimezone: String?, suppressed: Bool, renderedSubject: String?, renderedBody: String?, firstAttemptAt: Date?, sequenceName: String?,
        deliveryStatus: String?
    ) {
        self.org = org
        self.enrollmentID = enrollmentID
        self.inboxID = inboxID
        self.contactID = contactID
        self.recipient = recipient
        self.sequenceID = sequenceID
        self.stepIndex = stepIndex
        self.stepCount = stepCount
        self.step = step
        self.nextStep = nextStep
        self.dueAt = dueAt
        self.attempts = attempts
        self.source = source
        self.threadID = threadID
        self.inboxAddress = inboxAddress
        self.inboxName = inboxName
        self.inboxTimezone = inboxTimezone
        self.window = window
        self.dailyLimit = dailyLimit
        self.contactName = contactName
        self.contactFields = contactFields
        self.contactTimezone = contactTimezone
        self.suppressed = suppressed
        self.renderedSubject = renderedSubject
        self.renderedBody = renderedBody
        self.firstAttemptAt = firstAttemptAt
        self.sequenceName = sequenceName
        self.deliveryStatus = deliveryStatus
    }
}

extension PostgresQuery.StringInterpolation {
    /// The claim's pick filter for `lane`, with its binds.
    mutating func appendInterpolation(_ lane: DueStep.ClaimLane) {
        switch lane {
        case .all: break
        case .relay:
            // A flag left set after the inbox's account was removed is checked against the
            // inbox (a scalar subquery: as NOT EXISTS the planner made it an anti join and sorted
            // every due row after it); the relay's own rows are not looked up.
            appendLiteral(
                " AND (NOT through_account OR coalesce((SELECT a.smtp IS NULL FROM inboxes a WHERE a.org_id = enrollments.org_id AND a.id = enrollments.inbox_id), true))"
            )
        case .inbox(let org, let id):
            appendLiteral(" AND through_account AND org_id = ")
            appendInterpolation(org)
            appendLiteral(" AND inbox_id = ")
            appendInterpolation(id)
        }
    }
}

extension DueStep {
    /// `nudge explain claim`: the plan of the dispatcher's claim at `now`, executed (ANALYZE takes
    /// the row locks, so a running dispatcher skips those rows meanwhile) and rolled back.
    package static func explainClaim(now: Date, limit: Int, lane: ClaimLane, db: Database) async throws -> String {
        try await db.system(rollback: true) { conn in
            try await DueStep.planTheClaim(conn, logger: db.logger)
            return try await conn.explainAnalyze(DueStep.claimQuery(now: now, limit: limit, lane: lane), logger: db.logger)
        }
    }
}
