import Foundation

/// What the events feed records.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case enrollmentCreated = "enrollment.created"
    case enrollmentCancelled = "enrollment.cancelled"
    case enrollmentPaused = "enrollment.paused"
    case enrollmentResumed = "enrollment.resumed"
    case enrollmentHeld = "enrollment.held"
    case enrollmentCompleted = "enrollment.completed"
    case enrollmentExited = "enrollment.exited"
    case enrollmentFailed = "enrollment.failed"
    case messageSent = "message.sent"
    case messageReceived = "message.received"
    case messageBounced = "message.bounced"
    case messageComplained = "message.complained"
    case reminderDue = "reminder.due"
    case suppressionCreated = "suppression.created"
    case suppressionDeleted = "suppression.deleted"
    case judgementFailed = "judgement.failed"
    /// A webhook endpoint stopped receiving: it answered 410, or failed for 5 days.
    case webhookDisabled = "webhook.disabled"
    /// A step that needs approval was rendered into a draft.
    case draftCreated = "draft.created"
    /// A draft was approved, rejected or expired.
    case draftDecided = "draft.decided"
    /// An inbox stopped sending: its hard-bounce rate, a complaint, or a person (`reason`).
    case inboxPaused = "inbox.paused"
    case inboxResumed = "inbox.resumed"
    /// An inbox's own mail account started failing (once per failure episode).
    case inboxConnectionFailed = "inbox.connection_failed"
    /// A sending domain's DKIM records were found in DNS (first time, or again after failing).
    case domainVerified = "domain.verified"
    /// A verified domain's records were no longer found (once per failure episode).
    case domainVerificationFailed = "domain.verification_failed"
}
