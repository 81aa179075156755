import Foundation

/// Runs smtp_server.py (next to this file) in a fresh temporary directory for one test.
/// See the script's docstring for the failure conventions (fail4xx+, fail5xx+, drop+, ...).
public final class TestSMTPServer: @unchecked Sendable {
    public static let python = "/usr/bin/python3"  // Debian's python3, where python3-aiosmtpd is installed
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("smtp_server.py").path

    public let directory: URL
    public let port: Int
    private let server: PythonServer
    private let ownsDirectory: Bool

    public static func makeTemporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("nudge-smtp-\(UUID().uuidString)")
    }

    /// `port: 0` lets the server pick a free port.
    public init(
        port requestedPort: Int = 0, auth: String? = nil, idleTimeout: Double? = nil, tls: TLSMode? = nil,
        directory: URL? = nil
    ) async throws {
        ownsDirectory = directory == nil
        self.directory = directory ?? Self.makeTemporaryDirectory()
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let arguments =
            [Self.script, "--dir", self.directory.path, "--port", String(requestedPort), "--exit-on-stdin-eof"]
            + (auth.map { ["--auth", $0] } ?? []) + (idleTimeout.map { ["--idle-timeout", String($0)] } ?? [])
            + (tls?.arguments ?? [])
        server = try await PythonServer.start(python: Self.python, arguments: arguments, directory: self.directory)
        port = server.port
    }

    public enum TLSMode {
        case starttls(TestCertificate)
        case implicit(TestCertificate)
        var arguments: [String] {
            switch self {
            case .starttls(let c): return ["--tls-cert", c.certPath, "--tls-key", c.keyPath]
            case .implicit(let c): return ["--tls-cert", c.certPath, "--tls-key", c.keyPath, "--implicit-tls"]
            }
        }
    }

    public var url: String { "smtp://127.0.0.1:\(port)" }

    public func stop() { server.stop() }

    /// Stops the server and deletes its directory unless the test supplied the directory.
    deinit {
        stop()
        if ownsDirectory { try? FileManager.default.removeItem(at: directory) }
    }

    /// A file named DOWN makes the server answer 421 to MAIL FROM.
    public func setDown(_ down: Bool) throws {
        let path = directory.appendingPathComponent("DOWN").path
        if down { _ = FileManager.default.createFile(atPath: path, contents: Data()) } else { try FileManager.default.removeItem(atPath: path) }
    }

    /// Where a scripted reply replaces the server's own (see smtp_server.py).
    public enum Stage: String, Sendable {
        case rcpt = "RCPT"
        case dataCommand = "DATACMD"
        case data = "DATA"
    }

    /// Every message gets `reply` at `stage` (e.g. "500 internal error" at `.data`); nil restores.
    public func script(_ stage: Stage, reply: String?) throws {
        let path = directory.appendingPathComponent("REPLY_\(stage.rawValue)").path
        if let reply {
            _ = FileManager.default.createFile(atPath: path, contents: Data(reply.utf8))
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    public struct Received {
        public let path: String
        public let raw: [UInt8]
        public let mailFrom: String
        public let rcptTos: [String]
        public let connection: Int
        public let tls: Bool
    }

    /// Accepted messages in acceptance order.
    public func received() throws -> [Received] {
        var result: [Received] = []
        var n = 1
        while FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(n).eml").path) {
            let eml = directory.appendingPathComponent("\(n).eml")
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("\(n).json"))) as! [String: Any]
            result.append(
                Received(
                    path: eml.path, raw: Array(try Data(contentsOf: eml)),
                    mailFrom: meta["mail_from"] as! String, rcptTos: meta["rcpt_tos"] as! [String],
                    connection: meta["connection"] as! Int, tls: meta["tls"] as! Bool))
            n += 1
        }
        return result
    }

    /// TCP connections accepted so far.
    public func connectionCount() throws -> Int {
        let path = directory.appendingPathComponent("connections.log").path
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count
    }
}

/// Parses a message with Python's `email` package (policy.default): an independent RFC 5322 /
/// MIME / RFC 2047 implementation to check rendering against.
public enum PythonEmail {
    private static let script = #"""
        import email, json, sys
        from email import policy
        from email.header import decode_header, make_header
        raw = open(sys.argv[1], "rb").read()
        m = email.message_from_bytes(raw, policy=policy.default)
        raw_from = email.message_from_bytes(raw, policy=policy.compat32)["From"]
        def h(name):
            v = m[name]
            return None if v is None else str(v)
        def defects(name):
            v = m[name]
            return [] if v is None else [type(d).__name__ for d in v.defects]
        out = {
            "from_name": m["from"].addresses[0].display_name,
            "from_name_rfc2047": str(make_header(decode_header(raw_from.rsplit("<", 1)[0].strip()))),
            "from_addr": m["from"].addresses[0].addr_spec,
            "to": [[a.display_name, a.addr_spec] for a in m["to"].addresses],
            "subject": h("subject"),
            "date_ts": m["date"].datetime.timestamp(),
            "date_utcoffset": m["date"].datetime.utcoffset().total_seconds(),
            "message_id": h("message-id"),
            "in_reply_to": h("in-reply-to"),
            "references": h("references"),
            "mime_version": h("mime-version"),
            "content_type": m.get_content_type(),
            "charset": m.get_content_charset(),
            "cte": h("content-transfer-encoding"),
            "list_unsubscribe": h("list-unsubscribe"),
            "list_unsubscribe_post": h("list-unsubscribe-post"),
            "x_nudge_enrollment": h("x-nudge-enrollment"),
            "body": m.get_content(),
            "defects": [type(d).__name__ for d in m.defects] + sum((defects(k) for k in set(m.keys())), []),
        }
        print(json.dumps(out))
        """#

    public static func parse(file path: String) async throws -> [String: Any] {
        let data = try await ChildProcess.run(TestSMTPServer.python, ["-c", script, path], timeout: 120).output
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    public static func parse(bytes: [UInt8]) async throws -> [String: Any] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-\(UUID().uuidString).eml").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await parse(file: path)
    }
}

/// Raw line checks on a rendered or received message.
public enum WireFormat {
    public static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { $0.last == 0x0D ? $0.dropLast() : $0 }
    }

    public static func hasBareLF(_ bytes: [UInt8]) -> Bool {
        bytes.indices.contains { bytes[$0] == 0x0A && ($0 == 0 || bytes[$0 - 1] != 0x0D) }
    }

    public static func headerLines(_ bytes: [UInt8]) -> [String] {
        var result: [String] = []
        for line in lines(bytes) {
            if line.isEmpty { break }
            result.append(String(decoding: line, as: UTF8.self))
        }
        return result
    }
}

/// A throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI.
public struct TestCertificate {
    public let certPath: String
    public let keyPath: String

    public init() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        certPath = dir.appendingPathComponent("cert.pem").path
        keyPath = dir.appendingPathComponent("key.pem").path
        let made = try await ChildProcess.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyPath, "-out", certPath,
            ], timeout: 120)
        guard made.status == 0 else { throw CertificateError(output: made.errors) }
    }

    public struct CertificateError: Error {
        public let output: String
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: certPath).deletingLastPathComponent().path)
    }
}
