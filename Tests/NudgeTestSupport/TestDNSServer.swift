import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private dnsmasq (Debian `dnsmasq-base`) on 127.0.0.1 for one test: it answers only what it
/// is given (no upstream, no hosts file), over UDP and TCP on one free port. `publish` restarts it
/// on the same port with other TXT records; deinit stops it.
public final class TestDNSServer: @unchecked Sendable {
    public let port: Int
    private let extra: [String]
    private let lock = NSLock()
    private var daemon: Daemon?

    /// `txt`: name → value, each value published as one record (split into 255-byte strings).
    /// `arguments`: more dnsmasq options (`--cname=...`, `--local=/zone/`).
    public init(txt: [String: String] = [:], arguments: [String] = []) async throws {
        port = try TestIMAPServer.freePort()
        extra = arguments
        try await publish(txt)
    }

    deinit { stop() }

    /// Serves exactly these TXT records from now on.
    public func publish(_ txt: [String: String]) async throws {
        stop()
        let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else { throw TestIMAPServer.ServerError(message: "dnsmasq not found: apt-get install -y dnsmasq-base") }
        // On the command line each comma-separated text is one character-string.
        let records = txt.map { name, value in "--txt-record=\(name)," + Self.strings(value).joined(separator: ",") }
        let d = try Daemon(
            binary,
            [
                "--keep-in-foreground", "--conf-file=/dev/null", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
            ] + records + extra)
        lock.withLock { daemon = d }
        let deadline = Date().addingTimeInterval(10)
        while !TestIMAPServer.accepts(port: port) {
            guard Date() < deadline, d.isRunning else { throw TestIMAPServer.ServerError(message: "dnsmasq did not start on port \(port)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func stop() {
        guard
            let d = lock.withLock({ () -> Daemon? in
                defer { daemon = nil }
                return daemon
            })
        else { return }
        d.terminate()
    }

    static func strings(_ value: String) -> [String] {
        var out: [String] = []
        var rest = Substring(value)
        while !rest.isEmpty {
            out.append(String(rest.prefix(200)))
            rest = rest.dropFirst(200)
        }
        return out.isEmpty ? [""] : out
    }
}
