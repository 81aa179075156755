import Foundation
import Logging
import Mustache
import NudgeCore
import NudgeMIME
import NudgeStore
import ServiceLifecycle

/// The LLM's second opinion on replies the rules could not label with confidence (only with an
/// LLM configured). The model's JSON answer replaces the label (`intent_source: llm`) and runs
/// the inbox's `reply_intent` rules for it; it never replaces a rule's `unsubscribe_request` and
/// never suppresses or ends anything itself. A model that keeps failing leaves the rules' label.
package struct IntentReviewer: Service {
    package let services: NudgeServices
    package static let maxAttempts = 4
    package static let batchSize = 20

    /// Replies whose rule label is below this confidence (or `other`) are reviewed.
    package static let threshold = 0.7

    package static func wanted(_ facts: ReplyFacts) -> Bool {
        facts.intent != "unsubscribe_request" && (facts.intent == "other" || facts.confidence < threshold)
    }

    package static let schema: JSONValue = .object([
        "type": "object", "additionalProperties": false, "required": .array(["intent", "confidence", "reason"]),
        "properties": .object([
            "intent": .object(["type": "string", "enum": .array(ReplyFacts.intents.map(JSONValue.string))]),
            "confidence": .object(["type": "number", "minimum": 0, "maximum": 1]),
            "reason": .object(["type": "string"]),
        ]),
    ])

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var worked = 0
            do { worked = try await runOnce() } catch { services.logger.warning("intent review failed", metadata: ["error": "\(error)"]) }
            if worked == 0 { try? await gracefulShutdownOrSleep(services.config.pollInterval) }
        }
    }

    /// Claims due reviews (leased for two minutes) and asks the model about each.
    @discardableResult
    package func runOnce() async throws -> Int {
        let now = services.clock.now()
        let due = try await services.db.system { [logger = services.logger] conn in
            try await HistoryStore.claimIntentReviews(now: now, leaseUntil: now.addingTimeInterval(120), limit: Self.batchSize, conn, logger: logger)
        }
        for r in due { try await review(r, now: now) }
        return due.count
    }

    package func drain() async throws {
        var rounds = 0
        while rounds < 1_000, try await runOnce() > 0 { rounds += 1 }
    }

    private func review(_ r: IntentReview, now: Date) async throws {
        let logger = services.logger
        guard let llm = services.llm, let prompts = services.prompts else {
            return try await services.db.tenant(r.org) {
                try await HistoryStore.deferIntentReview(org: r.org, id: r.id, retryAt: nil, $0, logger: logger)
            }
        }
        let vars: [String: Any] = [
            "from": r.from, "subject": String(Composer.oneLine(r.subject).prefix(300)), "text": Prompts.quote(r.text, limit: 6_000),
        ]
        let request = LLMRequest(
            system: prompts.intentSystem.render(vars), user: prompts.intentUser.render(vars), schemaName: "reply_intent", schema: Self.schema,
            maxTokens: 120)
        do {
            let response = try await llm.complete(request)
            let (intent, confidence) = try Self.label(response.object)
            // The model names no one: a referral's people are those the reply's text names.
            let referred = intent == "referral" ? Referral.referred(in: r.text, sender: r.from) : []
            let call = LLMCall(org: r.org, purpose: .replyIntent, enrollmentID: nil, request: request, response: response)
            try await services.db.tenant(r.org) { conn in
                try await LLMCallStore.insert(call, now: now, conn, logger: logger)
                guard
                    try await HistoryStore.labelIntent(
                        org: r.org, id: r.id, intent: intent, confidence: confidence, referrals: Referred.json(referred), conn, logger: logger),
                    intent != r.intent, let contactID = r.contactID
                else { return }
                _ = try await services.rules.fire(
                    org: r.org,
                    .init(
                        inboxID: r.inboxID, intent: intent, contactID: contactID, sender: r.from, messageID: r.id, threadID: r.threadID,
                        referrals: Referred.enrollable(referred)),
                    now: now, conn)
            }
        } catch {
            // Back off 30 s, 1, 2 minutes; then the rules' label stays.
            let retry = r.attempts >= Self.maxAttempts ? nil : now.addingTimeInterval(30 * pow(2, Double(r.attempts - 1)))
            logger.info("intent review not applied", metadata: ["message_id": "\(r.id)", "error": "\(error)"])
            try await services.db.tenant(r.org) { try await HistoryStore.deferIntentReview(org: r.org, id: r.id, retryAt: retry, $0, logger: logger) }
        }
    }

    /// The model's answer, checked: one of the intents, a confidence clamped to 0...1.
    package static func label(_ o: [String: JSONValue]) throws -> (String, Double) {
        guard let intent = o["intent"]?.string, ReplyFacts.intents.contains(intent) else {
            throw LLMError.invalidOutput("intent is not one of the labels")
        }
        guard let confidence = o["confidence"]?.number, confidence.isFinite else { throw LLMError.invalidOutput("no confidence") }
        return (intent, min(1, max(0, confidence)))
    }
}
