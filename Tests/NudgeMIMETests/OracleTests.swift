import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeMIME

/// Compares NudgeMIME's extraction with Python's `email` package (oracle.py) on every corpus file.
@Suite struct OracleTests {
    struct OracleRow: Decodable {
        var file: String
        var subject: String?, from: String?, message_id: String?, text: String?
        var subject_error: String?, from_error: String?, message_id_error: String?, text_error: String?
        var defects: [String]?
    }

    /// Known ways the oracle itself is wrong. A differing field is skipped (and counted) only for these.
    static func oracleExcuse(_ field: String, ours: String, theirs: String, row: OracleRow) -> String? {
        // Python gives up on an encoded word whose charset/bytes it cannot decode and returns it raw.
        if field == "subject", theirs.contains("=?"), !ours.contains("=?") { return "python left an RFC 2047 word undecoded" }
        // Python decodes with errors="replace" and yields U+FFFD where the declared charset does not fit the bytes.
        if field == "text", theirs.contains("\u{FFFD}"), !ours.contains("\u{FFFD}") { return "python could not decode the declared charset" }
        // Python reported a structural defect (unindented "boundary=", missing delimiter) and split the tree differently.
        if field == "text", !(row.defects ?? []).isEmpty {
            return "python mis-split a malformed multipart (\((row.defects ?? []).joined(separator: ",")))"
        }
        return nil
    }

    static func runOracle(files: [String]) async throws -> [OracleRow] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("oracle.py")
        let run = try await ChildProcess.run(
            "/usr/bin/env", ["python3", script.path, Corpus.root.path], input: Data(files.joined(separator: "\n").utf8), timeout: 600)
        #expect(run.status == 0, "oracle.py failed: \(run.errors.suffix(2000))")
        return try run.output.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(OracleRow.self, from: Data($0)) }
    }

    /// Same walk as oracle.py: document order, into message/rfc822, not into text/rfc822-headers
    /// (Python keeps that as text) or message/delivery-status.
    static func firstTextPlain(_ p: MIMEPart) -> MIMEPart? {
        if p.contentType == "text/plain" && p.children.isEmpty { return p }
        if p.contentType == "text/rfc822-headers" || p.contentType == "message/delivery-status" { return nil }
        for c in p.children { if let f = firstTextPlain(c) { return f } }
        return nil
    }

    static func squash(_ s: String?) -> String {
        (s ?? "").split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
    static func normalizeBody(_ s: String?) -> String {
        (s ?? "").normalizedLineEndings.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.replacing(/\s+$/, with: "") }.joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func agreesWithPythonEmail() async throws {
        let files = try Corpus.manifest().map(\.file)
        let rows = try await Self.runOracle(files: files)
        #expect(rows.count == files.count)
        var agree: [String: Int] = [:]
        var compared: [String: Int] = [:]
        var skipped: [String: Int] = [:]
        func check(_ field: String, _ oracleError: String?, _ ours: String, _ theirs: String, _ row: OracleRow) {
            let file = row.file
            if oracleError != nil {
                skipped["\(field): oracle raised", default: 0] += 1
                return
            }
            if ours != theirs, let excuse = Self.oracleExcuse(field, ours: ours, theirs: theirs, row: row) {
                skipped["\(field): \(excuse)", default: 0] += 1
                return
            }
            compared[field, default: 0] += 1
            if ours == theirs {
                agree[field, default: 0] += 1
            } else {
                print(
                    "ORACLE DIFF \(field) \(file)\n  ours:   \(ours.prefix(200).debugDescription)\n  python: \(theirs.prefix(200).debugDescription)")
            }
        }
        for row in rows {
            let raw = try Corpus.bytes(row.file)
            let m = InboundMessage.analyze(raw)
            check("subject", row.subject_error, Self.squash(m.header("Subject")), Self.squash(row.subject), row)
            // Python spells the null sender's addr_spec "<>"; NudgeMIME gives an empty address.
            check("from", row.from_error, m.from?.address ?? "", row.from == "<>" ? "" : (row.from ?? ""), row)
            let theirID = row.message_id.flatMap { MessageID.parse($0) } ?? ""
            check("message-id", row.message_id_error, m.messageID ?? "", theirID, row)
            check("text", row.text_error, Self.normalizeBody(Self.firstTextPlain(m.mime)?.text), Self.normalizeBody(row.text), row)
        }
        let totalAgree = agree.values.reduce(0, +)
        let totalCompared = compared.values.reduce(0, +)
        for f in ["subject", "from", "message-id", "text"] { print("oracle \(f): \(agree[f] ?? 0)/\(compared[f] ?? 0)") }
        for (reason, n) in skipped.sorted(by: { $0.key < $1.key }) { print("oracle skipped \(n): \(reason)") }
        print("oracle overall: \(totalAgree)/\(totalCompared)")
        #expect(totalCompared >= 4 * rows.count - 40, "too many comparisons skipped")
        #expect(Double(totalAgree) >= 0.99 * Double(totalCompared))
    }
}
