import Foundation

/// How an inbox's own SMTP account is reached: `starttls` (submission, usually port 587: the
/// session must be upgraded before AUTH) or `tls` (implicit TLS, usually 465).
public enum SMTPSecurity: String, Sendable, Codable, CaseIterable {
    case starttls
    case tls
}

/// An inbox's SMTP account as stored and shown: everything but the password, which is sealed
/// apart and never leaves the server (answers show `password_set`).
public struct SMTPAccount: Sendable, Codable, Equatable {
    public var host: String
    public var port: Int
    public var security: SMTPSecurity
    public var username: String

    public init(host: String, port: Int, security: SMTPSecurity, username: String) {
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
        guard case .object(let o) = value else {
            throw NudgeError.validation("smtp", "smtp must be an object with host, port, security, username and password.")
        }
        for key in o.keys where !["host", "port", "security", "username", "password"].contains(key) {
            throw NudgeError.validation("smtp.\(key.prefix(64))", "smtp has no field \(key.prefix(64)).")
        }
        guard case .string(let host)? = o["host"], let h = hostName(host) else {
            throw NudgeError.validation("smtp.host", "smtp.host must be a host name or an IP address.")
        }
        guard case .string(let sec)? = o["security"], let security = SMTPSecurity(rawValue: sec) else {
            throw NudgeError.validation("smtp.security", "smtp.security must be starttls or tls.")
        }
        let port: Int
        switch o["port"] {
        case nil, .null?: port = security == .tls ? 465 : 587
        case .number(let n)? where n == n.rounded() && (1...65_535).contains(n): port = Int(n)
        default: throw NudgeError.validation("smtp.port", "smtp.port must be an integer from 1 to 65535.")
        }
        guard case .string(let user)? = o["username"], !user.isEmpty else {
            throw NudgeError.validation("smtp.username", "smtp.username is required.")
        }
        try Validate.text(user, "smtp.username", max: 320, singleLine: true)
        var password: String?
        switch o["password"] {
        case .string(let p)?:
            guard !p.isEmpty, Validate.length(p) <= 1_024, !p.unicodeScalars.contains(where: { Validate.isControl($0, allowLineBreaks: false) })
            else {
                throw NudgeError.validation("smtp.password", "smtp.password must be 1 to 1024 characters without control characters.")
            }
            password = p
        case nil, .null?:
            if passwordRequired { throw NudgeError.validation("smtp.password", "smtp.password is required.") }
        default: throw NudgeError.validation("smtp.password", "smtp.password must be a string.")
        }
        return (SMTPAccount(host: h, port: port, security: security, username: user), password)
    }

    /// A DNS name (letters, digits, hyphens, dots) or an IP literal (IPv6 in brackets or not),
    /// lower-cased; nil for anything else.
    static func hostName(_ raw: String) -> String? {
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
