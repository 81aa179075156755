import Foundation

/// Links, email addresses and phone numbers in written text must come from the allowed context:
/// a thread can hold mail written by anyone, and an injected reply must not make the model send
/// "pay to attacker@evil.test" or a phishing link under the organization's name.
/// Obfuscated forms (`hxxp://`, `evil[.]test`, `evil(dot)test`) are refused outright, look-alike
/// and punycode domains fail the exact comparison, and a Markdown link whose text names another
/// host than its target is refused.
package enum ContactPointCheck {
    /// What written text may point to.
    package struct Allowed: Sendable {
        /// Hosts (and their subdomains) links may go to.
        package var domains: Set<String> = []
        /// Domains (and subdomains) any address of which may appear: the inbox's and the organization's.
        package var addressDomains: Set<String> = []
        package var addresses: Set<String> = []
        /// Phone numbers as digit strings.
        package var phones: Set<String> = []

        package init() {}

        /// Everything `text` names (links, bare domains, addresses, phone numbers) becomes allowed.
        package mutating func learn(from text: String) {
            let found = ContactPointCheck.scan(text)
            domains.formUnion(found.hosts)
            domains.formUnion(found.addresses.compactMap(ContactPointCheck.domain(of:)))
            addresses.formUnion(found.addresses)
            phones.formUnion(found.phones)
        }

        package mutating func allowAddress(_ address: String) {
            let a = GuardText.fold(address)
            addresses.insert(a)
            if let d = ContactPointCheck.domain(of: a) { domains.insert(d) }
        }

        package mutating func allowDomain(_ domain: String, anyAddress: Bool) {
            let d = GuardText.fold(domain).trimmingCharacters(in: CharacterSet(charactersIn: "."))
            guard !d.isEmpty else { return }
            domains.insert(d)
            if anyAddress { addressDomains.insert(d) }
        }
    }

    struct Found {
        var hosts: [String] = []
        var addresses: [String] = []
        var phones: [String] = []
        var problems: [String] = []
    }

    /// Why `text` points somewhere it may not, or nil.
    package static func problem(_ text: String, allowed: Allowed) -> String? {
        if let o = obfuscation(text) { return "contains an obfuscated link or address (\(o))" }
        let found = scan(text)
        if let p = found.problems.first { return p }
        for h in found.hosts where !covered(h, by: allowed.domains) { return "links to \(h), which the context does not name" }
        for a in found.addresses where !allowed.addresses.contains(a) {
            guard let d = domain(of: a), covered(d, by: allowed.addressDomains) else { return "names the address \(a), which the context does not" }
        }
        for p in found.phones where !allowed.phones.contains(where: { samePhone($0, p) }) {
            return "names the phone number \(p), which the context does not"
        }
        return nil
    }

    static func covered(_ host: String, by domains: Set<String>) -> Bool {
        domains.contains { host == $0 || host.hasSuffix("." + $0) }
    }

    static func domain(of address: String) -> String? {
        address.split(separator: "@").last.map(String.init).flatMap { $0.isEmpty || !address.contains("@") ? nil : $0 }
    }

    /// Two digit strings are the same number when equal, or when one ends with the other (a
    /// country or trunk prefix) and they share at least 7 digits.
    static func samePhone(_ a: String, _ b: String) -> Bool {
        a == b || (min(a.count, b.count) >= 7 && (a.hasSuffix(b) || b.hasSuffix(a)))
    }

    static func regex(_ p: String) -> NSRegularExpression { try! NSRegularExpression(pattern: p, options: [.caseInsensitive]) }

    static let obfuscations = regex(
        #"h(?:xx|\*\*|xxx)ps?\s*(?::|\[:\])\s*//|\[\s*(?:\.|dot|punkt|point|punto|@|at)\s*\]|\(\s*(?:\.|dot|punkt|point|punto|@|at)\s*\)|\{\s*(?:\.|dot|@|at)\s*\}|[\p{L}\p{N}]\s+(?:dot|punkt|point|punto)\s+(?:com|net|org|io|co|test|info|biz|de|fr|es|ru|cn|uk|xyz)\b"#
    )

    static func obfuscation(_ text: String) -> String? {
        let f = normalized(text)
        guard let m = obfuscations.firstMatch(in: f, range: NSRange(f.startIndex..., in: f)), let r = Range(m.range, in: f) else { return nil }
        return String(f[r])
    }

    /// Folded text with the ideographic and other full stops as ASCII dots.
    static func normalized(_ text: String) -> String {
        var f = GuardText.fold(text)
        for dot in ["\u{3002}", "\u{FF61}", "\u{FE12}", "\u{2024}"] { f = f.replacingOccurrences(of: dot, with: ".") }
        return f
    }

    static let markdownLink = regex(#"\[([^\]\n]{1,200})\]\(\s*<?([^)\s>]{1,2000})>?[^)]*\)"#)
    static let url = regex(#"\b[a-z][a-z0-9+.-]{1,20}:(?://|(?=[^\s]))[^\s<>"'`\])]+|\bwww\.[^\s<>"'`\])]+"#)
    static let address = regex(#"[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+"#)
    static let bareDomain = regex(
        #"(?<![\p{L}\p{N}@_-])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+([\p{L}]{2,24}|xn--[a-z0-9-]{2,59})(?![\p{L}\p{N}-]|\.[\p{L}\p{N}])"#
    )
    static let phone = regex(#"(?<![\p{N}\p{L}+])\+?\(?\p{N}[\p{N} ().\-/\x{00A0}]{5,}\p{N}(?![\p{N}\p{L}])"#)
    static let date = regex(#"^\p{N}{1,4}[./-]\p{N}{1,2}[./-]\p{N}{1,4}$"#)

    /// Top-level domains recognised in bare domains: all two-letter codes (but "js", a file
    /// extension) plus common generic ones; "node.js", "e.g." and "Ph.D." are not domains.
    static let genericTLDs: Set<String> = [
        "com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "app", "dev", "xyz", "online", "site", "shop", "store", "tech",
        "cloud", "page", "link", "click", "top", "club", "live", "email", "help", "support", "pro", "name", "mobi", "asia", "tel", "travel",
        "jobs", "news", "blog", "agency", "digital", "solutions", "services", "company", "business", "team", "world", "today", "space",
        "website", "host", "systems", "network", "media", "group", "global", "zone", "fun", "win", "loan", "work", "download", "review",
        "stream", "trade", "science", "party", "icu", "cyou", "cfd", "sbs", "rest", "bar", "ltd", "inc", "llc", "finance", "money", "bank",
        "pay", "wallet", "crypto", "test", "example", "invalid", "localhost", "local", "onion", "рф", "укр", "бел", "中国", "中國", "公司",
        "网络", "在线", "香港", "台灣", "みんな", "コム", "한국", "닷컴",
    ]

    static func isTLD(_ t: String) -> Bool {
        if t.hasPrefix("xn--") || genericTLDs.contains(t) { return true }
        return t.count == 2 && t.allSatisfy { $0.isASCII && $0.isLetter } && t != "js"
    }

    static func host(ofURL u: String) -> String? {
        var rest = Substring(u)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] } else if rest.hasPrefix("www.") {} else { return nil }
        let authority = rest.prefix { !"/?#\\".contains($0) }
        // "https://acme.test@evil.test/" goes to evil.test: the host follows the last "@".
        var h = authority.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        if let colon = h.lastIndex(of: ":"), !h.hasPrefix("[") { h = String(h[..<colon]) }
        return h.trimmingCharacters(in: CharacterSet(charactersIn: ".")).lowercased()
    }

    static func matches(_ r: NSRegularExpression, _ s: String) -> [NSTextCheckingResult] {
        r.matches(in: s, range: NSRange(s.startIndex..., in: s))
    }

    static func text(_ s: String, _ range: NSRange) -> String { Range(range, in: s).map { String(s[$0]) } ?? "" }

    /// The hosts, addresses and phone numbers `text` names, and problems found on the way.
    static func scan(_ text: String) -> Found {
        var found = Found()
        var rest = normalized(text)
        for m in matches(markdownLink, rest) {
            let label = self.text(rest, m.range(at: 1))
            let target = self.text(rest, m.range(at: 2))
            let labelHosts = scan(label).hosts + scan(label).addresses.compactMap(domain(of:))
            let targetHost = host(ofURL: target) ?? (target.lowercased().hasPrefix("mailto:") ? domain(of: String(target.dropFirst(7))) : nil)
            if let lh = labelHosts.first, lh != targetHost {
                found.problems.append("a link's text names \(lh) but it goes to \(targetHost ?? target)")
            }
        }
        for m in matches(url, rest).reversed() {
            let u = self.text(rest, m.range)
            let scheme = u.prefix { $0 != ":" }.lowercased()
            if scheme == "mailto" {
                found.addresses.append(String(u.dropFirst(7).prefix { $0 != "?" }).lowercased())
            } else if scheme == "tel" {
                found.phones.append(digits(String(u.dropFirst(4))))
            } else if ["http", "https", "www"].contains(scheme) || u.hasPrefix("www.") {
                if let h = host(ofURL: u), !h.isEmpty { found.hosts.append(h) } else { found.problems.append("contains a malformed link") }
            } else if u.contains("//") || ["javascript", "data", "file", "vbscript", "ftp", "sms", "ws", "wss"].contains(scheme) {
                found.problems.append("contains a \(scheme): link")
            } else {
                continue  // "Note:x" and the like: a word and a colon, not a link
            }
            if let r = Range(m.range, in: rest) { rest.replaceSubrange(r, with: " ") }
        }
        for m in matches(address, rest).reversed() {
            found.addresses.append(self.text(rest, m.range).lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")))
            if let r = Range(m.range, in: rest) { rest.replaceSubrange(r, with: " ") }
        }
        for m in matches(bareDomain, rest) where isTLD(self.text(rest, m.range(at: 1)).lowercased()) {
            found.hosts.append(self.text(rest, m.range).lowercased())
        }
        for m in matches(phone, rest) {
            let candidate = self.text(rest, m.range).trimmingCharacters(in: .whitespaces)
            let d = digits(candidate)
            guard (7...15).contains(d.count), matches(date, candidate).isEmpty else { continue }
            if nextToCurrency(rest, m.range) { continue }  // "1 250 000 €" is an amount
            let separated = candidate.hasPrefix("+") || candidate.contains { " ().-/\u{00A0}".contains($0) }
            if separated || d.count >= 10 { found.phones.append(d) }
        }
        return found
    }

    static func nextToCurrency(_ s: String, _ range: NSRange) -> Bool {
        guard let r = Range(range, in: s) else { return false }
        let before = s[..<r.lowerBound].reversed().drop { $0 == " " }.first
        let after = s[r.upperBound...].drop { $0 == " " }.first
        return [before, after].contains { c in c?.unicodeScalars.first?.properties.generalCategory == .currencySymbol }
    }

    static func digits(_ s: String) -> String {
        String(s.compactMap { $0.wholeNumberValue.map { Character(String($0)) } })
    }
}
