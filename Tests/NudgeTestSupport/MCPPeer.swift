import Foundation

/// Runs mcp_peer.py (next to this file), the official Python MCP SDK as a real client, for one
/// scenario against a running server. Its Python is `$NUDGE_TEST_MCP_PYTHON` (ops/test sets it to
/// the venv that ops/lib.sh's ensure_mcp_venv pins), else `<package>/.venv-mcp/bin/python`.
public enum MCPPeer {
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("mcp_peer.py").path

    public static func python(packageRoot: URL) -> String {
        ProcessInfo.processInfo.environment["NUDGE_TEST_MCP_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? packageRoot.appendingPathComponent(".venv-mcp/bin/python").path
    }

    public struct Outcome: Sendable {
        /// (name, ok, detail) of each check the script made.
        public let checks: [(name: String, ok: Bool, detail: String)]
        public let output: [String: String]
        public var failures: [String] { checks.filter { !$0.ok }.map { "\($0.name): \($0.detail)" } }
    }

    public struct PeerError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `scenario` with `input` (JSON on its stdin); waits without blocking a thread (the
    /// server under test runs in this process).
    /// Another peer script (`scriptPath`, `python`) speaks the same protocol: JSON in, `checks` out.
    public static func run(
        _ scenario: String, input: [String: Any], packageRoot: URL, timeout: Double = 180, scriptPath: String? = nil, python: String? = nil
    ) async throws -> Outcome {
        let python = python ?? Self.python(packageRoot: packageRoot)
        let script = scriptPath ?? Self.script
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PeerError(description: "No Python environment at \(python): run ops/test, which installs it (ops/lib.sh).")
        }
        let run = try await ChildProcess.run(
            python, [script, scenario], input: try JSONSerialization.data(withJSONObject: input), timeout: timeout)
        let (status, out, err) = (run.status, run.output, run.errors)
        guard status == 0, let json = try? JSONSerialization.jsonObject(with: out) as? [String: Any], let raw = json["checks"] as? [[Any]] else {
            throw PeerError(
                description:
                    "\(URL(fileURLWithPath: script).lastPathComponent) \(scenario) exited \(status): \(err.suffix(4000)) \(String(decoding: out.prefix(2000), as: UTF8.self))"
            )
        }
        let checks = raw.map { ($0[0] as? String ?? "?", $0[1] as? Bool ?? false, $0.count > 2 ? ($0[2] as? String ?? "") : "") }
        var output: [String: String] = [:]
        for (k, v) in json where k != "checks" { output[k] = (v as? String) ?? "\(v)" }
        return Outcome(checks: checks, output: output)
    }
}
