import Foundation

#if canImport(Glibc)
    import Glibc
    import NudgeCore
#endif

/// Runs a helper program to completion (PostgreSQL's `initdb`, `pg_ctl`, `psql`).
/// Uses posix_spawn and waitpid directly: `pg_ctl start` leaves a daemon behind, which Foundation's
/// Process does not always cope with. Output goes to a file so a failure can be reported with its
/// cause; only standard output is returned.
package enum Shell {
    package struct Failure: Error, CustomStringConvertible {
        package let command: String
        package let status: Int32
        package let output: String
        package var description: String { "\(command) exited with \(status): \(output.suffix(600))" }
    }

    @discardableResult
    package static func run(_ argv: [String]) throws -> String {
        let outPath = NSTemporaryDirectory() + "nudge-shell-\(UUID().uuidString)"
        let errPath = outPath + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else is inherited: the postmaster would otherwise hold what this process had open.
        Spawn.closeInherited(&actions)
        // Run from "/": the postgres user may not be allowed into the caller's working directory.
        let argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + argv
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        guard rc == 0 else { throw Failure(command: argv.joined(separator: " "), status: rc, output: String(cString: strerror(rc))) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard code == 0 else { throw Failure(command: argv.joined(separator: " "), status: code, output: out + err) }
        return out
    }

    package static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
