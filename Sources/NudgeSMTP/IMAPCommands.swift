import Foundation

/// The few commands this client sends, as text. None carries user data except the folder name
/// (quoted, modified UTF-7) and numbers, so none needs a literal.
enum IMAPCommands {
    /// Read-only open: EXAMINE never lets a later FETCH set \Seen, and the product must never
    /// change flags or delete mail.
    static func examine(_ folder: String) -> String { "EXAMINE \(quoted(mailboxName(folder)))" }

    static func searchUIDs(after lastUID: UInt32) -> String { "UID SEARCH UID \(lastUID + 1):*" }

    static func searchSince(_ date: Date) -> String { "UID SEARCH SINCE \(searchDate(date))" }

    static func fetchSizes(_ uids: [UInt32]) -> String { "UID FETCH \(uidSet(uids)) (UID RFC822.SIZE)" }

    /// BODY.PEEK[] is the whole message as stored, and unlike BODY[] it never sets \Seen
    /// (belt and braces with EXAMINE).
    static func fetchBodies(_ uids: [UInt32]) -> String { "UID FETCH \(uidSet(uids)) (UID BODY.PEEK[])" }

    /// "3:5,9": ascending runs collapsed, so a chunk of consecutive UIDs is a short command.
    static func uidSet(_ uids: [UInt32]) -> String {
        let sorted = Array(Set(uids)).sorted()
        var ranges: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            ranges.append(i == j ? "\(sorted[i])" : "\(sorted[i]):\(sorted[j])")
            i = j + 1
        }
        return ranges.joined(separator: ",")
    }

    /// SEARCH's date: "05-Mar-2024", English month names whatever the locale; the day in UTC.
    static func searchDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = c.day! < 10 ? "0\(c.day!)" : "\(c.day!)"
        return "\(day)-\(months[c.month! - 1])-\(c.year!)"
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// RFC 3501 5.1.3 modified UTF-7: printable ASCII as is ("&" as "&-"), anything else as
    /// "&" + base64 of UTF-16BE with "," for "/" and no padding + "-". "Entwürfe" is "Entw&APw-rfe".
    static func mailboxName(_ name: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
            let b64 = Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: ",")
                .replacingOccurrences(of: "=", with: "")
            out += "&\(b64)-"
            pending = []
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20, scalar.value <= 0x7E {
                flush()
                out += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return out
    }
}
