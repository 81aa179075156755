import Foundation

/// Where a step's delivery row stands (`deliveries.status`).
public enum DeliveryStatus: String, Sendable, CaseIterable, Codable {
    /// An SMTP server took the message; its batch has not recorded it yet (or never will: the
    /// worker died). The timeline shows it as sent. Written by `mark_accepted` (migration 0011).
    case accepted
    case sent
    /// A reminder step notified the team.
    case reminded
    /// A temporary failure; the step is tried again later.
    case retrying
    case failed
    case bounced
}
