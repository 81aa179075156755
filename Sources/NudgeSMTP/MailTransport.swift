/// What the server said when it took the message.
public enum SMTPOutcome: Sendable, Equatable {
    /// `response` is the final reply line when known, e.g. "250 2.0.0 Ok: queued as 4F2A".
    case accepted(response: String?)
}

/// A failed delivery attempt. Nothing is retried inside a transport: the caller decides.
public enum SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Try again later: 4xx replies, connection refused/reset/dropped, timeouts, TLS failures,
    /// and 5xx replies that are about us rather than the recipient (authentication, greeting,
    /// MAIL FROM), so fixing the configuration lets queued steps go out.
    /// Caveat: a connection lost after the message data was sent may still have delivered it.
    case transient(code: Int?, message: String)
    /// A hard bounce: a 5xx reply to RCPT TO or to the message data.
    case permanent(code: Int?, message: String)

    public var code: Int? {
        switch self { case .transient(let c, _), .permanent(let c, _): return c }
    }

    public var description: String {
        switch self {
        case .transient(let c, let m): return "transient SMTP failure (\(c.map(String.init) ?? "no code")): \(m)"
        case .permanent(let c, let m): return "permanent SMTP failure (\(c.map(String.init) ?? "no code")): \(m)"
        }
    }
}

/// Delivers one rendered message. Implementations must be safe to call concurrently.
public protocol MailTransport: Sendable {
    func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome
}

extension MailTransport {
    /// Renders `message` and sends it with the From address as envelope sender and the To
    /// addresses as recipients. Throws `OutboundMessageError` (nothing sent) or `SMTPError`.
    public func send(_ message: OutboundMessage) async throws -> SMTPOutcome {
        let bytes = try message.render()
        return try await send(envelopeFrom: message.from.address, recipients: message.to.map(\.address), message: bytes)
    }
}

/// Checks shared by the transports before anything is sent.
enum EnvelopeCheck {
    static func validate(envelopeFrom: String, recipients: [String]) throws(SMTPError) {
        // An unusable sender is our configuration, not the recipient's fault.
        do { try Validation.checkAddress(envelopeFrom, field: "envelopeFrom") } catch {
            throw .transient(code: nil, message: "invalid envelope sender address")
        }
        guard !recipients.isEmpty else { throw .permanent(code: nil, message: "no recipients") }
        for (i, r) in recipients.enumerated() {
            do { try Validation.checkAddress(r, field: "recipients[\(i)]") } catch {
                throw .permanent(code: nil, message: "invalid recipient address at index \(i)")
            }
        }
    }
}
