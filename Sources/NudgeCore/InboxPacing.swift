import Foundation

/// How an inbox paces its sends (README, "Pacing"): a minimum gap between two sends plus random
/// jitter, a ramp-up of the daily limit for a new inbox, and the hard-bounce rate over its last
/// 100 sends above which it pauses itself.
public struct InboxPacing: Codable, Sendable, Equatable {
    public struct RampUp: Codable, Sendable, Equatable {
        public var start_per_day: Int
        public var increase_percent: Double
    }
    public var min_gap_seconds: Int?
    public var jitter_seconds: Int?
    public var ramp_up: RampUp?
    public var bounce_pause_threshold: Double?

    public init() {}

    public static let defaultBounceThreshold = 0.05
    public var bounceThreshold: Double { bounce_pause_threshold ?? Self.defaultBounceThreshold }

    /// The daily limit `days` days into the ramp: start × (1 + increase)^days, at most `limit`.
    public func rampedLimit(_ limit: Int?, days: Int) -> Int? {
        guard let r = ramp_up else { return limit }
        let grown = Double(r.start_per_day) * pow(1 + r.increase_percent / 100, Double(max(0, days)))
        let ramped = grown >= Double(Int.max / 2) ? Int.max / 2 : Int(grown.rounded(.down))
        return min(limit ?? Int.max, ramped)
    }

    /// Checks a `pacing` object as sent (every key optional; null clears), naming the field in errors.
    public static func validated(_ value: JSONValue) throws -> InboxPacing {
        guard case .object(let o) = value else { throw NudgeError.validation("pacing", "pacing must be an object or null.") }
        var p = InboxPacing()
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            switch o[key] {
            case nil, .null?: return nil
            case .number(let n)? where n == n.rounded() && range.contains(Int(exactly: n) ?? -1): return Int(n)
            default:
                throw NudgeError.validation(
                    "pacing.\(key)", "pacing.\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), or null.")
            }
        }
        for key in o.keys where !["min_gap_seconds", "jitter_seconds", "ramp_up", "bounce_pause_threshold"].contains(key) {
            throw NudgeError.validation(
                "pacing.\(key)", "Unknown field pacing.\(key); pacing has min_gap_seconds, jitter_seconds, ramp_up, bounce_pause_threshold.")
        }
        p.min_gap_seconds = try int("min_gap_seconds", 0...86_400)
        p.jitter_seconds = try int("jitter_seconds", 0...86_400)
        switch o["bounce_pause_threshold"] {
        case nil, .null?: break
        case .number(let n)? where n > 0 && n <= 1: p.bounce_pause_threshold = n
        default: throw NudgeError.validation("pacing.bounce_pause_threshold", "pacing.bounce_pause_threshold must be a fraction above 0, at most 1.")
        }
        switch o["ramp_up"] {
        case nil, .null?: break
        case .object(let r)?:
            guard case .number(let start)? = r["start_per_day"], start >= 1, start <= 1_000_000, start == start.rounded() else {
                throw NudgeError.validation("pacing.ramp_up.start_per_day", "pacing.ramp_up.start_per_day must be a whole number from 1 to 1000000.")
            }
            var increase = 20.0
            switch r["increase_percent"] {
            case nil, .null?: break
            case .number(let n)? where n > 0 && n <= 1000: increase = n
            default:
                throw NudgeError.validation("pacing.ramp_up.increase_percent", "pacing.ramp_up.increase_percent must be above 0, at most 1000.")
            }
            for key in r.keys where key != "start_per_day" && key != "increase_percent" {
                throw NudgeError.validation(
                    "pacing.ramp_up.\(key)", "Unknown field pacing.ramp_up.\(key); ramp_up has start_per_day, increase_percent.")
            }
            p.ramp_up = RampUp(start_per_day: Int(start), increase_percent: increase)
        default: throw NudgeError.validation("pacing.ramp_up", "pacing.ramp_up must be an object or null.")
        }
        return p
    }

    public static func decode(_ json: String?) -> InboxPacing? {
        guard let json else { return nil }
        return try? JSONCoding.decoder.decode(InboxPacing.self, from: Data(json.utf8))
    }

    public var json: String { (try? String(decoding: JSONCoding.encoder.encode(self), as: UTF8.self)) ?? "{}" }
}

/// The registrable domain of an address ("acme.co.uk" for "jo@sales.acme.co.uk"): the last two
/// labels, or three under the common two-label public suffixes listed here. Not the full Public
/// Suffix List: a suffix missing from it groups its registrants together.
public enum RegistrableDomain {
    static let twoLabelSuffixes: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz",
        "org.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "co.za", "org.za", "com.br", "net.br", "com.cn", "net.cn", "org.cn", "com.mx",
        "co.in", "net.in", "org.in", "co.kr", "or.kr", "com.sg", "com.tr", "com.tw", "com.hk", "co.il", "com.ar", "co.id", "com.my",
    ]

    public static func of(address: String) -> String? {
        let domain = SendPolicy.domain(of: address)
        let labels = domain.split(separator: ".")
        guard labels.count >= 2 else { return nil }
        let lastTwo = labels.suffix(2).joined(separator: ".")
        if twoLabelSuffixes.contains(lastTwo) {
            return labels.count >= 3 ? labels.suffix(3).joined(separator: ".") : nil
        }
        return lastTwo
    }
}
