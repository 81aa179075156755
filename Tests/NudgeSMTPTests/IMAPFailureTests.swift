import Foundation
import NudgeSMTP
import NudgeTestSupport
import Testing

/// Each failure the product tells the user about, classified.
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct IMAPFailureTests {
    func failure(_ settings: IMAPSettings) async -> IMAPError? {
        do {
            _ = try await IMAPSession(settings: settings).examine()
            return nil
        } catch {
            return error
        }
    }

    @Test func wrongPassword() async throws {
        let server = try await TestIMAPServer()
        let error = await failure(server.settings(password: "wrong"))
        #expect(error?.kind == .authentication)
        #expect(error?.serverReply?.contains("AUTHENTICATIONFAILED") == true)
        print("IMAP wrong password: \(error.map { "\($0)" } ?? "none")")
    }

    @Test func passwordNeedsNoEscaping() async throws {
        let password = "p@ss w%rd/ü?#&"
        let server = try await TestIMAPServer(users: ["anna@example.com": password])
        try await server.deliver(raw: Mail.small(1), user: "anna@example.com")
        let session = IMAPSession(settings: server.settings(user: "anna@example.com"))
        #expect(try await session.examine().exists == 1)
    }

    @Test func missingFolder() async throws {
        let server = try await TestIMAPServer()
        let error = await failure(server.settings(folder: "Nope"))
        #expect(error?.kind == .folderMissing)
        // Dovecot 2.3 says it in words, without the NONEXISTENT code.
        #expect(error?.serverReply?.contains("doesn't exist") == true)
    }

    @Test func startTLSWithoutTrustedCA() async throws {
        let server = try await TestIMAPServer()
        let error = await failure(server.settings(trustTestCA: false))
        #expect(error?.kind == .tls)
        print("IMAP STARTTLS untrusted: \(error.map { "\($0)" } ?? "none")")
        #expect(await failure(server.settings(security: .tls, trustTestCA: false))?.kind == .tls)
    }

    @Test func nothingListening() async throws {
        let port = try TestIMAPServer.freePort()
        let settings = IMAPSettings(host: "127.0.0.1", port: port, security: .starttls, username: "u", password: "p", timeoutSeconds: 5)
        #expect(await failure(settings)?.kind == .connection)
    }

    /// A server that accepts the connection and never greets.
    @Test func silentServerTimesOut() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) + getsockname(fd, $0, &length) }
        }
        listen(fd, 4)  // the kernel completes the handshake; nobody ever reads or writes
        let settings = IMAPSettings(
            host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port)), security: .starttls, username: "u", password: "p",
            timeoutSeconds: 1)
        #expect(await failure(settings)?.kind == .timeout)
    }

    @Test func resolvePinsTheAddress() async throws {
        let server = try await TestIMAPServer()
        var settings = server.settings()
        // The certificate names 127.0.0.1 only, so the host stays the address; the name below
        // would not resolve at all without the pin.
        settings.host = "imap.nudge.invalid"
        settings.resolve = "imap.nudge.invalid:\(server.imapPort):127.0.0.1"
        let error = await failure(settings)
        // Connected (pinned), then the certificate does not match the name: a TLS failure.
        #expect(error?.kind == .tls)
    }

    @Test func checkTranscriptMasksCredentials() async throws {
        let server = try await TestIMAPServer()
        let good = await IMAPSession(settings: server.settings()).check()
        #expect(good.ok)
        #expect(good.status?.exists == 0)
        let text = good.transcript.joined(separator: "\n")
        print("IMAP check transcript:\n\(text)")
        #expect(text.contains("STARTTLS"))
        #expect(text.contains("* SSL certificate verify ok."))
        #expect(text.contains("AUTHENTICATE PLAIN ****") || text.contains("LOGIN ****"))
        #expect(text.contains("EXAMINE \"INBOX\""))
        #expect(text.contains("[READ-ONLY]"))
        #expect(!text.contains("secret"))
        #expect(!text.contains(Data("\0testuser\0secret".utf8).base64EncodedString()))

        let bad = await IMAPSession(settings: server.settings(password: "wrong-pass")).check()
        #expect(!bad.ok)
        #expect(bad.error?.kind == .authentication)
        let badText = bad.transcript.joined(separator: "\n")
        print("IMAP check transcript, wrong password:\n\(badText)")
        #expect(badText.contains("AUTHENTICATIONFAILED"))
        #expect(!badText.contains("wrong-pass"))
        #expect(!badText.contains(Data("\0testuser\0wrong-pass".utf8).base64EncodedString()))
    }
}
