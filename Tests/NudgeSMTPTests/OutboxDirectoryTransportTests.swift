import Foundation
import Testing

@testable import NudgeSMTP

@Test func outboxWritesOneFilePerMessageIDAndOverwritesOnResend() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-outbox-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let outbox = OutboxDirectoryTransport(directory: directory)
    let first = sampleMessage(id: "step-1@nudge.acme.test", body: "first attempt\n")
    let retry = sampleMessage(id: "step-1@nudge.acme.test", body: "second attempt\n")
    let other = sampleMessage(id: "step-2@nudge.acme.test")

    _ = try await outbox.send(first)
    _ = try await outbox.send(retry)
    _ = try await outbox.send(other)

    let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    #expect(files == ["step-1@nudge.acme.test.eml", "step-2@nudge.acme.test.eml"])
    let written = try Data(contentsOf: URL(fileURLWithPath: outbox.path(forMessageID: "step-1@nudge.acme.test")))
    #expect(Array(written) == (try retry.render()))
}

@Test func outboxFileNamesNeverCollideOrEscapeTheDirectory() {
    let outbox = OutboxDirectoryTransport(directory: "/outbox")
    #expect(outbox.path(forMessageID: "a/b@x.test") == "/outbox/a%2Fb@x.test.eml")
    #expect(outbox.path(forMessageID: "a%2Fb@x.test") == "/outbox/a%252Fb@x.test.eml")
    #expect(outbox.path(forMessageID: ".hidden@x.test") == "/outbox/%2Ehidden@x.test.eml")
}

@Test func outboxRefusesMessagesWithoutMessageID() async {
    let outbox = OutboxDirectoryTransport(directory: FileManager.default.temporaryDirectory.path)
    await #expect(throws: SMTPError.self) {
        try await outbox.send(envelopeFrom: "a@b.test", recipients: ["c@d.test"], message: Array("Subject: x\r\n\r\nbody\r\n".utf8))
    }
}
