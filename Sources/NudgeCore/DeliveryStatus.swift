import Foundation

/// Where a step's delivery row stands (`deliveries.status`).
public enum DeliveryStatus: String, Sendable, CaseIterable, Codable {
    /// An SMTP server took the message; its batch has not recorded it yet (or never will: the
    /// worker died). The timeline shows it as sent. Written by `mark_accepted` (migration 0011).
    case accepted
    /// An LLM-written step's text, kept so that a retry sends the same words.
    case rendered
    case sent
    /// A reminder step notified the team.
    case reminded
    /// A temporary failure; the step is tried again later.
    case retrying
    case failed
    case bounced
}

/// What a step delivers (`deliveries.kind`).
public enum DeliveryKind: String, Sendable, CaseIterable, Codable {
    case email, reminder
}
