import Foundation
import NudgeCore
import NudgeTestSupport
import Testing

/// The console in a real browser: headless Chromium driven by Selenium (console_browser.py, in
/// the venv ops/lib.sh's ensure_browser_venv pins) against the app on a real port. Hostile
/// names, subjects, bodies and replies must render inert; CSRF, other organizations' ids,
/// sign-in, token creation and revocation, sign-out. Screenshots go to
/// `$NUDGE_CONSOLE_SCREENSHOTS` (`docs/console` to refresh the README's), else a temporary folder.
@Suite struct ConsoleBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NudgeTestSupport/console_browser.py").path

    static var python: String {
        ProcessInfo.processInfo.environment["NUDGE_TEST_BROWSER_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? TestCluster.packageRoot.appendingPathComponent(".venv-browser/bin/python").path
    }

    @Test func adminSupervisesFromChromium() async throws {
        try await Harness.run(testing: .live) { h in
            let seeded = try await ConsoleTests.seed(h, send: true)
            // Another organization with a sequence and an enrollment of its own.
            let other = try await h.otherOrg()
            let inbox = try await h.call(
                .post, "/v1/inboxes/", token: other.admin, #"{"address": "o-\#(Fixture.suffix())@acme.test", "timezone": "UTC"}"#)
            let seq = try await h.call(
                .post, "/v1/sequences/", token: other.admin,
                Fixture.sequence(inbox.id, emails: "[\(Fixture.step(days: 2, subject: "Theirs"))]"))
            let e = try await h.call(
                .post, "/v1/sequences/enrollments/", token: other.admin,
                #"{"inbox_id": "\#(inbox.id)", "sequence_id": "\#(seq.id)", "recipient": {"email": "\#(Fixture.address())"}}"#)
            #expect(e.status == 201)

            let shots =
                ProcessInfo.processInfo.environment["NUDGE_CONSOLE_SCREENSHOTS"].map {
                    $0.hasPrefix("/") ? $0 : TestCluster.packageRoot.appendingPathComponent($0).path
                } ?? (NSTemporaryDirectory() + "nudge-console-shots-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
            let outcome = try await MCPPeer.run(
                "browser",
                input: [
                    "base": "http://127.0.0.1:\(try #require(h.client.port))", "admin": h.admin, "sequence": seeded.sequence,
                    "enrollment": seeded.enrollment, "other_sequence": seq.id, "other_enrollment": e.id, "screenshots": shots,
                ], packageRoot: TestCluster.packageRoot, timeout: 240, scriptPath: Self.script, python: Self.python)
            if let secret = outcome.output["secret"] { SecretLedger.record(secret) }
            #expect(outcome.checks.count > 40)
            for failure in outcome.failures { Issue.record("console_browser.py: \(failure)") }
            #expect(FileManager.default.fileExists(atPath: shots + "/enrollment.png"))
        }
    }
}
