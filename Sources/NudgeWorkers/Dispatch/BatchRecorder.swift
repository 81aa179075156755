import Foundation
import Logging
import Metrics
import PostgresNIO
import NudgeCore
import NudgeStore

/// Writes a batch's outcomes: history, deliveries, schedule and events (the daily counters were
/// reserved before sending; see DailyCounts).
package struct BatchRecorder {
    package let now: Date
    package let conn: PostgresConnection
    package let logger: Logger

    /// Sent emails: stored in their threads, delivery rows marked sent, enrollments advanced.
    package func recordSent(_ sent: [DispatchBatch.Outgoing]) async throws {
        guard !sent.isEmpty else { return }
        let threads = sent.filter(\.newThread).map {
            HistoryStore.NewThread(org: $0.due.org, id: $0.threadID, inboxID: $0.due.inboxID, contactID: $0.due.contactID, subject: $0.message.subject)
        }
        let messages = sent.map { o in
            NewMessage(org: o.due.org, inboxID: o.due.inboxID, threadID: o.threadID, direction: "outbound", rfc822MessageID: o.message.messageID,
                       inReplyTo: o.message.inReplyTo, references: o.message.references, from: o.due.inboxAddress, fromName: o.due.inboxName,
                       to: [o.due.recipient], subject: o.message.subject, text: o.message.textBody, replyText: nil, classification: nil,
                       raw: o.rendered, contactID: o.due.contactID, enrollmentID: o.due.enrollmentID, stepIndex: o.due.stepIndex,
                       details: nil, at: now)
        }
        let events = zip(sent, messages).map { o, m in
            PendingEvent(org: o.due.org, type: .messageSent, ["enrollment_id": .string(o.due.enrollmentID), "message_id": .string(m.id),
                                                              "thread_id": .string(o.threadID), "step_index": .number(Double(o.due.stepIndex)),
                                                              "rfc822_message_id": .string(o.message.messageID)])
        }
        // The sent events go in with the messages; completions (from `advance`) follow them in the feed.
        try await HistoryStore.append(messages, newThreads: threads, events: events, now: now, conn, logger: logger)
        try await upsertDeliveries(sent.map(\.due), kind: "email", status: "sent", rfcIDs: sent.map(\.message.messageID), messageIDs: messages.map(\.id))
        try await advance(sent.map(\.due), threadIDs: sent.map(\.threadID))
    }

    /// Reminder steps notify the team (an event), never the contact, and ignore suppression.
    package func recordReminders(_ due: [DueStep]) async throws {
        guard !due.isEmpty else { return }
        try await upsertDeliveries(due, kind: "reminder", status: "reminded", rfcIDs: due.map { _ in "" }, messageIDs: due.map { _ in "" })
        try await advance(due, threadIDs: due.map { $0.threadID ?? "" })
        try await Events.append(due.map { d in
            PendingEvent(org: d.org, type: .reminderDue, ["enrollment_id": .string(d.enrollmentID), "contact_id": .string(d.contactID),
                                                          "step_index": .number(Double(d.stepIndex)), "note": .str(d.step.note)])
        }, at: now, on: conn, logger: logger)
    }

    package func recordDeferred(_ deferred: [(DueStep, Date)]) async throws {
        guard !deferred.isEmpty else { return }
        try await conn.query("""
            UPDATE enrollments e SET next_due_at = u.due FROM unnest(\(deferred.map(\.0.org))::text[], \(deferred.map(\.0.enrollmentID))::text[], \(deferred.map(\.1))::timestamptz[]) AS u(org, id, due)
            WHERE e.org_id = u.org AND e.id = u.id
            """, logger: logger)
    }

    package func recordTransient(_ d: DueStep, rfcID: String, error: String) async throws {
        let first = d.firstAttemptAt ?? now
        let attempts = d.attempts + 1
        if now.timeIntervalSince(first) >= RetryPolicy.giveUpAfter {
            try await upsertDeliveries([d], kind: "email", status: "failed", rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: attempts)
            _ = try await EnrollmentStore.finish(org: d.org, enrollmentIDs: [d.enrollmentID], state: .failed, reason: nil,
                                                 detail: "step \(d.stepIndex) could not be delivered for 24 hours: \(error)", now: now, conn, logger: logger)
            return
        }
        try await upsertDeliveries([d], kind: "email", status: "retrying", rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: attempts)
        let backoff = RetryPolicy.delay(afterAttempt: attempts)
        Recorder(label: "nudge_dispatch_retry_backoff_seconds").record(backoff)
        try await conn.query("""
            UPDATE enrollments SET attempts = \(attempts), next_due_at = \(now.addingTimeInterval(backoff))
            WHERE org_id = \(d.org) AND id = \(d.enrollmentID)
            """, logger: logger)
    }

    /// A 5xx not about the recipient (SMTPError.rejected): the step fails, and with it the
    /// enrollment; the address is not suppressed.
    package func recordRejected(_ d: DueStep, rfcID: String, error: String) async throws {
        try await upsertDeliveries([d], kind: "email", status: "failed", rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: d.attempts + 1)
        _ = try await EnrollmentStore.finish(org: d.org, enrollmentIDs: [d.enrollmentID], state: .failed, reason: nil,
                                             detail: "step \(d.stepIndex) was refused by the SMTP server: \(error)", now: now, conn, logger: logger)
    }

    /// A 5xx for the recipient: suppress the address as bounced, which exits its enrollments.
    package func recordHardBounce(_ d: DueStep, rfcID: String, error: String) async throws {
        try await upsertDeliveries([d], kind: "email", status: "bounced", rfcIDs: [rfcID], messageIDs: [""], error: error, attempts: d.attempts + 1)
        _ = try await SuppressionStore.suppress(org: d.org, address: d.recipient, reason: "bounced", detail: "SMTP: \(error)", now: now, conn, logger: logger)
        try await Events.append([PendingEvent(org: d.org, type: .messageBounced, ["enrollment_id": .string(d.enrollmentID), "email": .string(d.recipient), "detail": .string(error),
                                                                   "permanent": .bool(true), "matched": .bool(true)])],
                                at: now, on: conn, logger: logger)
    }

    private func upsertDeliveries(_ due: [DueStep], kind: String, status: String, rfcIDs: [String], messageIDs: [String],
                                  error: String? = nil, attempts: Int? = nil) async throws {
        let sentAt: Date? = (status == "sent" || status == "reminded") ? now : nil
        try await conn.query("""
            INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, rfc822_message_id, message_id, status, scheduled_at, sent_at, attempts, last_error)
            SELECT u.org, u.enr, u.step, \(kind), nullif(u.rfc, ''), nullif(u.msg, ''), \(status), u.due, \(sentAt), u.att, \(error)
            FROM unnest(\(due.map(\.org))::text[], \(due.map(\.enrollmentID))::text[], \(due.map(\.stepIndex))::int[], \(rfcIDs)::text[], \(messageIDs)::text[],
                        \(due.map(\.scheduledAt))::timestamptz[], \(due.map { attempts ?? ($0.attempts + 1) })::int[]) AS u(org, enr, step, rfc, msg, due, att)
            ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET
              status = EXCLUDED.status, rfc822_message_id = coalesce(EXCLUDED.rfc822_message_id, deliveries.rfc822_message_id),
              message_id = coalesce(EXCLUDED.message_id, deliveries.message_id), sent_at = EXCLUDED.sent_at,
              attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error
            """, logger: logger)
    }

    /// Moves enrollments to their next step (due after its delay) or completes them.
    private func advance(_ due: [DueStep], threadIDs: [String]) async throws {
        let completed = due.map { $0.stepIndex + 1 >= $0.stepCount }
        let next = due.map { d in d.nextStep.map { now.addingTimeInterval($0.delaySeconds) } ?? now }
        try await conn.query("""
            UPDATE enrollments e SET next_step = e.next_step + 1, attempts = 0, updated_at = \(now),
              thread_id = coalesce(e.thread_id, nullif(u.thread, '')),
              state = CASE WHEN u.done THEN 'completed' ELSE e.state END,
              next_due_at = CASE WHEN u.done THEN NULL ELSE u.next END
            FROM unnest(\(due.map(\.org))::text[], \(due.map(\.enrollmentID))::text[], \(completed)::bool[], \(next)::timestamptz[], \(threadIDs)::text[])
              AS u(org, id, done, next, thread)
            WHERE e.org_id = u.org AND e.id = u.id
            """, logger: logger)
        let done = zip(due, completed).filter(\.1).map(\.0)
        try await Events.append(done.map { PendingEvent(org: $0.org, type: .enrollmentCompleted, ["enrollment_id": .string($0.enrollmentID), "contact_id": .string($0.contactID)]) },
                                at: now, on: conn, logger: logger)
    }
}
