import Foundation
import Testing

/// Locates the shared real-world corpus: $NUDGE_CORPUS, else `<package root>/../shared/corpus`.
/// Missing corpus is a test failure, not a skip.
enum Corpus {
    static var root: URL {
        if let env = ProcessInfo.processInfo.environment["NUDGE_CORPUS"], !env.isEmpty { return URL(fileURLWithPath: env) }
        // This file is <root>/Tests/NudgeMIMETests/CorpusSupport.swift.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    struct Entry: Sendable {
        var file: String
        var kind: String
        var expectedReply: String
    }

    /// MANIFEST.tsv rows (file, class, expected_reply_text with "\n" escapes).
    static func manifest() throws -> [Entry] {
        let url = root.appendingPathComponent("MANIFEST.tsv")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CorpusError.missing("corpus not found at \(root.path); set NUDGE_CORPUS")
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard cols.count >= 2 else { return nil }
            let reply = cols.count > 2 ? cols[2].replacingOccurrences(of: "\\n", with: "\n") : ""
            return Entry(file: cols[0], kind: cols[1], expectedReply: reply)
        }
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(file)))
    }

    enum CorpusError: Error, CustomStringConvertible {
        case missing(String)
        var description: String {
            if case .missing(let s) = self { return s }
            return ""
        }
    }
}
