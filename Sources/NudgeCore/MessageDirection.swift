import Foundation

/// Whether a stored message was sent by Nudge or received (`messages.direction`).
public enum MessageDirection: String, Sendable, CaseIterable, Codable {
    case inbound, outbound
}
