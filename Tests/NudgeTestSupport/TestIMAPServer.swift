import Foundation

/// A private Dovecot (Debian `dovecot-imapd`) for one test: its own folder, config, users file,
/// log and self-signed certificate, listening on 127.0.0.1 only, IMAP (STARTTLS offered) and
/// IMAPS on free ports. Mail belongs to the fixed uid 5000, which needs no passwd entry.
/// `stop()` / `start()` restart it on the same ports; deinit stops it and removes the folder.
public final class TestIMAPServer: @unchecked Sendable {
    public static let uid = 5000
    public let directory: URL
    public let imapPort: Int
    public let imapsPort: Int
    public let certificate: TestCertificate
    public let users: [String: String]
    public var configPath: String { directory.appendingPathComponent("dovecot.conf").path }
    public var logPath: String { directory.appendingPathComponent("dovecot.log").path }

    private let lock = NSLock()
    /// The Dovecot master; nil while stopped.
    private var master: Daemon?

    /// `users`: name → password (stored `{PLAIN}`, the test's own throwaway secrets).
    public init(users: [String: String] = ["testuser": "secret"]) async throws {
        self.users = users
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-imap-\(UUID().uuidString)")
        let mail = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        // Dovecot's unprivileged processes must reach the config and the mail below it.
        chmod(directory.path, 0o755)
        chown(mail.path, uid_t(Self.uid), gid_t(Self.uid))
        certificate = try await TestCertificate()
        (imapPort, imapsPort) = (try Self.freePort(), try Self.freePort())
        let userLines = users.map { "\($0.key):{PLAIN}\($0.value):\(Self.uid):\(Self.uid)::\(mail.path)/\($0.key)" }
        try (userLines.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("users"), atomically: true, encoding: .utf8)
        try config().write(toFile: configPath, atomically: true, encoding: .utf8)
        try await start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
        certificate.remove()
    }

    /// One setting per line: Dovecot rejects `inet_listener imap { port = 1 }` on one line.
    private func config() -> String {
        let d = directory.path
        return """
            base_dir = \(d)/run
            state_dir = \(d)/state
            log_path = \(d)/dovecot.log
            instance_name = dovecot-test-\(imapPort)
            listen = 127.0.0.1
            protocols = imap
            ssl = yes
            ssl_cert = <\(certificate.certPath)
            ssl_key = <\(certificate.keyPath)
            ssl_dh = </usr/share/dovecot/dh.pem
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(d)/users
            }
            userdb {
              driver = passwd-file
              args = \(d)/users
            }
            mail_location = maildir:~/Maildir
            mail_fsync = never
            first_valid_uid = \(Self.uid)
            last_valid_uid = \(Self.uid)
            mail_uid = \(Self.uid)
            mail_gid = \(Self.uid)
            service imap-login {
              inet_listener imap {
                port = \(imapPort)
              }
              inet_listener imaps {
                port = \(imapsPort)
                ssl = yes
              }
            }

            """
    }

    /// Starts the master in the foreground (its PID is the one we hold) and waits until it
    /// accepts connections.
    public func start() async throws {
        try lock.withLock {
            guard master == nil else { return }
            let output = directory.appendingPathComponent("master.out").path
            master = try Daemon("/usr/sbin/dovecot", ["-F", "-c", configPath], stdout: output, stderr: output)
        }
        let deadline = Date().addingTimeInterval(15)
        while !Self.accepts(port: imapPort) || !Self.accepts(port: imapsPort) {
            guard Date() < deadline else {
                let out = (try? String(contentsOf: directory.appendingPathComponent("master.out"), encoding: .utf8)) ?? ""
                throw ServerError(message: "dovecot did not start: \(out)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM to the master, which ends its IMAP processes too (their clients see the close).
    public func stop() {
        guard
            let master = lock.withLock({ () -> Daemon? in
                defer { self.master = nil }
                return self.master
            })
        else { return }
        // Dovecot 2.3's master leaves logged-in imap processes running when it stops (they keep
        // serving their client): end them too, or a "stopped" server still answers.
        let children = instanceProcesses()
        master.terminate()
        for child in children { kill(child, SIGTERM) }
        let gone = Date().addingTimeInterval(3)
        while children.contains(where: { kill($0, 0) == 0 }), Date() < gone { Thread.sleep(forTimeInterval: 0.02) }
        for child in children where kill(child, 0) == 0 { kill(child, SIGKILL) }
        // The master may be gone a moment before its children release the ports.
        let deadline = Date().addingTimeInterval(5)
        while Self.accepts(port: imapPort), Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// This instance's processes besides the master: Dovecot titles them "<instance_name>/imap".
    private func instanceProcesses() -> [pid_t] {
        let prefix = Array("dovecot-test-\(imapPort)/".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry),
                let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                cmdline.starts(with: prefix)
            else { return nil }
            return pid
        }
    }

    /// Saves one message as is (`doveadm save`), in `mailbox` of `user`.
    public func deliver(raw: [UInt8], user: String = "testuser", mailbox: String = "INBOX") async throws {
        try await doveadm(["save", "-u", user, "-m", mailbox], input: Data(raw))
    }

    /// Many messages at once: written straight into the Maildir's new/ (one doveadm process per
    /// message would take seconds per hundred). Dovecot assigns their UIDs at its next sync,
    /// in no particular order.
    public func deliverMany(_ messages: [[UInt8]], user: String = "testuser") throws {
        let maildir = directory.appendingPathComponent("mail/\(user)/Maildir")
        for sub in ["", "/cur", "/new", "/tmp"] {
            let path = maildir.path + sub
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chown(path, uid_t(Self.uid), gid_t(Self.uid))
        }
        chown(maildir.deletingLastPathComponent().path, uid_t(Self.uid), gid_t(Self.uid))
        let stamp = Int(Date().timeIntervalSince1970)
        for (i, message) in messages.enumerated() {
            let name = "\(stamp).M\(i)P\(getpid())Q\(UUID().uuidString.prefix(8)).nudge-test"
            let tmp = maildir.appendingPathComponent("tmp/\(name)").path
            guard FileManager.default.createFile(atPath: tmp, contents: Data(message)) else {
                throw ServerError(message: "cannot write \(tmp)")
            }
            chown(tmp, uid_t(Self.uid), gid_t(Self.uid))
            // Maildir's rule: complete in tmp/, then renamed into new/.
            rename(tmp, maildir.appendingPathComponent("new/\(name)").path)
        }
    }

    public func createMailbox(_ name: String, user: String = "testuser") async throws {
        try await doveadm(["mailbox", "create", "-u", user, name])
    }

    /// Sets the mailbox's UIDVALIDITY, as a server does when it rebuilds a folder.
    public func changeUIDValidity(to value: UInt32, user: String = "testuser", mailbox: String = "INBOX") async throws {
        try await doveadm(["mailbox", "update", "-u", user, "--uid-validity", String(value), mailbox])
    }

    /// Each message's flags by UID, read by doveadm (not over IMAP, so the reading changes nothing).
    public func flags(user: String = "testuser", mailbox: String = "INBOX") async throws -> [UInt32: [String]] {
        let out = try await doveadm(["-f", "tab", "fetch", "-u", user, "uid flags", "mailbox", mailbox, "all"])
        var flags: [UInt32: [String]] = [:]
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n").dropFirst() {  // header row
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard let uid = fields.first.flatMap({ UInt32($0) }) else { continue }
            flags[uid] = fields.count > 1 ? fields[1].split(separator: " ").map(String.init) : []
        }
        return flags
    }

    /// How many IMAP logins `user` has made so far, from the log (written asynchronously by
    /// Dovecot's log process: the count settles within a moment).
    public func loginCount(user: String = "testuser") -> Int {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return log.components(separatedBy: "\n").filter { $0.contains("imap-login: Info: Login: user=<\(user)>") }.count
    }

    @discardableResult
    public func doveadm(_ arguments: [String], input: Data = Data()) async throws -> Data {
        let done = try await ChildProcess.run("/usr/bin/doveadm", ["-c", configPath] + arguments, input: input, timeout: 120)
        guard done.status == 0 else {
            throw ServerError(message: "doveadm \(arguments.joined(separator: " ")): \(done.status) \(done.errors)")
        }
        return done.output
    }

    public struct ServerError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// A port the kernel just handed out on 127.0.0.1 (bound to port 0, then released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(message: "socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else { throw ServerError(message: "bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something listens on 127.0.0.1:`port`.
    public static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
