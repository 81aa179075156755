import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import ServiceLifecycle
import Synchronization

/// A real OpenAI-compatible HTTP endpoint whose answers each test scripts: status, headers, a
/// delay and the message content (or a raw body). Records every request it receives.
final class ScriptedLLM: Sendable {
    struct Answer: Sendable {
        var status = 200
        var headers: [String: String] = [:]
        var delay: Duration = .zero
        var content: String? = nil  // becomes choices[0].message.content
        var rawBody: String? = nil  // sent as is instead

        static func json(_ object: String) -> Answer { Answer(content: object) }
        static func status(_ code: Int, headers: [String: String] = [:]) -> Answer {
            Answer(status: code, headers: headers, rawBody: #"{"error": "scripted"}"#)
        }
    }

    private let queue = Mutex<[Answer]>([])
    private let fallback = Mutex<Answer>(.status(500))
    let requests = Mutex<[JSONValue]>([])
    /// Reply-intent reviews (json_schema `reply_intent`) have their own script and record, so
    /// tests of steps and judgements see only their own requests.
    private let intentQueue = Mutex<[Answer]>([])
    private let intentFallback = Mutex<Answer>(.json(#"{"intent": "other", "confidence": 0, "reason": "scripted"}"#))
    let intentRequests = Mutex<[JSONValue]>([])
    private let portBox = Mutex<Int>(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    var url: String { "http://127.0.0.1:\(portBox.withLock { $0 })/v1" }

    func script(_ answers: Answer...) { queue.withLock { $0 += answers } }
    func scriptIntent(_ answers: Answer...) { intentQueue.withLock { $0 += answers } }
    func setIntentFallback(_ a: Answer) { intentFallback.withLock { $0 = a } }
    var intentReceived: [JSONValue] { intentRequests.withLock { $0 } }
    func setFallback(_ a: Answer) { fallback.withLock { $0 = a } }
    var received: [JSONValue] { requests.withLock { $0 } }

    static func start() async throws -> ScriptedLLM {
        let llm = ScriptedLLM()
        let router = Router()
        router.post("/v1/chat/completions") { req, _ -> Response in
            let body = try await req.body.collect(upTo: 1 << 22)
            let json = JSONValue.parse(String(buffer: body)) ?? .null
            let answer: Answer
            if json["response_format"]?["json_schema"]?["name"]?.string == "reply_intent" {
                llm.intentRequests.withLock { $0.append(json) }
                answer = llm.intentQueue.withLock { q in q.isEmpty ? nil : q.removeFirst() } ?? llm.intentFallback.withLock { $0 }
            } else {
                llm.requests.withLock { $0.append(json) }
                answer = llm.queue.withLock { q in q.isEmpty ? nil : q.removeFirst() } ?? llm.fallback.withLock { $0 }
            }
            if answer.delay > .zero { try await Task.sleep(for: answer.delay) }
            var text = answer.rawBody ?? ""
            if let content = answer.content {
                text =
                    JSONValue.object([
                        "id": "chatcmpl-test", "model": "scripted", "object": "chat.completion",
                        "choices": .array([
                            .object(["index": 0, "message": .object(["role": "assistant", "content": .string(content)]), "finish_reason": "stop"])
                        ]),
                        "usage": .object(["prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49]),
                    ]).serialized
            }
            var headers: HTTPFields = [.contentType: "application/json"]
            for (k, v) in answer.headers { headers[HTTPField.Name(k)!] = v }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let ready = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) })
        llm.task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for await port in ready.stream {
            llm.portBox.withLock { $0 = port }
            break
        }
        return llm
    }

    func stop() { task.withLock { $0?.cancel() } }

    /// The user message of the n-th request.
    func userMessage(_ n: Int) -> String {
        guard case .array(let msgs)? = received[n]["messages"] else { return "" }
        return msgs.last?["content"]?.string ?? ""
    }

    /// The user message of the n-th reply-intent review.
    func intentUserMessage(_ n: Int) -> String {
        guard case .array(let msgs)? = intentReceived[n]["messages"] else { return "" }
        return msgs.last?["content"]?.string ?? ""
    }
}
