import Foundation

/// What a token may send: caps per UTC day, the recipient domains, and which steps a person must
/// approve. A token's own policy overrides the organization's defaults field by field (an explicit
/// null in the token's policy lifts that default); nil fields are unlimited.
public struct SendPolicy: Codable, Sendable, Equatable {
    public enum Approval: String, Codable, Sendable, CaseIterable {
        case none, llm_steps, all_steps
    }

    /// Emails per UTC day for the enrollments this token made.
    public var daily_email_cap: Int?
    /// New enrollments per UTC day.
    public var daily_enrollment_cap: Int?
    /// If set, only these recipient domains (exact, or `*.suffix` for the suffix's subdomains).
    public var allowed_domains: [String]?
    /// Never these recipient domains (same forms).
    public var blocked_domains: [String]?
    public var require_approval: Approval?
    /// How long a draft waits for a decision (hours; 72 when unset), and what its expiry does.
    public var approval_expiry_hours: Int?
    public var approval_expiry_action: ExpiryAction?

    public enum ExpiryAction: String, Codable, Sendable { case send, skip }

    public init(
        daily_email_cap: Int? = nil, daily_enrollment_cap: Int? = nil, allowed_domains: [String]? = nil, blocked_domains: [String]? = nil,
        require_approval: Approval? = nil
    ) {
        self.daily_email_cap = daily_email_cap
        self.daily_enrollment_cap = daily_enrollment_cap
        self.allowed_domains = allowed_domains
        self.blocked_domains = blocked_domains
        self.require_approval = require_approval
    }

    /// Always every key, null when unset: the answer shows the whole policy.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(daily_email_cap, forKey: .daily_email_cap)
        try c.encode(daily_enrollment_cap, forKey: .daily_enrollment_cap)
        try c.encode(allowed_domains, forKey: .allowed_domains)
        try c.encode(blocked_domains, forKey: .blocked_domains)
        try c.encode(require_approval ?? Approval.none, forKey: .require_approval)
        try c.encode(expiryHours, forKey: .approval_expiry_hours)
        try c.encode(expiryAction, forKey: .approval_expiry_action)
    }

    public var expiryHours: Int { approval_expiry_hours ?? 72 }
    public var expiryAction: ExpiryAction { approval_expiry_action ?? .skip }

    /// Whether a person must approve `step` before it is sent (reminders never: they send nothing).
    public func needsApproval(_ step: Step) -> Bool {
        guard step.type != .reminder else { return false }
        switch approval {
        case .none: return false
        case .llm_steps: return step.prompt != nil
        case .all_steps: return true
        }
    }

    public static let fields = [
        "daily_email_cap", "daily_enrollment_cap", "allowed_domains", "blocked_domains", "require_approval", "approval_expiry_hours",
        "approval_expiry_action",
    ]

    public var approval: Approval { require_approval ?? .none }

    /// The rule that refuses `address`, if one does: "blocked_domains" or "allowed_domains".
    public func refusal(of address: String) -> String? {
        let domain = Self.domain(of: address)
        if let blocked = blocked_domains, blocked.contains(where: { Self.matches(domain, $0) }) { return "blocked_domains" }
        if let allowed = allowed_domains, !allowed.contains(where: { Self.matches(domain, $0) }) { return "allowed_domains" }
        return nil
    }

    public static func domain(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        var d = address[address.index(after: at)...].lowercased()
        if d.hasSuffix(".") { d.removeLast() }
        return d
    }

    /// `example.com` matches only itself; `*.example.com` matches its subdomains, not itself.
    public static func matches(_ domain: String, _ pattern: String) -> Bool {
        if pattern.hasPrefix("*.") { return domain.hasSuffix(pattern.dropFirst(1)) }
        return domain == pattern
    }

    /// Checks a policy object as sent (every key optional, null allowed) and returns it with
    /// domains lowercased. `param` prefixes the field names in errors.
    public static func validated(_ value: JSONValue, param: String) throws -> [String: JSONValue] {
        guard case .object(let o) = value else { throw NudgeError.validation(param, "\(param) must be an object or null.") }
        var out: [String: JSONValue] = [:]
        for (key, v) in o {
            let name = "\(param).\(key)"
            switch key {
            case "daily_email_cap", "daily_enrollment_cap":
                switch v {
                case .null: out[key] = .null
                case .number(let n) where n >= 0 && n <= 10_000_000 && n == n.rounded(): out[key] = .number(n)
                default: throw NudgeError.validation(name, "\(name) must be a whole number from 0 to 10000000, or null.")
                }
            case "allowed_domains", "blocked_domains":
                switch v {
                case .null: out[key] = .null
                case .array(let items) where items.count <= 1000:
                    var domains: [JSONValue] = []
                    for (i, item) in items.enumerated() {
                        guard let s = item.string, let d = Self.domainPattern(s) else {
                            throw NudgeError.validation(
                                "\(name)[\(i)]", "\(name)[\(i)] must be a domain such as example.com, or *.example.com for its subdomains.")
                        }
                        domains.append(.string(d))
                    }
                    out[key] = .array(domains)
                default: throw NudgeError.validation(name, "\(name) must be a list of at most 1000 domains, or null.")
                }
            case "approval_expiry_hours":
                switch v {
                case .null: out[key] = .null
                case .number(let n) where n >= 1 && n <= 8760 && n == n.rounded(): out[key] = .number(n)
                default: throw NudgeError.validation(name, "\(name) must be a whole number of hours from 1 to 8760, or null.")
                }
            case "approval_expiry_action":
                switch v {
                case .null: out[key] = .null
                case .string(let s) where ExpiryAction(rawValue: s) != nil: out[key] = v
                default: throw NudgeError.validation(name, "\(name) must be send or skip.")
                }
            case "require_approval":
                switch v {
                case .null: out[key] = .null
                case .string(let s) where Approval(rawValue: s) != nil: out[key] = v
                default: throw NudgeError.validation(name, "\(name) must be none, llm_steps or all_steps.")
                }
            default:
                throw NudgeError.validation(name, "Unknown field \(name); a send policy has \(fields.joined(separator: ", ")).")
            }
        }
        return out
    }

    /// A domain (letters, digits, hyphens, dots; at least one dot) or `*.` and one, lowercased.
    static func domainPattern(_ raw: String) -> String? {
        let s = raw.lowercased()
        let body = s.hasPrefix("*.") ? String(s.dropFirst(2)) : s
        guard body.count <= 253, body.contains("."), !body.hasPrefix("."), !body.hasSuffix("."), !body.contains("..") else { return nil }
        guard body.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }) else {
            return nil
        }
        return s
    }

    /// The effective policy from the stored JSON (the organization's defaults merged with the token's).
    public static func decode(_ json: String?) -> SendPolicy {
        guard let json, let p = try? JSONCoding.decoder.decode(SendPolicy.self, from: Data(json.utf8)) else { return SendPolicy() }
        return p
    }
}
