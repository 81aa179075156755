import Foundation

/// A Python test server (smtp_server.py, webhook_receiver.py) started as a child process: its
/// stderr goes to `directory/server.log`, its stdin is a pipe it watches (closed when the test
/// process ends, so the server follows), and `start` returns once it printed "PORT <n>".
public enum PythonServer {
    public struct StartError: Error { let output: String }

    public static func start(python: String, arguments: [String], directory: URL) throws -> (process: Process, stdin: Pipe, port: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        let stdin = Pipe()
        process.standardInput = stdin
        let logPath = directory.appendingPathComponent("server.log").path
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        process.standardError = FileHandle(forWritingAtPath: logPath)  // tracebacks (refused TLS etc.)
        try process.run()
        var output = Data()
        while !output.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            output += chunk
        }
        let line = String(decoding: output, as: UTF8.self)
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw StartError(output: line)
        }
        return (process, stdin, port)
    }
}
