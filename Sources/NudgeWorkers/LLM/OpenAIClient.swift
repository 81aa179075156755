import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NudgeCore
import NudgeStore

/// An OpenAI-compatible `/chat/completions` client: bearer key, connect and total timeouts,
/// jittered exponential retries on 429 (honouring Retry-After), 5xx, timeouts and connection
/// errors, a per-process concurrency limit, and strict checking of the structured output.
public final class OpenAIClient: LLMClient {
    package let settings: LLMSettings
    package let http: HTTPClient
    package let limiter: ConcurrencyLimiter
    package let logger: Logger
    package let backoffBase: Double

    public init(settings: LLMSettings, logger: Logger, backoffBase: Double = 0.5) {
        self.settings = settings
        self.logger = logger
        self.backoffBase = backoffBase
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .nanoseconds(settings.connectTimeout.nanoseconds), read: .nanoseconds(settings.requestTimeout.nanoseconds))
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.limiter = ConcurrencyLimiter(limit: settings.concurrency)
    }

    deinit { try? http.syncShutdown() }

    package struct Transient: Error {
        let reason: String
        let retryAfter: Double?
    }

    public func complete(_ request: LLMRequest) async throws -> LLMResponse {
        try await limiter.run { try await completeWithRetries(request) }
    }

    package func completeWithRetries(_ request: LLMRequest) async throws -> LLMResponse {
        var last = "no attempt"
        for attempt in 1...settings.maxAttempts {
            let started = ContinuousClock.now
            do {
                let response = try await once(request, started: started)
                record("success", started)
                return response
            } catch let t as Transient {
                record("retry", started)
                last = t.reason
                guard attempt < settings.maxAttempts else { break }
                let backoff = t.retryAfter.map { min($0, 30) } ?? backoffBase * pow(2, Double(attempt - 1)) * Double.random(in: 0.5...1.5)
                try await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
            } catch {
                record("invalid_output", started)
                throw error
            }
        }
        Counter(label: "nudge_llm_calls_total", dimensions: [("outcome", "unavailable")]).increment()
        throw LLMError.unavailable(last)
    }

    private func record(_ outcome: String, _ started: ContinuousClock.Instant) {
        Counter(label: "nudge_llm_calls_total", dimensions: [("outcome", outcome)]).increment()
        Timer(label: "nudge_llm_latency_seconds", preferredDisplayUnit: .seconds).recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }

    package func once(_ request: LLMRequest, started: ContinuousClock.Instant) async throws -> LLMResponse {
        let body: JSONValue = .object([
            "model": .string(settings.model),
            "messages": .array([
                .object(["role": "system", "content": .string(request.system)]),
                .object(["role": "user", "content": .string(request.user)]),
            ]),
            "temperature": .number(0.2),
            "max_tokens": .number(Double(request.maxTokens)),
            "response_format": .object([
                "type": "json_schema",
                "json_schema": .object(["name": .string(request.schemaName), "strict": true, "schema": request.schema]),
            ]),
        ])
        var req = HTTPClientRequest(url: settings.url.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/chat/completions")
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        if let key = settings.apiKey { req.headers.add(name: "Authorization", value: "Bearer \(key)") }
        req.body = .bytes(ByteBuffer(string: body.serialized))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(req, timeout: .nanoseconds(settings.requestTimeout.nanoseconds))
        } catch {
            throw Transient(reason: "request failed: \(error)", retryAfter: nil)
        }
        let bytes: ByteBuffer
        do { bytes = try await response.body.collect(upTo: 4 << 20) } catch { throw Transient(reason: "reading the answer failed", retryAfter: nil) }
        let code = Int(response.status.code)
        if code == 429 || code >= 500 {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
            throw Transient(reason: "HTTP \(code)", retryAfter: retryAfter)
        }
        guard code == 200 else { throw LLMError.invalidOutput("HTTP \(code)") }
        guard let json = JSONValue.parse(String(buffer: bytes)),
            case .array(let choices)? = json["choices"], let content = choices.first?["message"]?["content"]?.string
        else {
            throw LLMError.invalidOutput("no message content in the answer")
        }
        guard case .object(let object)? = JSONValue.parse(content) else {
            let finish = choices.first?["finish_reason"]?.string ?? "unknown"
            throw LLMError.invalidOutput("content is not a JSON object (finish_reason \(finish), \(content.count) characters)")
        }
        try SchemaCheck.validate(object, against: request.schema)
        let usage = json["usage"]
        if let p = usage?["prompt_tokens"]?.number {
            Counter(label: "nudge_llm_tokens_total", dimensions: [("kind", "prompt")]).increment(by: Int(p))
        }
        if let c = usage?["completion_tokens"]?.number {
            Counter(label: "nudge_llm_tokens_total", dimensions: [("kind", "completion")]).increment(by: Int(c))
        }
        return LLMResponse(
            object: object, model: json["model"]?.string ?? settings.model,
            promptTokens: usage?["prompt_tokens"]?.number.map { Int($0) }, completionTokens: usage?["completion_tokens"]?.number.map { Int($0) },
            latency: ContinuousClock.now - started)
    }
}

/// At most `limit` calls in flight per process; the rest wait their turn.
package actor ConcurrencyLimiter {
    package let limit: Int
    package var running = 0
    package var waiters: [CheckedContinuation<Void, Never>] = []

    package init(limit: Int) { self.limit = max(1, limit) }

    package func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if running >= limit { await withCheckedContinuation { waiters.append($0) } } else { running += 1 }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiters.isEmpty { running -= 1 } else { waiters.removeFirst().resume() }
    }
}
