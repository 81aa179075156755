import Foundation

/// Runs a short-lived program to completion with its input and output in files, not pipes: a pipe's
/// reader waits for every holder of the writing end, and a daemon another test starts meanwhile
/// may hold it. Returns the exit status and what the program wrote to standard output.
public enum ChildProcess {
    public static func run(_ executable: String, _ arguments: [String], input: Data = Data()) throws -> (status: Int32, output: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("in")
        let outPath = dir.appendingPathComponent("out")
        try input.write(to: inPath)
        FileManager.default.createFile(atPath: outPath.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: inPath)
        process.standardOutput = try FileHandle(forWritingTo: outPath)
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try Data(contentsOf: outPath))
    }
}
