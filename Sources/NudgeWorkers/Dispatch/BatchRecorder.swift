import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeSMTP
import NudgeStore

/// Writes a batch's outcomes: history, deliveries, schedule and events (the daily counters were
/// reserved before sending; see DailyCounts).
package struct BatchRecorder {
    package let now: Date
    package let conn: StoreConnection
    package let logger: Logger

    /// Sent emails: stored in their threads, delivery rows marked sent, enrollments advanced.
    package func recordSent(_ sent: [DispatchBatch.Outgoing]) async throws {
        guard !sent.isEmpty else { return }
        let threads = sent.filter(\.newThread).map {
            HistoryStore.NewThread(
                org: $0.due.org, id: $0.threadID, inboxID: $0.due.inboxID, contactID: $0.due.contactID, subject: $0.message.subject)
        }
        let messages = sent.map { o in
            NewMessage(
                org: o.due.org, inboxID: o.due.inboxID, threadID: o.threadID, direction: .outbound, rfc822MessageID: o.message.messageID,
                inReplyTo: o.message.inReplyTo, references: o.message.references, from: o.due.inboxAddress, fromName: o.due.inboxName,
                to: [o.due.recipient], subject: o.message.subject, text: o.message.textBody, replyText: nil, classification: nil,
                raw: o.rendered, contactID: o.due.contactID, enrollmentID: o.due.enrollmentID, stepIndex: o.due.stepIndex,
                details: nil, at: now)
        }
        let events = zip(sent, messages).map { o, m in
            PendingEvent(
                org: o.due.org, type: .messageSent,
                [
                    "enrollment_id": .string(o.due.enrollmentID), "message_id": .string(m.id),
                    "thread_id": .string(o.threadID), "step_index": .number(Double(o.due.stepIndex)),
                    "rfc822_message_id": .string(o.message.messageID),
                ])
        }
        // The sent events go in with the messages; completions (from `advance`) follow them in the feed.
        try await HistoryStore.append(messages, newThreads: threads, events: events, now: now, conn, logger: logger)
        try await DeliveryStore.record(
            sent.map(\.due), kind: .email, status: .sent, rfcIDs: sent.map(\.message.messageID), messageIDs: messages.map(\.id), now: now, conn,
            logger: logger)
        try await EnrollmentStore.advance(sent.map(\.due), threadIDs: sent.map(\.threadID), now: now, conn, logger: logger)
    }

    /// Reminder steps notify the team (an event), never the contact, and ignore suppression.
    package func recordReminders(_ due: [DueStep]) async throws {
        guard !due.isEmpty else { return }
        try await DeliveryStore.record(
            due, kind: .reminder, status: .reminded, rfcIDs: due.map { _ in "" }, messageIDs: due.map { _ in "" }, now: now, conn, logger: logger)
        try await EnrollmentStore.advance(due, threadIDs: due.map { $0.threadID ?? "" }, now: now, conn, logger: logger)
        try await Events.append(
            due.map { d in
                PendingEvent(
                    org: d.org, type: .reminderDue,
                    [
                        "enrollment_id": .string(d.enrollmentID), "contact_id": .string(d.contactID),
                        "step_index": .number(Double(d.stepIndex)), "note": .str(d.step.note),
                    ])
            }, at: now, on: conn, logger: logger)
    }

    package func recordDeferred(_ deferred: [(DueStep, Date)]) async throws {
        try await EnrollmentStore.reschedule(deferred, conn, logger: logger)
    }

    package func recordTransient(_ d: DueStep, rfcID: String, error: String) async throws {
        let first = d.firstAttemptAt ?? now
        let attempts = d.attempts + 1
        if now.timeIntervalSince(first) >= RetryPolicy.giveUpAfter {
            try await DeliveryStore.record(
                [d], kind: .email, status: .failed, rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: attempts, now: now, conn,
                logger: logger)
            _ = try await EnrollmentStore.finish(
                org: d.org, enrollmentIDs: [d.enrollmentID], state: .failed, reason: nil,
                detail: "step \(d.stepIndex) could not be delivered for 24 hours: \(error)", now: now, conn, logger: logger)
            return
        }
        try await DeliveryStore.record(
            [d], kind: .email, status: .retrying, rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: attempts, now: now, conn, logger: logger)
        let backoff = RetryPolicy.delay(afterAttempt: attempts)
        Recorder(label: "nudge_dispatch_retry_backoff_seconds").record(backoff)
        try await EnrollmentStore.retryLater(d, attempts: attempts, at: now.addingTimeInterval(backoff), conn, logger: logger)
    }

    /// A 5xx not about the recipient (SMTPError.rejected): the step fails, and with it the
    /// enrollment; the address is not suppressed.
    package func recordRejected(_ d: DueStep, rfcID: String, error: String) async throws {
        try await DeliveryStore.record(
            [d], kind: .email, status: .failed, rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: d.attempts + 1, now: now, conn,
            logger: logger)
        _ = try await EnrollmentStore.finish(
            org: d.org, enrollmentIDs: [d.enrollmentID], state: .failed, reason: nil,
            detail: "step \(d.stepIndex) was refused by the SMTP server: \(error)", now: now, conn, logger: logger)
    }

    /// A 5xx for the recipient: suppress the address as bounced, which exits its enrollments.
    package func recordHardBounce(_ d: DueStep, rfcID: String, error: String) async throws {
        try await DeliveryStore.record(
            [d], kind: .email, status: .bounced, rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: d.attempts + 1, now: now, conn,
            logger: logger)
        _ = try await SuppressionStore.suppress(
            org: d.org, address: d.recipient, reason: "bounced", detail: "SMTP: \(error)", now: now, conn, logger: logger)
        try await Events.append(
            [
                PendingEvent(
                    org: d.org, type: .messageBounced,
                    [
                        "enrollment_id": .string(d.enrollmentID), "email": .string(d.recipient), "detail": .string(error),
                        "permanent": .bool(true), "matched": .bool(true),
                    ])
            ],
            at: now, on: conn, logger: logger)
    }
}
