import CCurl
import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeSMTP

@Test func fullMessageRoundTripsThroughSMTPAndPythonsParser() async throws {
    let server = try await TestSMTPServer()
    let transport = try CurlSMTPTransport(url: server.url, lanes: 1)
    let longLine = String((0..<2000).map { _ in "abcdefghij é".randomElement()! })
    let body = "Hi Zoë,\n.a line starting with a dot\n.\n..two dots\n\(longLine)\nこんにちは — thanks!\n\nAda"
    var message = sampleMessage(body: body)
    message.subject = "Grüße — 日本語 follow-up"
    message.from = EmailAddress(name: "Ada Lovelace (Acme)", address: "ada@acme.test")
    message.to = [EmailAddress(name: "Zoë Ångström", address: "zoe@prospect.test")]
    message.inReplyTo = "prev-1@nudge.acme.test"
    message.references = ["root@nudge.acme.test", "prev-1@nudge.acme.test"]
    message.listUnsubscribeURL = "https://nudge.acme.test/u/tok_123?e=42"
    message.extraHeaders = [("X-Nudge-Enrollment", "enr_42")]

    let outcome = try await transport.send(message)
    guard case .accepted(let response) = outcome else { return }
    #expect(response?.hasPrefix("250 2.0.0 Ok: queued as 1") == true)

    let received = try server.received()
    try #require(received.count == 1)
    #expect(received[0].mailFrom == "ada@acme.test")
    #expect(received[0].rcptTos == ["zoe@prospect.test"])
    #expect(!WireFormat.hasBareLF(received[0].raw))
    #expect(WireFormat.lines(received[0].raw).allSatisfy { $0.count <= 998 })
    #expect(WireFormat.headerLines(received[0].raw).allSatisfy { $0.utf8.count <= 78 })

    let p = try await PythonEmail.parse(file: received[0].path)
    withExtendedLifetime(server) {}  // its folder holds the file until parsed
    #expect(p["from_name"] as? String == "Ada Lovelace (Acme)")
    #expect(p["from_addr"] as? String == "ada@acme.test")
    #expect((p["to"] as? [[String]]) == [["Zoë Ångström", "zoe@prospect.test"]])
    #expect(p["subject"] as? String == "Grüße — 日本語 follow-up")
    #expect(p["date_ts"] as? Double == message.date.timeIntervalSince1970)
    #expect(p["date_utcoffset"] as? Double == 0)
    #expect(p["message_id"] as? String == "<\(message.messageID)>")
    #expect(p["in_reply_to"] as? String == "<prev-1@nudge.acme.test>")
    #expect(p["references"] as? String == "<root@nudge.acme.test> <prev-1@nudge.acme.test>")
    #expect(p["mime_version"] as? String == "1.0")
    #expect(p["content_type"] as? String == "text/plain")
    #expect(p["charset"] as? String == "utf-8")
    #expect(p["cte"] as? String == "quoted-printable")
    #expect(p["list_unsubscribe"] as? String == "<https://nudge.acme.test/u/tok_123?e=42>")
    #expect(p["list_unsubscribe_post"] as? String == "List-Unsubscribe=One-Click")
    #expect(p["x_nudge_enrollment"] as? String == "enr_42")
    #expect((p["body"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") == body + "\n")
    #expect((p["defects"] as? [String]) == [])
}

/// A 7bit body goes on the wire as-is, so this checks that libcurl dot-stuffs: without it the
/// server would strip the leading dots (and a lone "." would end the message early).
@Test func leadingDotsSurviveLibcurlDotStuffing() async throws {
    let server = try await TestSMTPServer()
    let transport = try CurlSMTPTransport(url: server.url, lanes: 1)
    let body = ".starts with a dot\n.\n..\nafter the lone dot\n"
    let message = sampleMessage(body: body)
    let bytes = try message.render()
    #expect(WireFormat.headerLines(bytes).contains("Content-Transfer-Encoding: 7bit"))
    _ = try await transport.send(message)
    let received = try server.received()
    try #require(received.count == 1)
    #expect(received[0].raw == bytes)
}

/// Sends a message that the server is scripted to refuse, then checks the error and that the
/// same single lane delivers the next message.
private func expectFailureThenRecovery(
    recipient: String = "lead@prospect.test", sender: String = "ada@acme.test", timeout: Int = 10, maxFailureSeconds: Double = 60,
    prepare: (TestSMTPServer) throws -> Void = { _ in }, cleanup: (TestSMTPServer) throws -> Void = { _ in },
    check: (SMTPError) -> Bool
) async throws {
    let server = try await TestSMTPServer()
    let transport = try CurlSMTPTransport(url: server.url, lanes: 1, timeoutSeconds: timeout)
    _ = try await transport.send(sampleMessage())  // an open, reused connection before the failure
    try prepare(server)
    var message = sampleMessage(to: recipient)
    message.from.address = sender
    let start = Date()
    do {
        _ = try await transport.send(message)
        Issue.record("expected a failure")
    } catch let error as SMTPError {
        #expect(check(error), "\(error)")
    }
    #expect(Date().timeIntervalSince(start) < maxFailureSeconds)
    try cleanup(server)
    _ = try await transport.send(sampleMessage())
    #expect(try server.received().count == 2)
}

@Test func recipient4xxIsTransient() async throws {
    try await expectFailureThenRecovery(recipient: "fail4xx+a@prospect.test") {
        if case .transient(451, let m) = $0 { return m.contains("451 4.3.0") } else { return false }
    }
}

@Test func recipient5xxIsPermanent() async throws {
    try await expectFailureThenRecovery(recipient: "fail5xx+a@prospect.test") {
        if case .permanent(550, let m) = $0 { return m.contains("User unknown") } else { return false }
    }
}

/// 554 5.6.0 (content) is not about the recipient: refused, not a hard bounce.
@Test func dataRejection5xxNotAboutTheMailboxIsRejected() async throws {
    try await expectFailureThenRecovery(recipient: "faildata+a@prospect.test") {
        if case .rejected(554, let m) = $0 { return m.contains("5.6.0") } else { return false }
    }
}

@Test func dataReplyNamingTheMailboxIsPermanent() async throws {
    try await expectFailureThenRecovery(recipient: "fullbox+a@prospect.test") {
        if case .permanent(554, let m) = $0 { return m.contains("5.2.2") } else { return false }
    }
}

/// A server error, whether after the data or to the DATA command, suppresses nobody.
@Test(arguments: [TestSMTPServer.Stage.data, .dataCommand])
func serverErrorAtDataIsRejected(stage: TestSMTPServer.Stage) async throws {
    try await expectFailureThenRecovery(prepare: { try $0.script(stage, reply: "500 internal error") }, cleanup: { try $0.script(stage, reply: nil) })
    {
        if case .rejected(500, let m) = $0 { return m.contains("500 internal error") } else { return false }
    }
}

/// At RCPT TO only a policy or system status (5.7.x relay denied) is not about the recipient.
@Test func relayDeniedAtRecipientIsRejected() async throws {
    try await expectFailureThenRecovery(
        prepare: { try $0.script(.rcpt, reply: "554 5.7.1 Relay access denied") }, cleanup: { try $0.script(.rcpt, reply: nil) }
    ) {
        if case .rejected(554, _) = $0 { return true } else { return false }
    }
}

@Test func enhancedStatusCodesAreReadFromTheReply() {
    #expect(EnhancedStatus(reply: "554 5.2.2 Mailbox full") == EnhancedStatus(reply: "554-5.2.2 Mailbox full"))
    #expect(EnhancedStatus(reply: "554 5.2.2 Mailbox full")?.subject == 2)
    #expect(EnhancedStatus(reply: "550 5.1.10 Recipient not found")?.detail == 10)
    #expect(EnhancedStatus(reply: "550 5.7.1")?.subject == 7)
    for reply in ["500 internal error", "550 user 5.1.1 unknown", "550 4.1.1 wrong class", "550 5.1", "55 5.1.1 x", "550 5.1.1x", ""] {
        #expect(EnhancedStatus(reply: reply) == nil, "\(reply)")
    }
}

/// Before RCPT TO a 5xx is about our own setup: transient, never a bounce.
@Test func classificationFollowsTheStage() {
    func classify(_ code: Int, _ reply: String, _ stage: SMTPStage) -> SMTPError {
        CurlEasy.classify(result: CURLE_WEIRD_SERVER_REPLY, responseCode: code, errorText: "", reply: reply, stage: stage)
    }
    if case .transient(554, _) = classify(554, "554 5.3.2 not accepting mail", .session) {} else { Issue.record("greeting 554") }
    if case .permanent(550, _) = classify(550, "550 5.1.1 User unknown", .recipient) {} else { Issue.record("rcpt 5.1.1") }
    if case .permanent(550, _) = classify(550, "550 No such user", .recipient) {} else { Issue.record("rcpt plain 550") }
    if case .permanent(550, _) = classify(550, "550 5.4.1 Recipient address rejected: Access denied", .recipient) {
    } else {
        Issue.record("rcpt 5.4.1")
    }
    if case .rejected(554, _) = classify(554, "554 5.7.1 Relay access denied", .recipient) {} else { Issue.record("rcpt 5.7.1") }
    if case .permanent(552, _) = classify(552, "552 5.2.2 Over quota", .data) {} else { Issue.record("data 5.2.2") }
    if case .rejected(552, _) = classify(552, "552 Message too large", .data) {} else { Issue.record("data 552") }
    if case .rejected(500, _) = classify(500, "500 internal error", .data) {} else { Issue.record("data 500") }
    if case .transient(451, _) = classify(451, "451 4.3.0 try later", .data) {} else { Issue.record("data 451") }
}

/// A burst of server errors opens the circuit: further sends fail at once as paused, without a
/// connection; after the pause one probe goes; its success closes the circuit.
@Test func aBurstOfServerErrorsPausesTheTransportUntilAProbeSucceeds() async throws {
    let server = try await TestSMTPServer()
    let clock = TestTime()
    let policy = SendCircuit.Policy(burst: 3, window: 60, pause: 300, maxPause: 3_600, probeWait: 30)
    let transport = SendCircuit(try CurlSMTPTransport(url: server.url, lanes: 1), policy: policy, now: { clock.now })
    try server.script(.data, reply: "500 internal error")
    for _ in 0..<3 {
        await #expect(throws: SMTPError.self) { try await transport.send(sampleMessage()) }
    }
    let connections = try server.connectionCount()
    let opened = clock.now
    await #expect(throws: SMTPError.paused(until: opened.addingTimeInterval(300))) { try await transport.send(sampleMessage()) }
    #expect(try server.connectionCount() == connections)
    // The probe meets the same error: the pause starts again, twice as long.
    clock.advance(300)
    do {
        _ = try await transport.send(sampleMessage())
        Issue.record("the probe should have failed")
    } catch SMTPError.rejected(let code, _) {
        #expect(code == 500)
    }
    #expect(try server.connectionCount() == connections + 1)
    #expect(transport.pausedUntil == clock.now.addingTimeInterval(600))
    try server.script(.data, reply: nil)
    clock.advance(600)
    _ = try await transport.send(sampleMessage())  // the probe
    #expect(transport.pausedUntil == nil)
    _ = try await transport.send(sampleMessage())
    #expect(try server.received().count == 2)
}

/// A recipient's hard bounce is the server working: it resets the count of server errors.
@Test func recipientBouncesNeverOpenTheCircuit() async throws {
    let server = try await TestSMTPServer()
    let transport = SendCircuit(try CurlSMTPTransport(url: server.url, lanes: 1))
    for i in 0..<6 {
        await #expect(throws: SMTPError.self) { try await transport.send(sampleMessage(to: "fail5xx+\(i)@prospect.test")) }
    }
    #expect(transport.pausedUntil == nil)
    _ = try await transport.send(sampleMessage())
    #expect(try server.received().count == 1)
}

final class TestTime: @unchecked Sendable {
    private let lock = NSLock()
    private var t = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { t } }
    func advance(_ s: TimeInterval) { lock.withLock { t += s } }
}

@Test func sender5xxIsTransientBecauseItIsOurConfiguration() async throws {
    try await expectFailureThenRecovery(sender: "fail5xx+ada@acme.test") {
        if case .transient(553, _) = $0 { return true } else { return false }
    }
}

@Test func droppedConnectionIsTransient() async throws {
    try await expectFailureThenRecovery(recipient: "drop+a@prospect.test") {
        if case .transient(nil, _) = $0 { return true } else { return false }
    }
}

@Test func serverDown421IsTransient() async throws {
    try await expectFailureThenRecovery(prepare: { try $0.setDown(true) }, cleanup: { try $0.setDown(false) }) {
        if case .transient(421, _) = $0 { return true } else { return false }
    }
}

/// The server would stall for 60 s; the 1 s timeout must cut the attempt short.
@Test func timeoutIsTransient() async throws {
    try await expectFailureThenRecovery(recipient: "slow60+a@prospect.test", timeout: 1, maxFailureSeconds: 30) {
        if case .transient(nil, let m) = $0 { return m.lowercased().contains("timeout") } else { return false }
    }
}

@Test func connectionRefusedIsTransientAndTheLaneRecoversWhenTheServerReturns() async throws {
    let directory = TestSMTPServer.makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let first = try await TestSMTPServer(directory: directory)
    let port = first.port
    first.stop()
    let transport = try CurlSMTPTransport(url: first.url, lanes: 1, timeoutSeconds: 5)
    for _ in 0..<2 {  // twice: the lane must stay usable after a refused connection
        do {
            _ = try await transport.send(sampleMessage())
            Issue.record("expected connection refused")
        } catch let error as SMTPError {
            guard case .transient(nil, let m) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(m.contains("Couldn't connect"), "\(m)")
        }
    }
    let second = try await TestSMTPServer(port: port, directory: directory)
    _ = try await transport.send(sampleMessage())
    #expect(try second.received().count == 1)
}

@Test func oneLaneReusesOneConnection() async throws {
    let server = try await TestSMTPServer()
    let transport = try CurlSMTPTransport(url: server.url, lanes: 1)
    for _ in 0..<5 { _ = try await transport.send(sampleMessage()) }
    let received = try server.received()
    #expect(received.count == 5)
    #expect(Set(received.map(\.connection)).count == 1)
    #expect(try server.connectionCount() == 1)
}

/// Real MTAs close idle connections; the next send must notice and reconnect, not fail.
@Test func aConnectionClosedByTheServerWhileIdleIsReplacedTransparently() async throws {
    let server = try await TestSMTPServer(idleTimeout: 0.5)
    let transport = try CurlSMTPTransport(url: server.url, lanes: 1)
    _ = try await transport.send(sampleMessage())
    try await Task.sleep(for: .seconds(1.5))
    _ = try await transport.send(sampleMessage())
    #expect(try server.received().count == 2)
    #expect(try server.connectionCount() == 2)
}

@Test func fiftyConcurrentSendsOverFourLanesAreEachDeliveredOnce() async throws {
    let server = try await TestSMTPServer()
    let transport = try CurlSMTPTransport(url: server.url, lanes: 4)
    let ids = (0..<50).map { "c\($0).\(UUID().uuidString)@nudge.acme.test" }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for id in ids {
            group.addTask { _ = try await transport.send(sampleMessage(id: id)) }
        }
        try await group.waitForAll()
    }
    let received = try server.received()
    let receivedIDs = received.compactMap { HeaderLookup.messageID(in: $0.raw) }
    #expect(receivedIDs.count == 50)
    #expect(Set(receivedIDs) == Set(ids))
    #expect(try server.connectionCount() <= 4)
}

@Test func authCredentialsComeFromThePercentEncodedURL() async throws {
    let server = try await TestSMTPServer(auth: "nudge@acme:p@ss:w/rd é")
    let good = try CurlSMTPTransport(url: "smtp://nudge%40acme:p%40ss%3Aw%2Frd%20%C3%A9@127.0.0.1:\(server.port)", lanes: 1)
    _ = try await good.send(sampleMessage())
    #expect(try server.received().count == 1)

    // Bad or missing credentials are our configuration, never a bounce of the recipient.
    for url in ["smtp://nudge%40acme:wrong@127.0.0.1:\(server.port)", server.url] {
        let bad = try CurlSMTPTransport(url: url, lanes: 1)
        do {
            _ = try await bad.send(sampleMessage())
            Issue.record("expected an authentication failure for \(url)")
        } catch let error as SMTPError {
            guard case .transient = error else {
                Issue.record("\(error)")
                continue
            }
        }
    }
    #expect(try server.received().count == 1)
}

@Test func starttlsIsUsedAndTheCertificateIsVerified() async throws {
    let certificate = try await TestCertificate()
    defer { certificate.remove() }  // also keeps the CA file alive until the end of the test
    let server = try await TestSMTPServer(tls: .starttls(certificate))
    let trusting = try CurlSMTPTransport(url: server.url, lanes: 1, requireTLS: true, caBundlePath: certificate.certPath)
    _ = try await trusting.send(sampleMessage())
    // Opportunistic STARTTLS (the default) still refuses a certificate it cannot verify.
    let untrusting = try CurlSMTPTransport(url: server.url, lanes: 1)
    do {
        _ = try await untrusting.send(sampleMessage())
        Issue.record("expected a certificate verification failure")
    } catch let error as SMTPError {
        guard case .transient = error else {
            Issue.record("\(error)")
            return
        }
    }
    let received = try server.received()
    #expect(received.count == 1)
    #expect(received.first?.tls == true)
}

@Test func smtpsUsesImplicitTLS() async throws {
    let certificate = try await TestCertificate()
    defer { certificate.remove() }  // also keeps the CA file alive until the end of the test
    let server = try await TestSMTPServer(tls: .implicit(certificate))
    let transport = try CurlSMTPTransport(url: "smtps://127.0.0.1:\(server.port)", lanes: 1, caBundlePath: certificate.certPath)
    _ = try await transport.send(sampleMessage())
    _ = try await transport.send(sampleMessage())
    let received = try server.received()
    #expect(received.map(\.tls) == [true, true])
    #expect(try server.connectionCount() == 1)
}

@Test func transportRejectsBadConfigurationAndEnvelopes() async throws {
    #expect(throws: SMTPConfigurationError.invalidURL) { try CurlSMTPTransport(url: "http://127.0.0.1:25") }
    #expect(throws: SMTPConfigurationError.invalidLaneCount(0)) { try CurlSMTPTransport(url: "smtp://127.0.0.1", lanes: 0) }
    let transport = try CurlSMTPTransport(url: "smtp://127.0.0.1:1")
    await #expect(throws: SMTPError.permanent(code: nil, message: "invalid recipient address at index 0")) {
        try await transport.send(envelopeFrom: "ada@acme.test", recipients: ["a\r\nRCPT TO:<x@y.test>"], message: [])
    }
}
