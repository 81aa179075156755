import Foundation
import Logging
import Synchronization

/// Every token secret a test run sees (issued directly, created through the API, or echoed in a
/// response), appended to `$NUDGE_TEST_SECRETS` so that ops/test can grep the clusters' files and
/// the run's logs for them afterwards. Also kept in memory for SecretsTests.
enum SecretLedger {
    private static let seen = Mutex<Set<String>>([])
    private static let file: FileHandle? = ProcessInfo.processInfo.environment["NUDGE_TEST_SECRETS"].flatMap { path in
        FileManager.default.createFile(atPath: path, contents: nil)  // no-op when it exists
        let h = FileHandle(forWritingAtPath: path)
        h?.seekToEndOfFile()
        return h
    }

    static func record(_ secret: String) {
        let isNew = seen.withLock { $0.insert(secret).inserted }
        guard isNew, let file else { return }
        file.write(Data((secret + "\n").utf8))
    }

    /// Records every well-formed token secret in `text` (a response body).
    static func scan(_ text: String) {
        guard text.contains("nudge_") else { return }
        let pattern = /nudge_[0-9A-Za-z]{49}/
        for m in text.matches(of: pattern) { record(String(m.output)) }
    }
}

/// Test logs into a file (`$NUDGE_TEST_LOG_FILE`) instead of the console, for the secrets grep.
enum TestLogFile {
    static let handle: FileHandle? = ProcessInfo.processInfo.environment["NUDGE_TEST_LOG_FILE"].flatMap { path in
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = FileHandle(forWritingAtPath: path)
        h?.seekToEndOfFile()
        return h
    }
    private static let lock = Mutex(())
    static func write(_ line: String) { lock.withLock { _ in handle?.write(Data((line + "\n").utf8)) } }
}

/// A log handler that hands each line, with its metadata, to `sink` (a file, a capture).
struct LineLogHandler: LogHandler {
    let label: String
    let sink: @Sendable (String) -> Void
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink("\(Date()) \(level) \(label): \(message)\(meta)")
    }
}
