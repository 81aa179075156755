import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// One model call as the audit keeps it: model, latency, tokens and a hash of the prompt (never
/// the prompt itself).
package struct LLMCall: Sendable {
    package enum Purpose: String, Sendable {
        case writeStep = "write_step"
        case judge
        case replyIntent = "reply_intent"
    }

    package let org: String
    package let purpose: Purpose
    package let enrollmentID: String?
    package let model: String
    package let outcome: String
    package let latencyMS: Int
    package let promptTokens: Int?
    package let completionTokens: Int?
    package let promptHash: String

    package init(
        org: String, purpose: Purpose, enrollmentID: String?, model: String, outcome: String, latencyMS: Int,
        promptTokens: Int?, completionTokens: Int?, promptHash: String
    ) {
        self.org = org
        self.purpose = purpose
        self.enrollmentID = enrollmentID
        self.model = model
        self.outcome = outcome
        self.latencyMS = latencyMS
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.promptHash = promptHash
    }
}

/// Owns `llm_calls`.
package enum LLMCallStore {
    package static func insert(_ call: LLMCall, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            INSERT INTO llm_calls (org_id, id, purpose, enrollment_id, model, outcome, latency_ms, prompt_tokens, completion_tokens, prompt_sha256, created_at)
            VALUES (\(call.org), \(ID.make(.aud)), \(call.purpose.rawValue), \(call.enrollmentID), \(call.model), \(call.outcome), \(call.latencyMS),
                    \(call.promptTokens), \(call.completionTokens), \(call.promptHash), \(now))
            """, logger: logger)
    }

    /// Removes up to `limit` of the organization's call records made before `before`.
    package static func purge(org: String, before: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws -> Int {
        try await conn.query(
            """
            DELETE FROM llm_calls c USING (
              SELECT org_id, id FROM llm_calls WHERE org_id = \(org) AND created_at < \(before) ORDER BY created_at LIMIT \(limit)) old
            WHERE c.org_id = old.org_id AND c.id = old.id
            RETURNING c.id
            """, logger: logger
        ).collect().count
    }
}
