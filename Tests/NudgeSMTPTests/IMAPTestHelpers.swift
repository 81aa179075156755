import Foundation
import NudgeSMTP
import NudgeTestSupport

extension TestIMAPServer {
    /// Settings for this server; STARTTLS with the test certificate trusted unless told otherwise.
    func settings(
        security: IMAPSettings.Security = .starttls, user: String = "testuser", password: String? = nil,
        folder: String = "INBOX", trustTestCA: Bool = true, timeoutSeconds: Int = 10
    ) -> IMAPSettings {
        IMAPSettings(
            host: "127.0.0.1", port: security == .tls ? imapsPort : imapPort, security: security, username: user,
            password: password ?? users[user]!, folder: folder, caBundlePath: trustTestCA ? certificate.certPath : nil,
            timeoutSeconds: timeoutSeconds)
    }

    /// The login count once Dovecot's log process has caught up.
    func settledLoginCount() async throws -> Int {
        var count = loginCount()
        for _ in 0..<20 {
            try await Task.sleep(for: .milliseconds(100))
            let again = loginCount()
            if again == count && count > 0 { return count }
            count = again
        }
        return count
    }
}

enum Mail {
    /// A small CRLF message, numbered so its bytes are unique.
    static func small(_ n: Int) -> [UInt8] {
        Array("From: a@example.com\r\nTo: b@example.com\r\nSubject: Test \(n)\r\nMessage-ID: <\(n)@nudge.test>\r\n\r\nBody \(n)\r\n".utf8)
    }

    /// 8-bit UTF-8 and Latin-1 bytes, a 5,000-character line, and lines that look like IMAP.
    static let eightBit: [UInt8] =
        Array(
            ("From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\nSubject: Grüße aus Köln\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + "Ä Ö Ü ß — „Zitat“ 日本語 🙂\r\n" + String(repeating: "long-line-", count: 500) + "\r\n"
                + "N3 OK this line starts like a tagged reply\r\n* 1 EXISTS\r\nends like a literal {12}\r\n").utf8)
        + [0x4C, 0x61, 0x74, 0x69, 0x6E, 0x31, 0x3A, 0x20, 0xE9, 0xE8, 0xFC, 0x0D, 0x0A]

    /// About `megabytes` MiB of base64-looking 76-character lines, each starting with its own
    /// number (so a shifted copy could not compare equal), the rest taken from a random pool.
    static func large(megabytes: Int) -> [UInt8] {
        var m = Array(
            "From: a@example.com\r\nSubject: large\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".utf8)
        m.reserveCapacity((megabytes << 20) + 100)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let pool = (0..<4096).map { _ in alphabet.randomElement()! }
        var n = 0
        while m.count < megabytes << 20 {
            m += Array(String(n, radix: 36).utf8)
            let start = (n * 67) % (pool.count - 76)
            m += pool[start..<(start + 70)]
            m += [0x0D, 0x0A]
            n += 1
        }
        return m
    }
}
