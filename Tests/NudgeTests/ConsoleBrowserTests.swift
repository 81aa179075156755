import Foundation
import NudgeCore
import NudgeSMTP
import NudgeTestSupport
import Testing

/// The console in a real browser: headless Chromium driven by Selenium (console_browser.py, in
/// the venv ops/lib.sh's ensure_browser_venv pins) against the app on a real port. Hostile
/// names, subjects, bodies and replies must render inert; CSRF, other organizations' ids,
/// sign-in, token creation and revocation, sign-out; approval drafts read, edited and approved,
/// rejected, and refused across sites and organizations. Screenshots go to
/// `$NUDGE_CONSOLE_SCREENSHOTS` (`docs/console` to refresh the README's), else a temporary folder.
@Suite struct ConsoleBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NudgeTestSupport/console_browser.py").path

    static var python: String {
        ProcessInfo.processInfo.environment["NUDGE_TEST_BROWSER_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? TestCluster.packageRoot.appendingPathComponent(".venv-browser/bin/python").path
    }

    static let editedSubject = "Edited subject for the approval"
    static let editedBody = "Edited body, line one.\nLine two of the edit."

    @Test func adminSupervisesFromChromium() async throws {
        let smtp = try await TestSMTPServer()
        try await Harness.run(transport: try CurlSMTPTransport(url: smtp.url, lanes: 1), testing: .live) { h in
            let seeded = try await ConsoleTests.seed(h, send: true)
            // Steps of a token whose policy requires approval wait as drafts: one with hostile text
            // to edit and approve, one to reject with exit, one a cross-site post must not decide.
            let agent = try await SendPolicyTests.policyToken(h, #"{"require_approval": "all_steps"}"#)
            func enroll(_ steps: [(String, String)], token: String, inbox: String) async throws -> String {
                let emails = JSONValue.array(
                    steps.enumerated().map { i, s in .object(["delay_days": .number(Double(i)), "subject": .string(s.0), "body": .string(s.1)]) })
                let r = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address("draft"), steps: emails.serialized, token: token)
                try #require(r.status == 201, "enroll: \(r.body)")
                return r.id
            }
            let hostileBody = "Body " + ConsoleTests.hostile + "\n</textarea></pre><script>window.__pwned=5</script>\nLast line."
            let toApprove = try await enroll([("Hello " + ConsoleTests.hostile, hostileBody)], token: agent.secret, inbox: seeded.inbox)
            let toReject = try await enroll([("One", "First."), ("Two", "Second.")], token: agent.secret, inbox: seeded.inbox)
            let toKeep = try await enroll([("Kept", "Stays pending.")], token: agent.secret, inbox: seeded.inbox)
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
            let agentBody =
                #"{"name": "agent", "scopes": ["sequences:write", "email:send", "sequences:read"], "#
                + #""send_policy": {"require_approval": "all_steps"}}"#
            let otherAgent = try await h.call(.post, "/v1/tokens/", token: other.admin, agentBody)
            let otherSecret = try #require(otherAgent["token"]?.string, "\(otherAgent.body)")
            SecretLedger.record(otherSecret)
            let otherDrafted = try await enroll([("Theirs", "Not yours.")], token: otherSecret, inbox: inbox.id)

            // The steps come due: each becomes a pending draft.
            func draftID(_ enrollment: String, token: String? = nil) async throws -> String? {
                try await h.call(.get, "/v1/drafts/?enrollment_id=\(enrollment)", token: token).data.first?["id"]?.string
            }
            var ids: [String] = []
            for _ in 0..<50 {
                _ = try await h.advance(seconds: 60)
                ids = []
                for enrollment in [toApprove, toReject, toKeep] { if let id = try await draftID(enrollment) { ids.append(id) } }
                if ids.count == 3, try await draftID(otherDrafted, token: other.admin) != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try #require(ids.count == 3, "drafts were not made")
            let otherDraft = try #require(try await draftID(otherDrafted, token: other.admin))
            let sentBefore = try smtp.received().count

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
                    "draft_approve": ids[0], "draft_reject": ids[1], "draft_keep": ids[2], "other_draft": otherDraft,
                    "enrollment_approve": toApprove, "enrollment_reject": toReject, "edited_subject": Self.editedSubject,
                    "edited_body": Self.editedBody, "hostile_body": hostileBody,
                ], packageRoot: TestCluster.packageRoot, timeout: 240, scriptPath: Self.script, python: Self.python)
            if let secret = outcome.output["secret"] { SecretLedger.record(secret) }
            #expect(outcome.checks.count > 40)
            for failure in outcome.failures { Issue.record("console_browser.py: \(failure)") }
            #expect(FileManager.default.fileExists(atPath: shots + "/enrollment.png"))
            #expect(FileManager.default.fileExists(atPath: shots + "/drafts.png"))

            // The approved draft goes out once, as edited (the script moved the clock on).
            var mail: [TestSMTPServer.Received] = []
            for _ in 0..<50 {
                mail = Array(try smtp.received().dropFirst(sentBefore))
                if !mail.isEmpty { break }
                _ = try await h.advance(seconds: 60)
                try await Task.sleep(for: .milliseconds(100))
            }
            try #require(mail.count == 1, "one message after the decisions, got \(mail.count)")
            let text = String(decoding: mail[0].raw, as: UTF8.self)
            #expect(text.contains("Subject: \(Self.editedSubject)"), "\(text)")
            #expect(text.contains("Edited body, line one.") && text.contains("Line two of the edit."), "\(text)")
            #expect(!text.contains("__pwned"), "the original text was not sent")
            let kept = try await h.call(.get, "/v1/drafts/\(ids[2])/")
            #expect(kept["state"]?.string == "rejected" && kept["decision"]?.string == "skip_step", "decided once, through the API")
        }
    }
}
