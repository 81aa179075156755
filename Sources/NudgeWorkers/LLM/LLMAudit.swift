import Crypto
import Foundation
import NudgeCore
import NudgeStore

extension LLMCall {
    /// The audit record of one model call: model, latency, tokens and a hash of the prompt (not the prompt).
    package init(org: String, purpose: Purpose, enrollmentID: String?, request: LLMRequest, response: LLMResponse?, outcome: String = "success") {
        self.init(
            org: org, purpose: purpose, enrollmentID: enrollmentID, model: response?.model ?? "unknown", outcome: outcome,
            latencyMS: response.map { Int($0.latency.nanoseconds / 1_000_000) } ?? 0,
            promptTokens: response?.promptTokens, completionTokens: response?.completionTokens,
            promptHash: SHA256.hash(data: Data((request.system + "\n" + request.user).utf8)).map { String(format: "%02x", $0) }.joined())
    }
}
