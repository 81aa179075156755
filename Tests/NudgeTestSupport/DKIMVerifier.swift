import Foundation

/// dkimpy (PyPI, with PyNaCl for Ed25519) on a signed message: dkim_verify.py next to this file,
/// run by `$NUDGE_TEST_DKIM_PYTHON` (ops/test's pinned venv), else `<package>/.venv-dkim/bin/python`.
public enum DKIMVerifier {
    public struct Outcome: Decodable, Sendable {
        public var ok: Bool
        public var error: String?
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("dkim_verify.py").path
    static var python: String {
        ProcessInfo.processInfo.environment["NUDGE_TEST_DKIM_PYTHON"] ?? root.appendingPathComponent(".venv-dkim/bin/python").path
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One outcome per DKIM-Signature of `message`, top first. `records` maps
    /// "<selector>._domainkey.<domain>" to the TXT record's value.
    public static func verify(message: [UInt8], records: [String: String]) async throws -> [Outcome] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-dkim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let messagePath = dir.appendingPathComponent("message.eml").path
        let recordsPath = dir.appendingPathComponent("records.json").path
        try Data(message).write(to: URL(fileURLWithPath: messagePath))
        try JSONEncoder().encode(records).write(to: URL(fileURLWithPath: recordsPath))
        let run = try await ChildProcess.run(python, [script, messagePath, recordsPath], timeout: 120)
        guard run.status == 0 else { throw Failure(description: "dkimpy exited \(run.status): \(run.errors)") }
        return try JSONDecoder().decode([Outcome].self, from: run.output)
    }
}
