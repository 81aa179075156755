import Foundation

/// Runs a program to completion with its input and output in files, not pipes: a pipe's reader
/// waits for every holder of the writing end, and a daemon another test starts meanwhile may hold it.
public enum ChildProcess {
    public struct Finished: Sendable {
        public let status: Int32
        /// What the program wrote to standard output, and to standard error.
        public let output: Data
        public let errors: String
    }

    /// Waits without blocking a thread (the server the program talks to may run in this process),
    /// and ends the program after `timeout` seconds.
    public static func run(_ executable: String, _ arguments: [String], input: Data = Data(), timeout: Double) async throws -> Finished {
        let files = try Files(input)
        defer { files.remove() }
        let process = try files.process(executable, arguments)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if process.isRunning { process.terminate() } }
        }
        return files.finished(status)
    }

    /// A folder of its own holding the program's standard input, output and error.
    private struct Files {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-child-\(UUID().uuidString)")
        var input: URL { dir.appendingPathComponent("in") }
        var output: URL { dir.appendingPathComponent("out") }
        var errors: URL { dir.appendingPathComponent("err") }

        init(_ data: Data) throws {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try data.write(to: input)
            try Data().write(to: output)
            try Data().write(to: errors)
        }

        func process(_ executable: String, _ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardInput = try FileHandle(forReadingFrom: input)
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: errors)
            return process
        }

        func finished(_ status: Int32) -> Finished {
            Finished(
                status: status, output: (try? Data(contentsOf: output)) ?? Data(),
                errors: String(decoding: (try? Data(contentsOf: errors)) ?? Data(), as: UTF8.self))
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }
    }
}
