import Crypto
import Foundation
import Logging
import Metrics
import NudgeMIME
import PostgresNIO

public struct InboundResult: Codable, Sendable {
    public let message_id: String
    public let thread_id: String
    public let classification: String
    public let enrollments: [String]
}

/// Stores one raw inbound message in the inbox's history and acts on it, in one transaction:
/// a human reply stops `exit_on_reply` enrollments, messages from the contact are queued for the
/// exit-condition judge (holding its sends), bounces and complaints suppress the address.
struct InboundProcessor {
    let db: Database
    let clock: any NudgeClock
    var logger: Logger { db.logger }

    /// nil when the inbox does not exist; `replayed` when this Message-ID was already received.
    func process(org: String, inboxID: String, raw: [UInt8]) async throws -> (InboundResult, replayed: Bool)? {
        let parsed = InboundMessage.analyze(raw)
        // A message without a Message-ID gets one derived from its bytes, so webhook retries still dedupe.
        let rfcID = parsed.messageID.flatMap { $0.isEmpty ? nil : String($0.withoutNUL.prefix(900)) }
            ?? "missing-\(SHA256.hash(data: Data(raw)).prefix(16).map { String(format: "%02x", $0) }.joined())@nudge.invalid"
        let now = clock.now()
        let result: (InboundResult, Bool)? = try await db.tenant(org) { conn in
            guard try await InboxStore.exists(org: org, id: inboxID, conn, logger: logger) else { return nil }
            if let previous = try await conn.query("""
                SELECT id, thread_id, coalesce(classification, 'other'), coalesce(details -> 'enrollments', '[]'::jsonb)::text FROM messages
                WHERE org_id = \(org) AND inbox_id = \(inboxID) AND rfc822_message_id = \(rfcID) AND direction = 'inbound'
                """, logger: logger).decode((String, String, String, String).self).collect().first {
                let ids = (try? JSONCoding.decoder.decode([String].self, from: Data(previous.3.utf8))) ?? []
                return (InboundResult(message_id: previous.0, thread_id: previous.1, classification: previous.2, enrollments: ids), true)
            }
            return (try await store(parsed, raw: raw, rfcID: rfcID, org: org, inboxID: inboxID, now: now, conn), false)
        }
        if let (r, replayed) = result, !replayed {
            Counter(label: "nudge_inbound_messages_total", dimensions: [("classification", r.classification)]).increment()
        }
        return result
    }

    private func store(_ m: InboundMessage, raw: [UInt8], rfcID: String, org: String, inboxID: String,
                       now: Date, _ conn: PostgresConnection) async throws -> InboundResult {
        let sender = (m.from?.address ?? "").withoutNUL
        let senderKey = Mailbox.key(sender)
        let contactID = sender.isEmpty ? nil : try await conn.query("""
            SELECT contact_id FROM contact_emails WHERE org_id = \(org) AND address_key = \(senderKey)
            """, logger: logger).decode(String.self).collect().first

        // Thread: by references (any stored message of the inbox), a bounce by its original
        // message, else by sender and normalised subject, else a new thread.
        var refs = m.references + m.inReplyTo
        if let original = m.bounce?.originalMessageID ?? m.complaint?.originalMessageID { refs.append(original) }
        refs = refs.map { String($0.withoutNUL.prefix(900)) }
        let byRef = refs.isEmpty ? nil : try await conn.query("""
            SELECT thread_id, enrollment_id, to_addresses FROM messages WHERE org_id = \(org) AND inbox_id = \(inboxID) AND rfc822_message_id = ANY(\(refs))
            ORDER BY at DESC LIMIT 1
            """, logger: logger).decode((String, String?, [String]).self).collect().first
        let subjectKey = ThreadKeys.subjectKey(m.subject).withoutNUL
        var threadID = byRef?.0
        if threadID == nil && !subjectKey.isEmpty && !sender.isEmpty {
            threadID = try await conn.query("""
                SELECT t.id FROM threads t WHERE t.org_id = \(org) AND t.inbox_id = \(inboxID) AND t.subject_key = \(subjectKey)
                AND EXISTS (SELECT 1 FROM messages x WHERE x.org_id = t.org_id AND x.thread_id = t.id AND (lower(x.from_address) = \(senderKey) OR \(sender) = ANY(x.to_addresses)))
                ORDER BY t.last_message_at DESC LIMIT 1
                """, logger: logger).decode(String.self).collect().first
        }
        let newThread = threadID == nil
        let thread = threadID ?? ID.make(.thr)
        let classification = m.classification.rawValue
        var changed: [String] = []
        var events: [PendingEvent] = []

        let message = NewMessage(org: org, inboxID: inboxID, threadID: thread, direction: "inbound", rfc822MessageID: rfcID,
                                 inReplyTo: m.inReplyTo.first, references: m.references.map { String($0.prefix(900)) }, from: sender,
                                 fromName: m.from?.name, to: m.to.map(\.address), cc: m.cc.map(\.address), subject: m.subject,
                                 text: m.text, replyText: m.replyText, classification: classification, raw: raw, contactID: contactID,
                                 enrollmentID: byRef?.1, stepIndex: nil, details: nil, at: now)
        try await HistoryStore.append([message], newThreads: newThread ? [.init(org: org, id: thread, inboxID: inboxID, contactID: contactID, subject: m.subject)] : [],
                                      now: now, conn, logger: logger)

        switch m.classification {
        case .humanReply, .autoReply, .other:
            // A reply from the contact, or any reply in a thread an enrollment writes into.
            let targets = try await conn.query("""
                SELECT id, contact_id, exit_on_reply, exit_condition_prompt IS NOT NULL FROM enrollments
                WHERE org_id = \(org) AND state IN ('active', 'paused') AND inbox_id = \(inboxID)
                AND ((\(contactID)::text IS NOT NULL AND contact_id = \(contactID)) OR thread_id = \(thread))
                FOR UPDATE
                """, logger: logger).decode((String, String, Bool, Bool).self).collect()
            if m.classification == .humanReply {
                let stop = targets.filter(\.2).map(\.0)
                if !stop.isEmpty {
                    changed += try await EnrollmentStore.finish(org: org, enrollmentIDs: stop, state: .exited, reason: ExitReason.replied.rawValue,
                                                                detail: "reply \(message.id)", now: now, conn, logger: logger)
                }
            }
            // Exit conditions see every message from the contact, auto-replies included.
            let judge = targets.filter { $0.3 && !(m.classification == .humanReply && $0.2) }
            if !judge.isEmpty {
                try await conn.query("""
                    INSERT INTO judgements (org_id, id, message_id, enrollment_id, contact_id, state, next_attempt_at, created_at)
                    SELECT \(org), u.id, \(message.id), u.enr, u.contact, 'pending', \(now), \(now)
                    FROM unnest(\(judge.map { _ in ID.make(.jdg) })::text[], \(judge.map(\.0))::text[], \(judge.map(\.1))::text[]) AS u(id, enr, contact)
                    """, logger: logger)
                try await conn.query("""
                    UPDATE enrollments SET held = true WHERE org_id = \(org) AND contact_id = ANY(\(Array(Set(judge.map(\.1))))) AND state IN ('active', 'paused')
                    """, logger: logger)
            }
        case .bounce:
            let report = m.bounce
            var failed = (report?.recipients ?? []).filter(\.permanent).map(\.address)
            if failed.isEmpty, report?.recipients.isEmpty ?? true, report?.isPermanent ?? false, let to = byRef?.2.first { failed = [to] }
            for address in Set(failed.map(Mailbox.key)) where Mailbox.validate(address).isSuccess {
                let (_, _, exited) = try await SuppressionStore.suppress(org: org, address: address, reason: "bounced",
                                                                         detail: "bounce \(message.id)", now: now, conn, logger: logger)
                changed += exited
            }
            events.append(PendingEvent(org: org, type: .messageBounced, [
                "message_id": .string(message.id), "permanent": .bool(!failed.isEmpty),
                "recipients": .array((report?.recipients ?? []).map { .object(["email": .string($0.address), "status": .str($0.status), "permanent": .bool($0.permanent)]) }),
            ]))
        case .complaint:
            var addresses = m.complaint?.complainedAddresses ?? []
            if addresses.isEmpty, let to = byRef?.2.first { addresses = [to] }
            for address in Set(addresses.map(Mailbox.key)) where Mailbox.validate(address).isSuccess {
                let (_, _, exited) = try await SuppressionStore.suppress(org: org, address: address, reason: "complained",
                                                                         detail: "complaint \(message.id)", now: now, conn, logger: logger)
                changed += exited
            }
        }
        events.append(PendingEvent(org: org, type: .messageReceived, [
            "message_id": .string(message.id), "thread_id": .string(thread), "classification": .string(classification),
            "contact_id": .str(contactID), "enrollments": .array(changed.map(JSONValue.string)),
        ]))
        try await Events.append(events, at: now, on: conn, logger: logger)
        let details = InboundDetails.json(m, changed: changed)
        try await conn.query("UPDATE messages SET details = \(details)::jsonb WHERE org_id = \(org) AND id = \(message.id)", logger: logger)
        return InboundResult(message_id: message.id, thread_id: thread, classification: classification, enrollments: changed)
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true }; return false }
}

/// What the message's `details` keep: the facts found in bounces and complaints, and the
/// enrollments the message changed (so a retried webhook gets the same answer).
enum InboundDetails {
    static func json(_ m: InboundMessage, changed: [String]) -> String {
        var o: [String: JSONValue] = ["enrollments": .array(changed.map(JSONValue.string))]
        if let b = m.bounce {
            o["bounce"] = .object([
                "original_message_id": .str(b.originalMessageID),
                "recipients": .array(b.recipients.map { .object(["email": .string($0.address), "status": .str($0.status), "action": .str($0.action),
                                                                 "diagnostic": .str($0.diagnostic.map { String($0.prefix(500)) }), "permanent": .bool($0.permanent)]) }),
            ])
        }
        if let c = m.complaint {
            o["complaint"] = .object(["feedback_type": .str(c.feedbackType), "addresses": .array(c.complainedAddresses.map(JSONValue.string)),
                                      "original_message_id": .str(c.originalMessageID)])
        }
        return JSONValue.object(o).serialized
    }
}
