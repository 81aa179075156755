import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import NudgeCore
import NudgeStore

/// Judges inbound messages against enrollments' exit conditions. While a judgement is pending the
/// contact's enrollments are held (the dispatcher sends them nothing). `exit: true` exits the
/// enrollment (`exit_condition`); `false` releases the hold. A judgement that keeps failing pauses
/// the enrollment with `needs_review`: never silently continue, never silently stop.
public struct Judge: Service {
    package let services: NudgeServices
    package var db: Database { services.db }
    package var logger: Logger { services.logger }
    package static let maxAttempts = 5

    public init(services: NudgeServices) { self.services = services }

    package static let schema: JSONValue = .object([
        "type": "object", "additionalProperties": false, "required": .array(["exit", "reason"]),
        "properties": .object(["exit": .object(["type": "boolean"]), "reason": .object(["type": "string"])]),
    ])

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var worked = 0
            do { worked = try await runOnce() } catch { logger.warning("judge batch failed", metadata: ["error": "\(error)"]) }
            if worked == 0 { try? await gracefulShutdownOrSleep(services.config.pollInterval) }
        }
    }

    package struct Pending: Sendable {
        package let org, id, messageID, enrollmentID, contactID: String
        package let attempts: Int
        package let condition: String?
        package let from, subject, classification, text: String
    }

    /// Claims due judgements (leased for two minutes), asks the model, applies the verdicts.
    @discardableResult
    public func runOnce() async throws -> Int {
        let now = services.clock.now()
        // One statement: claim, lease and read what the judge needs, with no per-row round trips.
        let pending: [Pending] = try await db.system { conn in
            try await conn.query("""
                WITH due AS (
                  SELECT org_id, id FROM judgements WHERE state = 'pending' AND next_attempt_at <= \(now)
                  ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED),
                claimed AS (
                  UPDATE judgements j SET next_attempt_at = \(now.addingTimeInterval(120)), attempts = j.attempts + 1
                  FROM due WHERE j.org_id = due.org_id AND j.id = due.id
                  RETURNING j.org_id, j.id, j.message_id, j.enrollment_id, j.contact_id, j.attempts)
                SELECT c.org_id, c.id, c.message_id, c.enrollment_id, c.contact_id, c.attempts, e.exit_condition_prompt,
                       m.from_address, m.subject, coalesce(m.classification, 'other'), coalesce(nullif(m.reply_text, ''), m.text_body)
                FROM claimed c
                JOIN enrollments e ON e.org_id = c.org_id AND e.id = c.enrollment_id
                JOIN messages m ON m.org_id = c.org_id AND m.id = c.message_id
                """, logger: logger).decode((String, String, String, String, String, Int, String?, String, String, String, String).self).collect()
                .map { Pending(org: $0.0, id: $0.1, messageID: $0.2, enrollmentID: $0.3, contactID: $0.4, attempts: $0.5, condition: $0.6,
                               from: $0.7, subject: $0.8, classification: $0.9, text: $0.10) }
        }
        for p in pending { try await judge(p, now: now) }
        return pending.count
    }

    package func judge(_ p: Pending, now: Date) async throws {
        guard let condition = p.condition else { return try await apply(p, exit: false, reason: "no exit condition", now: now) }
        guard let llm = services.llm, let prompts = services.prompts else { return try await failed(p, error: "no LLM configured", now: now) }
        let vars: [String: Any] = ["condition": condition, "from": p.from, "subject": p.subject, "classification": p.classification,
                                   "text": Prompts.quote(p.text, limit: 6_000)]
        let request = LLMRequest(system: prompts.judgeSystem.render(vars), user: prompts.judgeUser.render(vars), schemaName: "exit_judgement",
                                 schema: Self.schema, maxTokens: 200)
        do {
            let response = try await llm.complete(request)
            guard let exit = response.object["exit"]?.bool else { throw LLMError.invalidOutput("no verdict") }
            let reason = Composer.oneLine(response.object["reason"]?.string ?? "").prefix(500)
            try await apply(p, exit: exit, reason: String(reason), now: now,
                            audit: LLMAudit(org: p.org, purpose: "judge", enrollmentID: p.enrollmentID, request: request, response: response))
        } catch {
            if p.attempts >= Self.maxAttempts { try await failed(p, error: "\(error)", now: now) }
            else {
                // Back off: 30 s, 1, 2, 4 minutes.
                let delay = 30 * pow(2, Double(p.attempts - 1))
                try await db.tenant(p.org) { conn in
                    try await conn.query("UPDATE judgements SET next_attempt_at = \(now.addingTimeInterval(delay)) WHERE org_id = \(p.org) AND id = \(p.id)", logger: logger)
                }
            }
        }
    }

    package func apply(_ p: Pending, exit: Bool, reason: String, now: Date, audit: LLMAudit? = nil) async throws {
        try await db.tenant(p.org) { conn in
            try await conn.query("UPDATE judgements SET state = 'done', verdict = \(exit), reason = \(reason) WHERE org_id = \(p.org) AND id = \(p.id)", logger: logger)
            if exit {
                _ = try await EnrollmentStore.finish(org: p.org, enrollmentIDs: [p.enrollmentID], state: .exited, reason: ExitReason.exit_condition.rawValue,
                                                     detail: "\(reason) (message \(p.messageID))", now: now, conn, logger: logger)
            }
            try await audit?.insert(conn, logger: logger, now: now)
            try await Self.release(org: p.org, contactID: p.contactID, conn, logger: logger)
        }
    }

    package func failed(_ p: Pending, error: String, now: Date) async throws {
        try await db.tenant(p.org) { conn in
            try await conn.query("UPDATE judgements SET state = 'failed', reason = \(String(error.prefix(500))) WHERE org_id = \(p.org) AND id = \(p.id)", logger: logger)
            let paused = try await conn.query("""
                UPDATE enrollments SET state = 'paused', exit_detail = \("needs_review: the exit condition could not be judged for message \(p.messageID) (\(error.prefix(300)))"), updated_at = \(now)
                WHERE org_id = \(p.org) AND id = \(p.enrollmentID) AND state = 'active' RETURNING id
                """, logger: logger).collect()
            var events = [PendingEvent(org: p.org, type: .judgementFailed, ["enrollment_id": .string(p.enrollmentID), "message_id": .string(p.messageID), "error": .string(String(error.prefix(300)))])]
            if !paused.isEmpty {
                events.append(PendingEvent(org: p.org, type: .enrollmentPaused, ["enrollment_id": .string(p.enrollmentID), "contact_id": .string(p.contactID), "reason": "needs_review"]))
            }
            try await Events.append(events, at: now, on: conn, logger: logger)
            try await Self.release(org: p.org, contactID: p.contactID, conn, logger: logger)
        }
    }

    /// Lifts the send hold on a contact once none of its messages awaits judgement.
    package static func release(org: String, contactID: String, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query("""
            UPDATE enrollments SET held = false WHERE org_id = \(org) AND contact_id = \(contactID) AND held
            AND NOT EXISTS (SELECT 1 FROM judgements j WHERE j.org_id = \(org) AND j.contact_id = \(contactID) AND j.state = 'pending')
            """, logger: logger)
    }

    public func drain() async throws {
        var rounds = 0
        while rounds < 1_000, try await runOnce() > 0 { rounds += 1 }
    }
}
