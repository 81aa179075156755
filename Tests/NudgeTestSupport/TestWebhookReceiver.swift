import Foundation

/// Runs webhook_receiver.py (next to this file) with the pinned standardwebhooks venv
/// (`ops/lib.sh`, `ensure_webhooks_venv`): a real HTTP server on 127.0.0.1 that verifies every
/// delivery independently. `stop()` and `start()` take it down and bring it back on its port.
public final class TestWebhookReceiver: @unchecked Sendable {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let python = root.appendingPathComponent(".venv-webhooks/bin/python").path
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("webhook_receiver.py").path

    public let directory: URL
    public private(set) var port = 0
    private var server: PythonServer?

    public struct Delivery: Sendable {
        public let id: String
        public let timestamp: Int
        public let type: String
        /// Indexes (in `secrets`) of the secrets that verify this delivery, per standardwebhooks.
        public let verified: [Int]
        public let signatures: Int
        public let answered: Int
        public let body: String
    }

    public init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-webhooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Starts the server, on the port it had before if any.
    public func start() async throws {
        let started = try await PythonServer.start(
            python: Self.python, arguments: [Self.script, "--dir", directory.path, "--port", String(port)], directory: directory)
        port = started.port
        server = started
    }

    public func stop() { server?.stop() }

    /// The secrets each delivery is verified with.
    public func setSecrets(_ secrets: [String]) throws {
        try JSONSerialization.data(withJSONObject: secrets).write(to: directory.appendingPathComponent("secrets.json"))
    }

    /// "ok"; "<status>" (500, 410, 404...); "429 <seconds>" or "429 date <seconds>" (Retry-After in
    /// seconds, or as an HTTP date that far ahead); "302 <url>"; "slow <seconds>"; "fail <webhook-id>"
    /// (500 for that event, 200 for the others).
    public func setMode(_ mode: String) throws {
        try Data(mode.utf8).write(to: directory.appendingPathComponent("MODE"))
    }

    /// Every request received, in arrival order.
    public func deliveries() throws -> [Delivery] {
        let path = directory.appendingPathComponent("log.jsonl")
        guard FileManager.default.fileExists(atPath: path.path) else { return [] }
        return try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return Delivery(
                id: o["id"] as? String ?? "", timestamp: Int(o["timestamp"] as? String ?? "") ?? 0, type: o["type"] as? String ?? "",
                verified: o["verified"] as? [Int] ?? [], signatures: o["signatures"] as? Int ?? 0, answered: o["answered"] as? Int ?? 0,
                body: o["body"] as? String ?? "")
        }
    }
}
