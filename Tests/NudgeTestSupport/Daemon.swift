import Foundation
import NudgeCore

#if canImport(Glibc)
    import Glibc
#endif

/// A test server process (dnsmasq, Dovecot, the Python servers) started with posix_spawn, not
/// Foundation's Process: children inherit the spawning thread's signal mask, Swift's worker threads
/// block SIGTERM, so a Process-started daemon ignored terminate(); and Process learns of an exit
/// through a socket the child holds, which any process spawned meanwhile that kept its
/// descriptors holds too, so waitUntilExit() could spin until that one ended.
public struct Daemon: Sendable {
    public let pid: pid_t

    public struct SpawnError: Error, CustomStringConvertible {
        public var path: String
        public var code: Int32
        public var description: String { "posix_spawn \(path) failed: errno \(code)" }
    }

    /// Starts `path` with `arguments`; stdin is `stdin` (a descriptor) or /dev/null, stdout/stderr
    /// go to the given files (or /dev/null). The child inherits nothing else.
    public init(
        _ path: String, _ arguments: [String], stdin: Int32? = nil, stdout: String = "/dev/null", stderr: String = "/dev/null"
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // Files, not pipes: a pipe's reader would wait for every process holding its end.
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        Spawn.closeInherited(&actions)

        // Empty signal mask and default dispositions, so SIGTERM works in the child.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnError(path: path, code: result) }
        pid = child
    }

    /// Waits for this child (only this pid) and returns its exit code, or -signal.
    @discardableResult
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : -signal
    }

    public var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// SIGTERM, and SIGKILL if it has not ended within `grace` seconds; then reap it. Bounded,
    /// because it blocks its thread (servers stop from deinit).
    public func terminate(grace: Double = 5) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        var status: Int32 = 0
        while Date() < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped == -1 && errno != EINTR) { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        wait()
    }
}
