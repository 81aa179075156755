import Foundation
import Mustache
import NudgeCore
import NudgeStore

/// The prompt templates of `prompts/`, loaded and checked at start-up so a missing or broken
/// file stops the server instead of failing at the first send.
public struct Prompts: Sendable {
    package let writeSystem: MustacheTemplate
    package let writeUser: MustacheTemplate
    package let judgeSystem: MustacheTemplate
    package let judgeUser: MustacheTemplate
    package let intentSystem: MustacheTemplate
    package let intentUser: MustacheTemplate

    public struct Missing: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "prompt \(file): \(reason)" }
    }

    package static let files: [(name: String, mustContain: [String])] = [
        ("write_step.system", ["<<<DATA"]), ("write_step.user", ["{{instruction}}"]),
        ("judge.system", ["<<<DATA"]), ("judge.user", ["{{condition}}", "{{text}}"]),
        ("reply_intent.system", ["<<<DATA"]), ("reply_intent.user", ["<<<DATA", "{{text}}"]),
    ]

    public init(directory: String) throws {
        var loaded: [String: MustacheTemplate] = [:]
        for (name, needles) in Self.files {
            let path = "\(directory)/\(name).mustache"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Missing(file: path, reason: "cannot be read") }
            for n in needles where !text.contains(n) { throw Missing(file: path, reason: "must contain \(n)") }
            do { loaded[name] = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text) } catch {
                throw Missing(file: path, reason: "is not valid Mustache")
            }
        }
        writeSystem = loaded["write_step.system"]!
        writeUser = loaded["write_step.user"]!
        judgeSystem = loaded["judge.system"]!
        judgeUser = loaded["judge.user"]!
        intentSystem = loaded["reply_intent.system"]!
        intentUser = loaded["reply_intent.user"]!
    }

    /// Untrusted text cannot close the data block it is quoted in.
    package static func quote(_ s: String, limit: Int) -> String {
        String(s.replacingOccurrences(of: "DATA>>>", with: "DATA>>").replacingOccurrences(of: "<<<DATA", with: "<<DATA").prefix(limit))
    }
}
