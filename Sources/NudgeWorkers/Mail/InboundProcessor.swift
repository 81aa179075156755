import Crypto
import Foundation
import Logging
import Metrics
import NudgeMIME
import PostgresNIO
import NudgeCore
import NudgeStore

public struct InboundResult: Codable, Sendable {
    public let message_id: String
    public let thread_id: String
    public let classification: String
    public let enrollments: [String]
}

/// Stores one raw inbound message in the inbox's history and acts on it, in one transaction:
/// a human reply stops `exit_on_reply` enrollments, messages from the contact are queued for the
/// exit-condition judge (holding its sends), bounces and complaints suppress the address.
package struct InboundProcessor {
    package let db: Database
    package let clock: any NudgeClock
    package var logger: Logger { db.logger }

    /// nil when the inbox does not exist; `replayed` when this Message-ID was already received.
    package func process(org: String, inboxID: String, raw: [UInt8]) async throws -> (InboundResult, replayed: Bool)? {
        let parsed = InboundMessage.analyze(raw)
        // A message without a Message-ID gets one derived from its bytes, so webhook retries still dedupe.
        let rfcID = parsed.messageID.flatMap { $0.isEmpty ? nil : $0.storedMessageID }
            ?? "missing-\(SHA256.hash(data: Data(raw)).prefix(16).map { String(format: "%02x", $0) }.joined())@nudge.invalid"
        let now = clock.now()
        let sender = (parsed.from?.address ?? "").withoutNUL
        var found = parsed.references + parsed.inReplyTo
        if let original = parsed.bounce?.originalMessageID ?? parsed.complaint?.originalMessageID { found.append(original) }
        let refs = found.map(\.storedMessageID)
        // The same message posted twice at once: the second waits on the first's unique index
        // entry, fails, and on its rerun finds the first's answer.
        let result: (InboundResult, Bool)? = try await db.tenant(org, racesRetried: 1) { conn in
            guard let known = try await Lookup.run(org: org, inboxID: inboxID, rfcID: rfcID, senderKey: Mailbox.key(sender), refs: refs, conn, logger: logger) else { return nil }
            if let previous = known.previous {
                let ids = (try? JSONCoding.decoder.decode([String].self, from: Data(previous.enrollments.utf8))) ?? []
                return (InboundResult(message_id: previous.id, thread_id: previous.threadID, classification: previous.classification, enrollments: ids), true)
            }
            return (try await store(parsed, raw: raw, rfcID: rfcID, sender: sender, refs: refs, known: known, org: org, inboxID: inboxID, now: now, conn), false)
        }
        if let (r, replayed) = result, !replayed {
            Counter(label: "nudge_inbound_messages_total", dimensions: [("classification", r.classification)]).increment()
        }
        return result
    }

    /// What is already known about an inbound message, in one round trip: whether the inbox
    /// exists, an earlier copy of the message, the sender's contact, and the newest stored
    /// message it refers to. Each referenced Message-ID is its own equality probe of
    /// `messages_rfc_id`: with `= ANY(refs)`, statistics that predate a burst of sent mail made
    /// the planner scan the inbox's whole prefix of that index and filter it (ops/bench inbound
    /// with auto_explain: 262 ms for one reply, 20,015 rows removed; 0.05 ms once analysed).
    package struct Lookup {
        package struct Previous { let id: String; let threadID: String; let classification: String; let enrollments: String }
        package var previous: Previous?
        package var contactID: String?
        package var byRef: (String, String?, [String])?

        /// nil when the inbox does not exist.
        package static func run(org: String, inboxID: String, rfcID: String, senderKey: String, refs: [String],
                        _ conn: PostgresConnection, logger: Logger) async throws -> Lookup? {
            let rows = try await conn.execute(Statement(org: org, inboxID: inboxID, rfcID: rfcID, senderKey: senderKey, refs: refs), logger: logger).collect()
            guard let row = rows.first else { return nil }
            var out = Lookup()
            if let id = row.0, let thread = row.1 { out.previous = Previous(id: id, threadID: thread, classification: row.2 ?? "other", enrollments: row.3 ?? "[]") }
            out.contactID = row.4
            if let thread = row.5 { out.byRef = (thread, row.6, row.7 ?? []) }
            return out
        }

        /// Prepared: planning it took 0.64 ms against 0.33 ms to run it (pg_stat_statements,
        /// ops/bench inbound). `message_refs` (migration 0010) is unnest with an estimate of a few
        /// rows, so that PostgreSQL keeps the generic plan instead of planning every message again.
        package struct Statement: PostgresPreparedStatement {
            package static let sql = """
                SELECT p.id, p.thread_id, p.cls, p.enr, c.contact_id, r.thread_id, r.enrollment_id, r.to_addresses
                FROM inboxes i
                LEFT JOIN LATERAL (
                  SELECT id, thread_id, coalesce(classification, 'other') AS cls, coalesce(details -> 'enrollments', '[]'::jsonb)::text AS enr FROM messages
                  WHERE org_id = i.org_id AND inbox_id = i.id AND rfc822_message_id = $3::text AND direction = 'inbound' LIMIT 1) p ON true
                LEFT JOIN LATERAL (
                  SELECT contact_id FROM contact_emails WHERE org_id = i.org_id AND address_key = $4::text AND $4::text <> '' LIMIT 1) c ON true
                LEFT JOIN LATERAL (
                  SELECT m.thread_id, m.enrollment_id, m.to_addresses FROM message_refs($5::text[]) AS ref(id)
                  CROSS JOIN LATERAL (
                    SELECT thread_id, enrollment_id, to_addresses, at FROM messages
                    WHERE org_id = i.org_id AND inbox_id = i.id AND rfc822_message_id = ref.id ORDER BY at DESC LIMIT 1) m
                  ORDER BY m.at DESC LIMIT 1) r ON true
                WHERE i.org_id = $1::text AND i.id = $2::text
                """
            package let org: String
            package let inboxID: String
            package let rfcID: String
            package let senderKey: String
            package let refs: [String]

            package func makeBindings() throws -> PostgresBindings {
                var b = PostgresBindings(capacity: 5)
                b.append(org)
                b.append(inboxID)
                b.append(rfcID)
                b.append(senderKey)
                b.append(refs)
                return b
            }
            package func decodeRow(_ row: PostgresRow) throws -> (String?, String?, String?, String?, String?, String?, String?, [String]?) {
                try row.decode((String?, String?, String?, String?, String?, String?, String?, [String]?).self)
            }
        }
    }

    /// The running enrollments a message from the contact, or in a thread an enrollment writes
    /// into, concerns: each locked, and with `stop` those that exit on reply set `exited/replied`,
    /// in one round trip. Two equality probes, each on its own index, then each enrollment locked
    /// by primary key in id order (the same order for every reply): one OR over both let
    /// statistics that predate a bulk enrollment pick a scan of every running enrollment of the
    /// organization (ops/bench inbound, auto_explain: 218 ms, 20,001 rows removed by the filter).
    /// Prepared: planning it took 1.04 ms against 0.34 ms to run it. The exit sets the columns
    /// `EnrollmentStore.finish` sets, and its events come from `EnrollmentStore.finishedEvent`.
    package struct Targets: PostgresPreparedStatement {
        package static let sql = """
            WITH t AS (
              SELECT e.id, e.contact_id, e.exit_on_reply, e.has_prompt
              FROM (SELECT id FROM enrollments WHERE org_id = $1::text AND contact_id = $2::text AND state IN ('active', 'paused')
                    UNION
                    SELECT id FROM enrollments WHERE org_id = $1::text AND thread_id = $3::text AND state IN ('active', 'paused')
                    ORDER BY id) t
              CROSS JOIN LATERAL (
                SELECT id, contact_id, exit_on_reply, exit_condition_prompt IS NOT NULL AS has_prompt FROM enrollments
                WHERE org_id = $1::text AND id = t.id AND state IN ('active', 'paused') AND inbox_id = $4::text
                FOR UPDATE) e
            ), stopped AS (
              UPDATE enrollments x SET state = 'exited', exit_reason = 'replied', exit_detail = $6::text, next_due_at = NULL, updated_at = $7::timestamptz
              FROM t WHERE $5::bool AND t.exit_on_reply AND x.org_id = $1::text AND x.id = t.id AND x.state IN ('active', 'paused')
              RETURNING x.id
            )
            SELECT t.id, t.contact_id, t.exit_on_reply, t.has_prompt, s.id IS NOT NULL FROM t LEFT JOIN stopped s ON s.id = t.id ORDER BY t.id
            """
        package let org: String
        package let contactID: String?
        package let threadID: String
        package let inboxID: String
        package let stop: Bool
        package let detail: String
        package let now: Date

        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 7)
            b.append(org)
            b.append(contactID)
            b.append(threadID)
            b.append(inboxID)
            b.append(stop)
            b.append(detail)
            b.append(now)
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws -> (id: String, contactID: String, exitOnReply: Bool, hasPrompt: Bool, stopped: Bool) {
            try row.decode((String, String, Bool, Bool, Bool).self)
        }
    }

    /// Who may be suppressed by a bounce or complaint. Anyone can write a report naming any
    /// address, so a report acts only on an address Nudge mailed from this inbox: the message it
    /// names by Message-ID (in the report, its returned headers or its references) went to that
    /// address, or the inbox sent to that exact address within `window`. Anything else is kept
    /// and announced with `matched: false`, and changes nothing.
    package enum ReportMatch {
        /// Long enough for late bounces (MTAs retry for up to 5 days) and feedback loops, which
        /// report days or weeks after delivery; short enough that an address mailed once long
        /// ago cannot be suppressed by anyone who learns of it.
        package static let window: TimeInterval = 30 * 86_400

        /// A real report names a few recipients; a crafted one may name thousands, each a probe.
        package static let maxAddresses = 100

        /// The valid address keys among `named` (the first `maxAddresses`), and which of them
        /// Nudge mailed.
        package static func run(named: [String], refs: [String], org: String, inboxID: String, now: Date,
                        _ conn: PostgresConnection, logger: Logger) async throws -> (keys: [String], matched: Set<String>) {
            var seen = Set<String>()
            let keys = Array(named.map(Mailbox.key).filter { Mailbox.validate($0).isSuccess && seen.insert($0).inserted }.prefix(maxAddresses))
            let matched = try await HistoryStore.sentTo(org: org, inboxID: inboxID, addresses: keys, ids: refs,
                                                        since: now.addingTimeInterval(-window), conn, logger: logger)
            return (keys, matched)
        }
    }

    private func store(_ m: InboundMessage, raw: [UInt8], rfcID: String, sender: String, refs: [String], known: Lookup, org: String, inboxID: String,
                       now: Date, _ conn: PostgresConnection) async throws -> InboundResult {
        let senderKey = Mailbox.key(sender)
        let contactID = known.contactID   // none for an empty sender
        // Thread: by references (any stored message of the inbox), a bounce by its original
        // message, else by sender and normalised subject, else a new thread.
        let byRef = known.byRef
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

        // The message row is written after the changes it causes, with their record in its
        // details (no second write); only the judgements, which reference it, come after it.
        let messageID = ID.make(.msg)
        var judge: [(String, String)] = []
        // Addresses a bounce or complaint names that this inbox mailed (ReportMatch).
        var matched: Set<String> = []

        switch m.classification {
        case .humanReply, .autoReply, .other:
            // A reply from the contact, or any reply in a thread an enrollment writes into.
            let targets = try await conn.execute(Targets(org: org, contactID: contactID, threadID: thread, inboxID: inboxID,
                                                         stop: m.classification == .humanReply, detail: "reply \(messageID)", now: now), logger: logger).collect()
            for t in targets where t.stopped {
                changed.append(t.id)
                events.append(EnrollmentStore.finishedEvent(org: org, id: t.id, contactID: t.contactID, state: .exited, reason: ExitReason.replied.rawValue, detail: "reply \(messageID)"))
            }
            // Exit conditions see every message from the contact, auto-replies included.
            judge = targets.filter { $0.hasPrompt && !$0.stopped }.map { ($0.id, $0.contactID) }
        case .bounce:
            let report = m.bounce
            var failed = (report?.recipients ?? []).filter(\.permanent).map(\.address)
            if failed.isEmpty, report?.recipients.isEmpty ?? true, report?.isPermanent ?? false, let to = byRef?.2.first { failed = [to] }
            let (keys, sent) = try await ReportMatch.run(named: failed + (report?.recipients ?? []).map(\.address), refs: refs,
                                                         org: org, inboxID: inboxID, now: now, conn, logger: logger)
            matched = sent
            for address in keys where sent.contains(address) && failed.contains(where: { Mailbox.key($0) == address }) {
                let (_, _, exited) = try await SuppressionStore.suppress(org: org, address: address, reason: "bounced",
                                                                         detail: "bounce \(messageID)", now: now, conn, logger: logger)
                changed += exited
            }
            events.append(PendingEvent(org: org, type: .messageBounced, [
                "message_id": .string(messageID), "thread_id": .string(thread), "permanent": .bool(!failed.isEmpty), "matched": .bool(!sent.isEmpty),
                "recipients": BouncedEvent.recipients(report?.recipients ?? []) { sent.contains(Mailbox.key($0)) },
                "recipients_total": BouncedEvent.total(report?.recipients ?? []),
            ]))
        case .complaint:
            var addresses = m.complaint?.complainedAddresses ?? []
            if addresses.isEmpty, let to = byRef?.2.first { addresses = [to] }
            let (keys, sent) = try await ReportMatch.run(named: addresses, refs: refs, org: org, inboxID: inboxID, now: now, conn, logger: logger)
            matched = sent
            for address in keys where sent.contains(address) {
                let (_, _, exited) = try await SuppressionStore.suppress(org: org, address: address, reason: "complained",
                                                                         detail: "complaint \(messageID)", now: now, conn, logger: logger)
                changed += exited
            }
            events.append(PendingEvent(org: org, type: .messageComplained, [
                "message_id": .string(messageID), "thread_id": .string(thread), "feedback_type": .str(m.complaint?.feedbackType), "matched": .bool(!sent.isEmpty),
                "recipients": .array(addresses.map { .object(["email": .string($0), "matched": .bool(sent.contains(Mailbox.key($0)))]) }),
            ]))
        }
        events.append(PendingEvent(org: org, type: .messageReceived, [
            "message_id": .string(messageID), "thread_id": .string(thread), "classification": .string(classification),
            "contact_id": .str(contactID), "enrollments": .array(changed.map(JSONValue.string)),
        ]))
        var message = NewMessage(org: org, inboxID: inboxID, threadID: thread, direction: "inbound", rfc822MessageID: rfcID,
                                 inReplyTo: m.inReplyTo.first?.storedMessageID, references: m.references.map(\.storedMessageID), from: sender,
                                 fromName: m.from?.name, to: m.to.map(\.address), cc: m.cc.map(\.address), subject: m.subject,
                                 text: m.text, replyText: m.replyText, classification: classification, raw: raw, contactID: contactID,
                                 enrollmentID: byRef?.1, stepIndex: nil, details: InboundDetails.json(m, changed: changed, matched: matched), at: now)
        message.id = messageID
        try await HistoryStore.append([message], newThreads: newThread ? [.init(org: org, id: thread, inboxID: inboxID, contactID: contactID, subject: m.subject)] : [],
                                      events: events, now: now, conn, logger: logger)
        if !judge.isEmpty {
            try await conn.query("""
                INSERT INTO judgements (org_id, id, message_id, enrollment_id, contact_id, state, next_attempt_at, created_at)
                SELECT \(org), u.id, \(messageID), u.enr, u.contact, 'pending', \(now), \(now)
                FROM unnest(\(judge.map { _ in ID.make(.jdg) })::text[], \(judge.map(\.0))::text[], \(judge.map(\.1))::text[]) AS u(id, enr, contact)
                """, logger: logger)
            try await conn.query("""
                UPDATE enrollments SET held = true WHERE org_id = \(org) AND contact_id = ANY(\(Array(Set(judge.map(\.1))))) AND state IN ('active', 'paused')
                """, logger: logger)
        }
        return InboundResult(message_id: messageID, thread_id: thread, classification: classification, enrollments: changed)
    }

    package init(db: Database, clock: any NudgeClock) {
        self.db = db
        self.clock = clock
    }
}

extension String {
    /// A received Message-ID as stored and matched: without NUL, at most 900 UTF-8 bytes (whole
    /// scalars). An index entry may not exceed about 2,700 bytes, and 900 characters of CJK text
    /// or emoji went past it (a 500 instead of storing the message).
    package var storedMessageID: String {
        let clean = withoutNUL
        guard clean.utf8.count > 900 else { return clean }
        var out = String.UnicodeScalarView(), bytes = 0
        for scalar in clean.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > 900 { break }
            out.append(scalar)
        }
        return String(out)
    }
}

extension Result {
    package var isSuccess: Bool { if case .success = self { return true }; return false }
}

/// What the message's `details` keep: the facts found in bounces and complaints, and the
/// enrollments the message changed (so a retried webhook gets the same answer).
package enum InboundDetails {
    /// `matched`: the address keys the report named that this inbox mailed (see ReportMatch).
    package static func json(_ m: InboundMessage, changed: [String], matched: Set<String> = []) -> String {
        var o: [String: JSONValue] = ["enrollments": .array(changed.map(JSONValue.string))]
        if let b = m.bounce {
            o["bounce"] = .object([
                "original_message_id": .str(b.originalMessageID), "matched": .bool(!matched.isEmpty),
                "recipients": .array(b.recipients.map { .object(["email": .string($0.address), "status": .str($0.status), "action": .str($0.action),
                                                                 "diagnostic": .str($0.diagnostic.map { String($0.prefix(500)) }), "permanent": .bool($0.permanent),
                                                                 "matched": .bool(matched.contains(Mailbox.key($0.address)))]) }),
            ])
        }
        if let c = m.complaint {
            o["complaint"] = .object(["feedback_type": .str(c.feedbackType), "addresses": .array(c.complainedAddresses.map(JSONValue.string)),
                                      "original_message_id": .str(c.originalMessageID), "matched": .bool(!matched.isEmpty)])
        }
        return JSONValue.object(o).serialized
    }
}
