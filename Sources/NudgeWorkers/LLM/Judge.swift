import Foundation
import Logging
import Mustache
import NudgeCore
import NudgeStore
import ServiceLifecycle

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

    package var store: JudgementStore { JudgementStore(db: db) }

    /// Claims due judgements (leased for two minutes), asks the model, applies the verdicts.
    @discardableResult
    public func runOnce() async throws -> Int {
        let now = services.clock.now()
        let pending = try await store.claim(now: now, leaseUntil: now.addingTimeInterval(120), limit: 20)
        for p in pending { try await judge(p, now: now) }
        return pending.count
    }

    package func judge(_ p: PendingJudgement, now: Date) async throws {
        guard let condition = p.condition else { return try await apply(p, exit: false, reason: "no exit condition", now: now) }
        guard let llm = services.llm, let prompts = services.prompts else { return try await failed(p, error: "no LLM configured", now: now) }
        let vars: [String: Any] = [
            "condition": condition, "from": p.from, "subject": p.subject, "classification": p.classification,
            "text": Prompts.quote(p.text, limit: 6_000),
        ]
        let request = LLMRequest(
            system: prompts.judgeSystem.render(vars), user: prompts.judgeUser.render(vars), schemaName: "exit_judgement",
            schema: Self.schema, maxTokens: 200)
        do {
            let response = try await llm.complete(request)
            guard let exit = response.object["exit"]?.bool else { throw LLMError.invalidOutput("no verdict") }
            let reason = Composer.oneLine(response.object["reason"]?.string ?? "").prefix(500)
            try await apply(
                p, exit: exit, reason: String(reason), now: now,
                audit: LLMCall(org: p.org, purpose: .judge, enrollmentID: p.enrollmentID, request: request, response: response))
        } catch {
            if p.attempts >= Self.maxAttempts {
                try await failed(p, error: "\(error)", now: now)
            } else {
                // Back off: 30 s, 1, 2, 4 minutes.
                let delay = 30 * pow(2, Double(p.attempts - 1))
                try await store.retry(p, at: now.addingTimeInterval(delay))
            }
        }
    }

    package func apply(_ p: PendingJudgement, exit: Bool, reason: String, now: Date, audit: LLMCall? = nil) async throws {
        try await store.decide(p, exit: exit, reason: reason, call: audit, now: now)
    }

    package func failed(_ p: PendingJudgement, error: String, now: Date) async throws {
        try await store.fail(p, error: error, now: now)
    }

    public func drain() async throws {
        var rounds = 0
        while rounds < 1_000, try await runOnce() > 0 { rounds += 1 }
    }
}
