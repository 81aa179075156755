import Foundation

/// Bad transport configuration, reported by `CurlSMTPTransport.init`.
public enum SMTPConfigurationError: Error, Sendable, Equatable {
    /// The URL must be smtp://[user:pass@]host[:port][/ehlo-name] or smtps://...
    /// (the URL itself is not echoed: it may hold a password).
    case invalidURL
    case invalidLaneCount(Int)
    case invalidTimeout(Int)
}

/// SMTP delivery through libcurl over `lanes` persistent connections.
///
/// - smtp:// upgrades with STARTTLS when the server offers it (`requireTLS` makes it mandatory);
///   smtps:// is implicit TLS. AUTH uses the URL's percent-encoded userinfo.
/// - Each lane keeps its connection open between sends; after a failure the lane reconnects.
/// - `send` is not cancellable once it holds a lane: aborting mid-transaction would leave the
///   outcome unknown. `timeoutSeconds` bounds every attempt.
public final class CurlSMTPTransport: MailTransport {
    private let pool: LanePool<Lane>

    /// - Parameters:
    ///   - requireTLS: fail instead of sending (and authenticating) in clear text when the server
    ///     does not offer STARTTLS. Off by default to match `CURLUSESSL_TRY`.
    ///   - caBundlePath: PEM file of CAs to trust instead of the system store (private relays, tests).
    ///   - resolve: "host:port:address", the checked address to connect to (see `CurlEasy.Config`).
    public init(
        url: String, lanes: Int = 4, timeoutSeconds: Int = 30, requireTLS: Bool = false,
        caBundlePath: String? = nil, resolve: String? = nil
    ) throws {
        guard lanes >= 1 else { throw SMTPConfigurationError.invalidLaneCount(lanes) }
        let config = try Self.config(url: url, timeoutSeconds: timeoutSeconds, requireTLS: requireTLS, caBundlePath: caBundlePath, resolve: resolve)
        pool = LanePool((0..<lanes).map { Lane(index: $0, config: config) })
    }

    static func config(url: String, timeoutSeconds: Int, requireTLS: Bool, caBundlePath: String?, resolve: String?) throws -> CurlEasy.Config {
        let lower = url.lowercased()
        guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://"), URL(string: url)?.host != nil,
            !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
        else { throw SMTPConfigurationError.invalidURL }
        guard timeoutSeconds >= 1 else { throw SMTPConfigurationError.invalidTimeout(timeoutSeconds) }
        return CurlEasy.Config(url: url, timeoutSeconds: timeoutSeconds, requireTLS: requireTLS, caBundlePath: caBundlePath, resolve: resolve)
    }

    public func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
        try EnvelopeCheck.validate(envelopeFrom: envelopeFrom, recipients: recipients)
        let lane = await pool.acquire()
        let result = await lane.send(envelopeFrom: envelopeFrom, recipients: recipients, message: message)
        await pool.release(lane)
        return try result.get()
    }
}
