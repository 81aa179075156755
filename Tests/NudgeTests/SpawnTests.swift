import Foundation
import NudgeStore
import NudgeTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the test run's own processes inherit. A daemon that kept a descriptor of the test process
/// (Foundation's per-process exit socket among them) left `Process.waitUntilExit` spinning until
/// the daemon ended, and the whole run stalled.
@Suite struct SpawnTests {
    @Test func daemonsInheritOnlyTheirStandardStreams() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)  // open and inheritable in this process
        defer { ends.forEach { close($0) } }
        let daemon = try Daemon("/bin/sleep", ["30"], stdin: ends[0])
        defer { daemon.terminate(grace: 1) }
        // posix_spawn returns after the exec, so the table is the one the daemon runs with.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd")
        #expect(Set(open) == ["0", "1", "2"])
    }

    @Test func shellCommandsInheritOnlyTheirStandardStreams() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { ends.forEach { close($0) } }
        let open = try Shell.run(["/bin/sh", "-c", "ls /proc/$$/fd"]).split(separator: "\n").map(String.init)
        #expect(Set(open) == ["0", "1", "2"])
    }

    /// Stopping a server is bounded even when it ignores SIGTERM: it runs from deinit.
    @Test func terminateEndsAndReapsADaemonThatIgnoresSIGTERM() async throws {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-spawn-\(UUID().uuidString)").path
        defer { unlink(ready) }
        let daemon = try Daemon("/bin/sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], stdout: ready)
        while (try? String(contentsOfFile: ready, encoding: .utf8)) != "ready\n" { try await Task.sleep(for: .milliseconds(10)) }
        daemon.terminate(grace: 0.5)
        #expect(kill(daemon.pid, 0) == -1 && errno == ESRCH)  // gone and reaped: no zombie left
    }
}
