import Foundation

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
    /// A hard bounce, the recipient's own permanent failure: a 5xx to RCPT TO (unless its enhanced
    /// status names the mail system, the protocol or a policy: 5.3.x, 5.5.x, 5.7.x, as in "554 5.7.1
    /// Relay access denied"), or a 5xx to the message data whose enhanced status names the mailbox
    /// (5.1.x address, 5.2.x mailbox, as in "554 5.2.2 mailbox full"). The address can be suppressed.
    case permanent(code: Int?, message: String)
    /// Refused for good, but not because of the recipient: any other 5xx to the message ("500
    /// internal error" after the data, 5.6.x content, 5.7.x policy). This message is not delivered;
    /// nothing is known about the address. Counts towards `SendCircuit`'s burst.
    case rejected(code: Int?, message: String)
    /// Not attempted: `SendCircuit` paused sending after a burst of server errors, until `until`.
    case paused(until: Date)

    public var code: Int? {
        switch self {
        case .transient(let c, _), .permanent(let c, _), .rejected(let c, _): return c
        case .paused: return nil
        }
    }

    public var description: String {
        switch self {
        case .transient(let c, let m): return "transient SMTP failure (\(c.map(String.init) ?? "no code")): \(m)"
        case .permanent(let c, let m): return "permanent SMTP failure (\(c.map(String.init) ?? "no code")): \(m)"
        case .rejected(let c, let m): return "SMTP server refused the message (\(c.map(String.init) ?? "no code")): \(m)"
        case .paused(let until): return "sending paused after a burst of SMTP server errors, until \(until)"
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
        guard !recipients.isEmpty else { throw .rejected(code: nil, message: "no recipients") }
        for (i, r) in recipients.enumerated() {
            do { try Validation.checkAddress(r, field: "recipients[\(i)]") } catch {
                throw .permanent(code: nil, message: "invalid recipient address at index \(i)")
            }
        }
    }
}
