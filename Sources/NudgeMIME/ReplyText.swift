/// Extracts the new text of a reply: drops ">" quotes, attribution lines ("On ... wrote:",
/// localized, possibly wrapped over 2-3 lines), "-----Original Message-----" blocks and
/// Outlook "From:/Sent:" header blocks (with everything after them).
///
/// Mobile signatures ("Sent from my iPhone") are kept by default: the product's reference
/// expectations (talon fixtures) keep them. Pass `stripMobileSignatures: true` to drop them.
public enum ReplyText {
    public static func extract(_ text: String, stripMobileSignatures: Bool = false) -> String {
        var lines = text.normalizedLineEndings.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let cut = historyStart(lines) { lines.removeSubrange(cut...) }
        lines = removeQuotesAndAttributions(lines)
        if stripMobileSignatures { lines = lines.filter { !isMobileSignature($0) } }
        // Drop leading blank lines and trailing whitespace of the whole text.
        while let first = lines.first, first.trimmed.isEmpty { lines.removeFirst() }
        var result = lines.joined(separator: "\n")
        while let last = result.unicodeScalars.last, last.properties.isWhitespace { result.unicodeScalars.removeLast() }
        return result
    }

    /// Index of the first line of forwarded/original history that runs to the end.
    static func historyStart(_ lines: [String]) -> Int? {
        for (i, raw) in lines.enumerated() {
            let line = raw.trimmed
            if isOriginalMessageMarker(line) { return i }
            // Outlook: "From: x" followed within a few lines by "Sent:"/"Date:" and "To:"/"Subject:".
            if hasHeaderPrefix(line, fromWords) {
                let window = lines[(i + 1)..<min(lines.count, i + 6)].map { $0.trimmed }
                let hasDate = window.contains { hasHeaderPrefix($0, sentWords) }
                let hasOther = window.contains { hasHeaderPrefix($0, toWords) }
                if hasDate && hasOther { return i }
            }
        }
        return nil
    }

    private static let fromWords = ["from", "von", "de", "van", "da", "od", "fra", "från", "från", "lähettäjä", "від", "от"]
    private static let sentWords = [
        "sent", "date", "gesendet", "datum", "envoyé", "enviado", "fecha", "inviato", "data", "verzonden", "skickat", "sendt", "wysłano",
    ]
    private static let toWords = [
        "to", "subject", "an", "betreff", "à", "objet", "para", "asunto", "a", "oggetto", "aan", "onderwerp", "till", "ämne", "til", "emne", "do",
        "temat", "cc",
    ]

    private static func hasHeaderPrefix(_ line: String, _ words: [String]) -> Bool {
        // Tolerate Markdown/HTML-to-text emphasis such as "*From:*".
        let l = stars(line).lowercased()
        guard let colon = l.firstIndex(of: ":") else { return false }
        return words.contains(String(stars(l[..<colon])))
    }

    /// Without leading and trailing "*" and spaces (Foundation's `trimmingCharacters` bridged
    /// through NSString, twice for every line).
    private static func stars<S: StringProtocol>(_ s: S) -> S.SubSequence {
        let isEdge: (Character) -> Bool = { $0 == "*" || $0 == " " }
        guard let first = s.firstIndex(where: { !isEdge($0) }), let last = s.lastIndex(where: { !isEdge($0) }) else { return s[s.endIndex...] }
        return s[first...last]
    }

    static func isOriginalMessageMarker(_ line: String) -> Bool {
        let l = line.lowercased()
        guard l.hasPrefix("-") || l.hasPrefix("_") || l.hasPrefix("=") || l.hasPrefix("*") || l.hasPrefix("begin forwarded") else { return false }
        let markers = [
            "original message", "forwarded message", "ursprüngliche nachricht", "message d'origine", "mensaje original",
            "messaggio originale", "oorspronkelijk bericht", "originalmeddelande", "original meddelelse", "begin forwarded message",
            "weitergeleitete nachricht", "message transféré", "mensaje reenviado",
        ]
        return markers.contains { l.containsText($0) }
    }

    /// Removes ">" quoted lines, and attribution lines that introduce a quote block.
    static func removeQuotesAndAttributions(_ lines: [String]) -> [String] {
        var drop = [Bool](repeating: false, count: lines.count)
        for (i, l) in lines.enumerated() where l.trimmingPrefixWhitespace().hasPrefix(">") { drop[i] = true }
        for i in lines.indices where drop[i] == false && isAttributionEnd(lines[i]) {
            // Only an attribution if what follows (after blank lines) is quoted text or the end.
            var j = i + 1
            while j < lines.count && lines[j].trimmed.isEmpty { j += 1 }
            guard j == lines.count || drop[j] else { continue }
            // The attribution may be wrapped over up to 3 lines starting at an "On ..."/date line.
            var start: Int? = nil
            var k = i - 1
            while k >= max(0, i - 2), !drop[k], !lines[k].trimmed.isEmpty {
                if startsAttribution(lines[k]) {
                    start = k
                    break
                }
                k -= 1
            }
            let first = start ?? i
            guard looksLikeAttribution(lines[first...i].joined(separator: " ")) else { continue }
            for m in first...i { drop[m] = true }
        }
        return lines.indices.filter { !drop[$0] }.map { lines[$0] }
    }

    /// An attribution's last line ends with ":".
    private static func isAttributionEnd(_ line: String) -> Bool { line.trimmed.hasSuffix(":") }

    private static let attributionVerbs = [
        "wrote", "writes", "schrieb", "a écrit", "escribió", "ha scritto", "schreef", "skrev", "napisał",
        "kirjoitti", "escreveu", "написал", "написала", "yazdı", "geschreven", "írta",
    ]
    private static func looksLikeAttribution(_ s: String) -> Bool {
        let l = s.lowercased()
        return attributionVerbs.contains { l.containsText($0) } || l.containsText("@")
            || l.range(of: #"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"#, options: .regularExpression) != nil
    }
    /// First line of a localized attribution ("On ...", "Am ...", "Le ...", a date, ...).
    private static func startsAttribution(_ line: String) -> Bool {
        let l = line.trimmed.lowercased()
        let starters = ["on ", "am ", "le ", "el ", "il ", "op ", "den ", "em ", "w dniu "]
        return starters.contains { l.hasPrefix($0) } || l.range(of: #"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"#, options: .regularExpression) != nil
    }

    static func isMobileSignature(_ line: String) -> Bool {
        let l = line.trimmed.lowercased()
        let sigs = [
            "sent from my ", "sent from mobile", "sent via ", "get outlook for ", "sent from outlook", "sent from yahoo mail",
            "von meinem iphone gesendet", "envoyé de mon ", "enviado desde mi ", "inviato da ", "verzonden vanaf mijn ", "sent with ",
        ]
        return sigs.contains { l.hasPrefix($0) } && l.count < 80
    }
}

extension String {
    func trimmingPrefixWhitespace() -> Substring { drop(while: { $0 == " " || $0 == "\t" }) }
}
