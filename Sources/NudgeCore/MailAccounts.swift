import Foundation

/// How an inbox's own mail server is reached: `starttls` (the session must be upgraded before
/// credentials are sent; SMTP submission 587, IMAP 143) or `tls` (implicit TLS; 465, 993).
public enum MailSecurity: String, Sendable, Codable, CaseIterable {
    case starttls
    case tls
}

/// An inbox's SMTP account as stored and shown: everything but the password, which is sealed
/// apart and never leaves the server (answers show `password_set`).
public struct SMTPAccount: Sendable, Codable, Equatable {
    public var host: String
    public var port: Int
    public var security: MailSecurity
    public var username: String

    public init(host: String, port: Int, security: MailSecurity, username: String) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
    }

    public var json: String { (try? String(decoding: JSONCoding.encoder.encode(self), as: UTF8.self)) ?? "{}" }

    public static func decode(_ json: String?) -> SMTPAccount? {
        guard let json, let data = json.data(using: .utf8) else { return nil }
        return try? JSONCoding.decoder.decode(SMTPAccount.self, from: data)
    }

    /// The `smtp` object of a request: every field named in its 422 (`smtp.host`, ...). The
    /// password is required when there is no stored one to keep (`passwordRequired`).
    public static func validated(_ value: JSONValue, passwordRequired: Bool) throws -> (SMTPAccount, password: String?) {
        let (_, login, password) = try MailLogin.validated(value, field: "smtp", ports: (587, 465), extra: [], passwordRequired: passwordRequired)
        return (SMTPAccount(host: login.host, port: login.port, security: login.security, username: login.username), password)
    }

    /// A DNS name (letters, digits, hyphens, dots) or an IP literal (IPv6 in brackets or not),
    /// lower-cased; nil for anything else.
    package static func hostName(_ raw: String) -> String? {
        var h = raw.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        guard !h.isEmpty, h.utf8.count <= 253 else { return nil }
        if h.contains(":") { return h.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) ? h : nil }
        let labels = h.split(separator: ".", omittingEmptySubsequences: false)
        for l in labels {
            guard (1...63).contains(l.utf8.count), l.first != "-", l.last != "-",
                l.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
            else { return nil }
        }
        return h
    }
}

/// An inbox's IMAP account (README, "Connected mailboxes"): where replies are read from. As for
/// SMTP, the password is sealed apart and never shown.
public struct IMAPAccount: Sendable, Codable, Equatable {
    public var host: String
    public var port: Int
    public var security: MailSecurity
    public var username: String
    /// The folder watched (default INBOX); read only, nothing is flagged or deleted.
    public var folder: String
    /// How often the folder is looked at, in seconds (5 to 3600; default 60).
    public var poll_interval_seconds: Int
    /// On the first connection, read mail from this day on (a backfill); without it only mail
    /// that arrives after the connection is read.
    public var since: String?

    public static let pollRange = 5...3_600

    public var json: String { (try? String(decoding: JSONCoding.encoder.encode(self), as: UTF8.self)) ?? "{}" }

    public static func decode(_ json: String?) -> IMAPAccount? {
        guard let json, let data = json.data(using: .utf8) else { return nil }
        return try? JSONCoding.decoder.decode(IMAPAccount.self, from: data)
    }

    /// The `imap` object of a request, each field named in its 422 (`imap.folder`, ...).
    public static func validated(_ value: JSONValue, passwordRequired: Bool) throws -> (IMAPAccount, password: String?) {
        let (o, login, password) = try MailLogin.validated(
            value, field: "imap", ports: (143, 993), extra: ["folder", "poll_interval_seconds", "since"], passwordRequired: passwordRequired)
        var folder = "INBOX"
        switch o["folder"] {
        case nil, .null?: break
        case .string(let f)? where !f.isEmpty && Validate.length(f) <= 200:
            try Validate.text(f, "imap.folder", max: 200, singleLine: true)
            folder = f
        default: throw NudgeError.validation("imap.folder", "imap.folder must be a folder name of 1 to 200 characters (default INBOX).")
        }
        var interval = 60
        switch o["poll_interval_seconds"] {
        case nil, .null?: break
        case .number(let n)? where n == n.rounded() && pollRange.contains(Int(exactly: n) ?? 0): interval = Int(n)
        default: throw NudgeError.validation("imap.poll_interval_seconds", "imap.poll_interval_seconds must be an integer from 5 to 3600.")
        }
        var since: String?
        switch o["since"] {
        case nil, .null?: break
        case .string(let d)? where ScheduleMath.day(d) != nil: since = d
        default: throw NudgeError.validation("imap.since", "imap.since must be a date (YYYY-MM-DD).")
        }
        return (
            IMAPAccount(
                host: login.host, port: login.port, security: login.security, username: login.username, folder: folder,
                poll_interval_seconds: interval, since: since),
            password
        )
    }
}

/// The fields an SMTP and an IMAP account share, read from a request's object the same way.
package struct MailLogin: Sendable {
    package let host: String
    package let port: Int
    package let security: MailSecurity
    package let username: String

    /// `field`'s object (`smtp` or `imap`) with its keys named in each 422; `extra` are the other
    /// keys the caller reads itself. Returns the object for those.
    package static func validated(
        _ value: JSONValue, field: String, ports: (starttls: Int, tls: Int), extra: Set<String>, passwordRequired: Bool
    ) throws -> ([String: JSONValue], MailLogin, password: String?) {
        guard case .object(let o) = value else {
            throw NudgeError.validation(field, "\(field) must be an object with host, port, security, username and password.")
        }
        for key in o.keys where !["host", "port", "security", "username", "password"].contains(key) && !extra.contains(key) {
            throw NudgeError.validation("\(field).\(key.prefix(64))", "\(field) has no field \(key.prefix(64)).")
        }
        guard case .string(let host)? = o["host"], let h = SMTPAccount.hostName(host) else {
            throw NudgeError.validation("\(field).host", "\(field).host must be a host name or an IP address.")
        }
        guard case .string(let sec)? = o["security"], let security = MailSecurity(rawValue: sec) else {
            throw NudgeError.validation("\(field).security", "\(field).security must be starttls or tls.")
        }
        let port: Int
        switch o["port"] {
        case nil, .null?: port = security == .tls ? ports.tls : ports.starttls
        case .number(let n)? where n == n.rounded() && (1...65_535).contains(n): port = Int(n)
        default: throw NudgeError.validation("\(field).port", "\(field).port must be an integer from 1 to 65535.")
        }
        guard case .string(let user)? = o["username"], !user.isEmpty else {
            throw NudgeError.validation("\(field).username", "\(field).username is required.")
        }
        try Validate.text(user, "\(field).username", max: 320, singleLine: true)
        var password: String?
        switch o["password"] {
        case .string(let p)?:
            guard !p.isEmpty, Validate.length(p) <= 1_024, !p.unicodeScalars.contains(where: { Validate.isControl($0, allowLineBreaks: false) })
            else {
                throw NudgeError.validation("\(field).password", "\(field).password must be 1 to 1024 characters without control characters.")
            }
            password = p
        case nil, .null?:
            if passwordRequired { throw NudgeError.validation("\(field).password", "\(field).password is required.") }
        default: throw NudgeError.validation("\(field).password", "\(field).password must be a string.")
        }
        return (o, MailLogin(host: h, port: port, security: security, username: user), password)
    }
}
