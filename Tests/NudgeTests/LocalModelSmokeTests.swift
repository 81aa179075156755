import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// The small real model (SmolLM2 135M via xllamacpp, set up by ops/test in .venv-llm): a prompt
/// step renders a non-empty body end to end. It is too small to judge replies; logic is tested
/// against the scripted server.
@Suite struct LocalModelSmokeTests {
    static var python: String {
        ProcessInfo.processInfo.environment["NUDGE_TEST_LLM_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? TestCluster.packageRoot.appendingPathComponent(".venv-llm/bin/python").path
    }

    @Test func promptStepRendersWithTheLocalModel() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            Issue.record("No local model environment at \(Self.python): run ops/test, which installs it.")
            return
        }
        let port = Int.random(in: 20_000..<40_000)
        let server = try Daemon(Self.python, [TestCluster.packageRoot.appendingPathComponent("ops/llm_server.py").path, String(port)])
        defer { server.terminate() }
        var healthy = false
        for _ in 0..<240 where !healthy {
            let out = try await ChildProcess.run("/usr/bin/curl", ["-fsS", "--max-time", "2", "http://127.0.0.1:\(port)/health"], timeout: 10).output
            healthy = String(decoding: out, as: UTF8.self).contains(#""status":"ok""#)
            if !healthy { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(healthy)
        var settings = LLMSettings(url: "http://127.0.0.1:\(port)/v1", model: "smollm2", apiKey: nil)
        settings.requestTimeout = .seconds(120)
        try await Harness.withSMTP(llm: settings) { h, smtp in
            let (_, enrollment, _) = try await DispatchTests.setUp(h, sequence: BriefBodies.promptSequence(try await h.inbox()))
            _ = try await h.advance(seconds: 4 * DispatchTests.day)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            let got = try smtp.received()
            // The 135M model often echoes its instructions; the output guard refuses that, and the
            // step then waits for review unsent. Either way nothing unchecked goes out.
            let refused = e["state"]?.string == "paused" && e["exit_detail"]?.string?.hasPrefix("needs_review: the written step was refused") == true
            #expect(got.count == (refused ? 0 : 1), "state \(e["state"]?.string ?? "") \(e["exit_detail"]?.string ?? "")")
            if let first = got.first {
                let body = (try await PythonEmail.parse(file: first.path)["body"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                print("local model wrote \(body.count) characters")
                #expect(!body.isEmpty)
            }
        }
    }
}
