import Crypto
import Foundation
import Logging
import Metrics
import PostgresNIO
import NudgeCore
import NudgeStore

/// Writes a prompt step at send time and keeps the result. A step is never sent unwritten: while
/// the endpoint is down (refused, 5xx, 429, timeouts through every retry) the step stays due and is
/// tried again every few minutes, so sending resumes by itself when the model is back; a model
/// that answers with unusable output pauses the enrollment (`llm_unavailable`) for a person to
/// look at, and `resume` tries again.
package struct StepRendering {
    package let services: NudgeServices
    package var db: Database { services.db }
    package var logger: Logger { services.logger }

    package static let schema: JSONValue = .object([
        "type": "object", "additionalProperties": false, "required": .array(["subject", "body"]),
        // maxLength bounds the output; grammar-constrained servers also use it to stop a rambling model.
        "properties": .object(["subject": .object(["type": "string", "maxLength": 150]), "body": .object(["type": "string", "maxLength": 1500])]),
    ])

    package func renderAll(_ due: [DueStep], now: Date) async throws {
        for d in due {
            do {
                let context = try await db.tenant(d.org) { try await contextFor(d, $0) }
                let (subject, body, audit) = try await write(d, context: context)
                try await db.tenant(d.org) { conn in
                    try await conn.query("""
                        INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, status, scheduled_at, rendered_subject, rendered_body)
                        VALUES (\(d.org), \(d.enrollmentID), \(d.stepIndex), 'email', 'rendered', \(d.dueAt), \(subject), \(body))
                        ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET rendered_subject = EXCLUDED.rendered_subject, rendered_body = EXCLUDED.rendered_body
                        """, logger: logger)
                    try await conn.query("UPDATE enrollments SET next_due_at = \(now) WHERE org_id = \(d.org) AND id = \(d.enrollmentID) AND state = 'active'", logger: logger)
                    try await audit.insert(conn, logger: logger, now: now)
                }
            } catch LLMError.unavailable(let why) {
                // The claim left it due again in a few minutes (the lease): it waits for the model.
                Counter(label: "nudge_llm_steps_waiting_total").increment()
                logger.warning("prompt step waits for the LLM endpoint", metadata: ["enrollment_id": "\(d.enrollmentID)", "error": "\(why)"])
            } catch {
                logger.warning("prompt step not written", metadata: ["enrollment_id": "\(d.enrollmentID)", "error": "\(error)"])
                try await pause(d, reason: "\(error)", now: now)
            }
        }
    }

    package func pause(_ d: DueStep, reason: String, now: Date) async throws {
        try await db.tenant(d.org) { conn in
            let rows = try await conn.query("""
                UPDATE enrollments SET state = 'paused', exit_detail = \(String(reason.prefix(500))), updated_at = \(now)
                WHERE org_id = \(d.org) AND id = \(d.enrollmentID) AND state = 'active' RETURNING id
                """, logger: logger).collect()
            if !rows.isEmpty {
                try await Events.append([PendingEvent(org: d.org, type: .enrollmentPaused, ["enrollment_id": .string(d.enrollmentID), "contact_id": .string(d.contactID), "reason": .string("llm_unavailable"), "detail": .string(String(reason.prefix(500)))])],
                                        at: now, on: conn, logger: logger)
            }
        }
    }

    package struct Context {
        package var sourceText: String?
        package var threadText: String?
    }

    /// The source message's new text and the thread's latest messages (newest last), trimmed to a budget.
    package func contextFor(_ d: DueStep, _ conn: PostgresConnection) async throws -> Context {
        var c = Context()
        if let mid = d.source?.message_id {
            c.sourceText = try await conn.query("SELECT coalesce(nullif(reply_text, ''), text_body) FROM messages WHERE org_id = \(d.org) AND id = \(mid)", logger: logger)
                .decode(String.self).collect().first
        }
        if let tid = d.threadID {
            let rows = try await conn.query("""
                SELECT direction, from_address, subject, coalesce(nullif(reply_text, ''), text_body) FROM messages
                WHERE org_id = \(d.org) AND thread_id = \(tid) ORDER BY at DESC, created_at DESC LIMIT 6
                """, logger: logger).decode((String, String, String, String).self).collect()
            var budget = 6_000
            var parts: [String] = []
            for (dir, from, subject, text) in rows {
                let entry = "[\(dir == "inbound" ? "from" : "sent by") \(from), subject: \(subject)]\n\(text.prefix(2_000))"
                guard budget - entry.count > 0 else { break }
                budget -= entry.count
                parts.insert(entry, at: 0)
            }
            if !parts.isEmpty { c.threadText = parts.joined(separator: "\n\n") }
        }
        return c
    }

    package func write(_ d: DueStep, context: Context) async throws -> (String?, String, LLMAudit) {
        guard let llm = services.llm, let prompts = services.prompts else { throw LLMError.unavailable("no LLM configured") }
        let fields = d.contactFields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        let vars: [String: Any] = [
            "instruction": d.step.prompt ?? "",
            "contact": ["full_name": d.contactName ?? "", "email": d.recipient],
            "inbox": ["display_name": d.inboxName ?? d.inboxAddress, "address": d.inboxAddress],
            "has_fields": !fields.isEmpty, "fields_text": Prompts.quote(fields, limit: 2_000),
            "has_source": d.source != nil,
            "source": ["subject": d.source?.subject ?? "", "from_address": d.source?.from_address ?? "", "text": Prompts.quote(context.sourceText ?? "", limit: 4_000)],
            "has_thread": context.threadText != nil, "thread_text": Prompts.quote(context.threadText ?? "", limit: 6_000),
        ]
        let request = LLMRequest(system: prompts.writeSystem.render(vars), user: prompts.writeUser.render(vars), schemaName: "follow_up_email",
                                 schema: Self.schema, maxTokens: 700)
        let response = try await llm.complete(request)
        let audit = LLMAudit(org: d.org, purpose: "write_step", enrollmentID: d.enrollmentID, request: request, response: response)
        let (subject, body) = try OutputGuard.check(subject: response.object["subject"]?.string, body: response.object["body"]?.string)
        return (d.step.subject ?? subject, body, audit)
    }

    package init(services: NudgeServices) {
        self.services = services
    }
}

/// What the model wrote must be plain, bounded text. It only ever becomes the body (and, when the
/// step has none, the subject): it can never choose recipients or headers.
package enum OutputGuard {
    package static func check(subject: String?, body: String?) throws -> (String?, String) {
        guard let body = body?.trimmingCharacters(in: .whitespacesAndNewlines), !body.isEmpty else { throw LLMError.invalidOutput("empty body") }
        guard body.count <= 5_000 else { throw LLMError.invalidOutput("body too long") }
        let lower = body.lowercased()
        if lower.contains("<html") || lower.contains("<body") || lower.contains("</p>") || lower.contains("<br") { throw LLMError.invalidOutput("body is HTML") }
        if body.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) { throw LLMError.invalidOutput("control characters") }
        let cleanBody = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var cleanSubject = subject.map(Composer.oneLine)
        if let s = cleanSubject, s.isEmpty || s.count > 200 || s.unicodeScalars.contains(where: { $0.value < 0x20 }) { cleanSubject = nil }
        return (cleanSubject, cleanBody)
    }
}

/// An audit record per model call: model, latency, tokens and a hash of the prompt (not the prompt).
package struct LLMAudit: Sendable {
    package let org: String
    package let purpose: String
    package let enrollmentID: String?
    package let model: String
    package let outcome: String
    package let latencyMS: Int
    package let promptTokens: Int?
    package let completionTokens: Int?
    package let promptHash: String

    package init(org: String, purpose: String, enrollmentID: String?, request: LLMRequest, response: LLMResponse?, outcome: String = "success") {
        self.org = org
        self.purpose = purpose
        self.enrollmentID = enrollmentID
        self.model = response?.model ?? "unknown"
        self.outcome = outcome
        self.latencyMS = response.map { Int($0.latency.nanoseconds / 1_000_000) } ?? 0
        self.promptTokens = response?.promptTokens
        self.completionTokens = response?.completionTokens
        self.promptHash = SHA256.hash(data: Data((request.system + "\n" + request.user).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    package func insert(_ conn: PostgresConnection, logger: Logger, now: Date) async throws {
        try await conn.query("""
            INSERT INTO llm_calls (org_id, id, purpose, enrollment_id, model, outcome, latency_ms, prompt_tokens, completion_tokens, prompt_sha256, created_at)
            VALUES (\(org), \(ID.make(.aud)), \(purpose), \(enrollmentID), \(model), \(outcome), \(latencyMS), \(promptTokens), \(completionTokens), \(promptHash), \(now))
            """, logger: logger)
    }
}
