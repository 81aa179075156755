import Foundation

/// Does written text repeat the instructions it was written from? Two measures over word
/// sequences (`GuardText.words`), each documented in the README:
/// - containment: the share of the text's 5-word shingles that also occur in the instructions;
///   at least `containmentLimit` (0.5) of a text with at least 2 shingles (6 words) is an echo;
/// - a verbatim run: the longest run of words copied from an instruction; a run of at least
///   `runShare` (60%) of that instruction's words, and at least `minRun` (8) words, is an echo.
///   A long instruction may still quote a sentence meant for the recipient;
/// - a sentence copied from its start: the first `runShare` (60%) of a sentence of the instruction,
///   and at least `minSentenceRun` (6) words. Echoes copy an instruction from its imperative
///   opening; a sentence quoted for the recipient ("Tell them: we now ship to Canada") does not;
/// - the system prompt is never content: any run of `systemRun` (10) of its words is an echo.
package enum EchoCheck {
    package static let systemRun = 10
    package static let minSentenceRun = 6
    package static let shingle = 5
    package static let containmentLimit = 0.5
    package static let runShare = 0.6
    package static let minRun = 8

    package static func shingles(_ w: [String]) -> Set<[String]> {
        guard w.count >= shingle else { return [] }
        return Set((0...(w.count - shingle)).map { Array(w[$0..<($0 + shingle)]) })
    }

    /// The share of `text`'s shingles found in `source`'s, or nil when the text is too short to say.
    package static func containment(_ text: [String], in source: Set<[String]>) -> Double? {
        let own = shingles(text)
        guard own.count >= 2 else { return nil }
        return Double(own.filter(source.contains).count) / Double(own.count)
    }

    /// The longest run of consecutive words the two share (dynamic programming over one row).
    package static func longestRun(_ a: [String], _ b: [String]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var prev = [Int](repeating: 0, count: b.count + 1)
        var best = 0
        for i in 1...a.count {
            var row = [Int](repeating: 0, count: b.count + 1)
            for j in 1...b.count where a[i - 1] == b[j - 1] {
                row[j] = prev[j - 1] + 1
                best = max(best, row[j])
            }
            prev = row
        }
        return best
    }

    /// The instruction's sentences as words (split at sentence ends and line breaks, not at colons).
    static func sentences(_ text: String) -> [[String]] {
        text.split { ".!?;\n\u{3002}\u{FF01}\u{FF1F}".contains($0) }.map { GuardText.words(String($0)) }.filter { !$0.isEmpty }
    }

    /// The longest stretch of `text` that matches `sentence` from its first word on.
    static func prefixRun(of sentence: [String], in text: [String]) -> Int {
        var best = 0
        for start in text.indices where text[start] == sentence[0] {
            var n = 0
            while n < sentence.count, start + n < text.count, text[start + n] == sentence[n] { n += 1 }
            best = max(best, n)
        }
        return best
    }

    /// Why `text` echoes one of `instructions`, or nil.
    package static func echo(_ text: String, instructions: [String], system: String) -> String? {
        let w = GuardText.words(text)
        guard !w.isEmpty else { return nil }
        let sw = GuardText.words(system)
        if longestRun(w, sw) >= systemRun { return "repeats the system prompt" }
        var all = shingles(sw)
        for instruction in instructions {
            let iw = GuardText.words(instruction)
            all.formUnion(shingles(iw))
            let run = longestRun(w, iw)
            if run >= minRun, Double(run) >= runShare * Double(iw.count) { return "repeats the instructions (\(run) words copied)" }
            for sentence in sentences(instruction) {
                let need = max(minSentenceRun, Int((runShare * Double(sentence.count)).rounded(.up)))
                guard sentence.count >= minSentenceRun, prefixRun(of: sentence, in: w) >= need else { continue }
                return "repeats the instructions (a sentence copied from its start)"
            }
        }
        if let c = containment(w, in: all), c >= containmentLimit {
            return "repeats the instructions (\(Int(c * 100))% of its 5-word sequences)"
        }
        return nil
    }
}
