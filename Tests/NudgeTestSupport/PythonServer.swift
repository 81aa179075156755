import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A Python test server (smtp_server.py, webhook_receiver.py) run as a `Daemon`: its stderr goes to
/// `directory/server.log`, its stdin is a pipe it watches (closed by `stop` or when the test process
/// ends, so the server follows), and `start` returns once it wrote "PORT <n>".
public final class PythonServer: @unchecked Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public private(set) var port = 0
    private let daemon: Daemon
    private let lock = NSLock()
    /// The write end of its stdin; nil once it has been stopped or was found ended (and reaped).
    private var input: FileHandle?

    private init(daemon: Daemon, input: FileHandle) {
        (self.daemon, self.input) = (daemon, input)
    }

    /// Waits for the port line by polling a file, so no thread blocks meanwhile.
    public static func start(python: String, arguments: [String], directory: URL) async throws -> PythonServer {
        let portFile = directory.appendingPathComponent("port.out").path
        let logPath = directory.appendingPathComponent("server.log").path
        unlink(portFile)
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StartError(description: "pipe failed: errno \(errno)") }
        // Close-on-exec here: only the child's copy on its stdin survives its exec.
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        let input = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        let daemon: Daemon
        do {
            defer { close(ends[0]) }
            daemon = try Daemon(python, arguments, stdin: ends[0], stdout: portFile, stderr: logPath)
        }
        let server = PythonServer(daemon: daemon, input: input)
        let name = arguments.first ?? python
        for _ in 0..<1500 {
            let line = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
            if line.hasSuffix("\n") {
                guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw StartError(description: "\(name) wrote \(line)")
                }
                server.port = port
                return server
            }
            if !server.daemon.isRunning {
                server.lock.withLock { server.input = nil }
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw StartError(description: "\(name) exited: \(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartError(description: "\(name) wrote no port within 30 s")
    }

    /// Closes its stdin, sends SIGTERM (SIGKILL after 5 s) and reaps it. Once only: the pid may be
    /// reused after that.
    public func stop() {
        let taken = lock.withLock {
            defer { input = nil }
            return input
        }
        guard let input = taken else { return }
        try? input.close()
        daemon.terminate()
    }

    deinit { stop() }
}
