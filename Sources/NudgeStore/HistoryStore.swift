import Foundation
import Logging
import NIOCore
import NudgeCore
import NudgeMIME
import PostgresNIO

public struct MessageRecord: Encodable, Sendable {
    public let id: String
    public let inbox_id: String
    public let thread_id: String
    public let direction: MessageDirection
    public let rfc822_message_id: String
    public let in_reply_to: String?
    public let references: [String]
    public let from: String
    public let from_name: String?
    public let to: [String]
    public let cc: [String]
    public let subject: String
    public let text: String
    public let reply_text: String?
    public let classification: InboundClass?
    public let contact_id: String?
    public let enrollment_id: String?
    public let step_index: Int?
    public let raw_size: Int
    public let details: JSONValue?
    public let at: Date
    public let created_at: Date
    /// Reply intelligence (README, "Reply intelligence"): for human and automatic replies only.
    public let signature_text: String?
    public let intent: String?
    public let intent_source: String?
    public let intent_confidence: Double?
    public let referrals: JSONValue?
    public let return_date: String?
    public let return_sentence: String?

    package static let columns = """
        id, inbox_id, thread_id, direction, rfc822_message_id, in_reply_to, refs, from_address, from_name, to_addresses, cc_addresses,
        subject, text_body, reply_text, classification, contact_id, enrollment_id, step_index, raw_size, details::text, at, created_at,
        signature_text, intent, intent_source, intent_confidence, referrals::text AS referrals,
        to_char(return_date, 'YYYY-MM-DD') AS return_date, return_sentence
        """

    /// The stored text of a message, less its fixed-size columns (`PageSize`). `octet_length` of
    /// a text column reads its stored length without fetching it.
    package static let size = """
        octet_length(subject) + octet_length(text_body) + coalesce(octet_length(reply_text), 0) + coalesce(octet_length(details::text), 0)
        + octet_length(rfc822_message_id) + coalesce(octet_length(in_reply_to), 0) + octet_length(refs::text) + octet_length(from_address)
        + coalesce(octet_length(from_name), 0) + octet_length(to_addresses::text) + octet_length(cc_addresses::text)
        + coalesce(octet_length(signature_text), 0) + coalesce(octet_length(referrals::text), 0) + coalesce(octet_length(return_sentence), 0)
        """

    package static func decode(_ row: PostgresRow) throws -> MessageRecord {
        let r = row.makeRandomAccess()
        return MessageRecord(
            id: try r["id"].decode(String.self), inbox_id: try r["inbox_id"].decode(String.self), thread_id: try r["thread_id"].decode(String.self),
            direction: try MessageDirection.stored(r["direction"].decode(String.self), column: "messages.direction"),
            rfc822_message_id: try r["rfc822_message_id"].decode(String.self),
            in_reply_to: try r["in_reply_to"].decode(String?.self), references: try r["refs"].decode([String].self),
            from: try r["from_address"].decode(String.self), from_name: try r["from_name"].decode(String?.self),
            to: try r["to_addresses"].decode([String].self), cc: try r["cc_addresses"].decode([String].self),
            subject: try r["subject"].decode(String.self), text: try r["text_body"].decode(String.self),
            reply_text: try r["reply_text"].decode(String?.self),
            classification: try r["classification"].decode(String?.self).map { try InboundClass.stored($0, column: "messages.classification") },
            contact_id: try r["contact_id"].decode(String?.self),
            enrollment_id: try r["enrollment_id"].decode(String?.self), step_index: try r["step_index"].decode(Int?.self),
            raw_size: try r["raw_size"].decode(Int.self), details: try r["details"].decode(String?.self).flatMap(JSONValue.parse),
            at: try r["at"].decode(Date.self), created_at: try r["created_at"].decode(Date.self),
            signature_text: try r["signature_text"].decode(String?.self), intent: try r["intent"].decode(String?.self),
            intent_source: try r["intent_source"].decode(String?.self), intent_confidence: try r["intent_confidence"].decode(Double?.self),
            referrals: try r["referrals"].decode(String?.self).flatMap(JSONValue.parse), return_date: try r["return_date"].decode(String?.self),
            return_sentence: try r["return_sentence"].decode(String?.self))
    }
}

public struct ThreadRecord: Encodable, Sendable {
    public let id: String
    public let inbox_id: String
    public let contact_id: String?
    public let subject: String
    public let message_count: Int
    public let last_message_at: Date
    public let created_at: Date
    /// When Nudge last sent into the thread, while no human reply has come since (else null).
    public let awaiting_reply_since: Date?

    package static let columns = "id, inbox_id, contact_id, subject, message_count, last_message_at, created_at, awaiting_since"

    package static func decode(_ row: PostgresRow) throws -> ThreadRecord {
        let (id, inbox, contact, subject, count, last, created, awaiting) = try row.decode(
            (String, String, String?, String, Int, Date, Date, Date?).self)
        return ThreadRecord(
            id: id, inbox_id: inbox, contact_id: contact, subject: subject, message_count: count, last_message_at: last, created_at: created,
            awaiting_reply_since: awaiting)
    }
}

/// A message to append to an inbox's history (sent by the dispatcher or received inbound).
public struct NewMessage: Sendable {
    package var org: String
    package var id = ID.make(.msg)
    package var inboxID: String
    package var threadID: String
    package var direction: MessageDirection
    package var rfc822MessageID: String
    package var inReplyTo: String?
    package var references: [String]
    package var from: String
    package var fromName: String?
    package var to: [String]
    package var cc: [String] = []
    package var subject: String
    package var text: String
    package var replyText: String?
    package var classification: InboundClass?
    package var raw: [UInt8]
    package var contactID: String?
    package var enrollmentID: String?
    package var stepIndex: Int?
    package var details: String?
    package var at: Date
    /// What reply intelligence read from a received reply (nil for sent mail and reports).
    package var reply: ReplyFacts?

    package init(
        org: String, inboxID: String, threadID: String, direction: MessageDirection, rfc822MessageID: String, inReplyTo: String? = nil,
        references: [String],
        from: String, fromName: String? = nil, to: [String], cc: [String] = [], subject: String, text: String, replyText: String? = nil,
        classification: InboundClass? = nil, raw: [UInt8], contactID: String? = nil, enrollmentID: String? = nil, stepIndex: Int? = nil,
        details: String? = nil, at: Date
    ) {
        self.org = org
        self.inboxID = inboxID
        self.threadID = threadID
        self.direction = direction
        self.rfc822MessageID = rfc822MessageID
        self.inReplyTo = inReplyTo
        self.references = references
        self.from = from
        self.fromName = fromName
        self.to = to
        self.cc = cc
        self.subject = subject
        self.text = text
        self.replyText = replyText
        self.classification = classification
        self.raw = raw
        self.contactID = contactID
        self.enrollmentID = enrollmentID
        self.stepIndex = stepIndex
        self.details = details
        self.at = at
    }
}

extension HistoryStore {
    /// Empties the bodies and raw sources (and what reply intelligence quoted from them: the
    /// signature, referrals, return sentence) of up to `limit` of the organization's messages
    /// received or sent before `before`; ids, references, addresses and threads stay, so
    /// threading and stop on reply keep working. Returns how many.
    package static func purgeBodies(org: String, before: Date, now: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws -> Int
    {
        try await conn.query(
            """
            UPDATE messages m SET text_body = '', reply_text = NULL, raw = NULL, body_purged_at = \(now),
              signature_text = NULL, referrals = NULL, return_sentence = NULL, intent_review_at = NULL
            FROM (SELECT org_id, id FROM messages WHERE org_id = \(org) AND body_purged_at IS NULL AND at < \(before) ORDER BY at LIMIT \(limit)) old
            WHERE m.org_id = old.org_id AND m.id = old.id
            RETURNING m.id
            """, logger: logger
        ).collect().count
    }
}

extension NewMessage {
    package func withoutNUL() -> NewMessage {
        func c(_ s: String) -> String { s.withoutNUL }
        var m = self
        m.subject = c(subject)
        m.text = c(text)
        m.replyText = replyText.map(c)
        m.fromName = fromName.map(c)
        m.from = c(from)
        m.to = to.map(c)
        m.cc = cc.map(c)
        m.rfc822MessageID = c(rfc822MessageID)
        m.inReplyTo = inReplyTo.map(c)
        m.references = references.map(c)
        m.details = details.map(c)
        m.reply = reply.map {
            var r = $0
            r.signature = c(r.signature)
            r.referrals = c(r.referrals)
            r.returnSentence = r.returnSentence.map(c)
            return r
        }
        return m
    }
}

/// The inbox's history: threads and their messages. One write API for sending and receiving.
public struct HistoryStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    /// Appends messages (many at once for the dispatcher), creating threads that do not exist yet
    /// and keeping each thread's count and last activity current. All in the caller's transaction.
    package struct NewThread: Sendable {
        package let org: String
        package let id: String
        package let inboxID: String
        package let contactID: String?
        package let subject: String

        package init(org: String, id: String, inboxID: String, contactID: String?, subject: String) {
            self.org = org
            self.id = id
            self.inboxID = inboxID
            self.contactID = contactID
            self.subject = subject
        }
    }

    /// With `events`, the caller's events go into the same statement (one round trip for the
    /// threads, the messages and the events).
    package static func append(
        _ messages: [NewMessage], newThreads: [NewThread], events: [PendingEvent] = [], now: Date,
        _ conn: PostgresConnection, logger: Logger
    ) async throws {
        guard !messages.isEmpty || !newThreads.isEmpty || !events.isEmpty else { return }
        // PostgreSQL text cannot hold NUL; real mail sometimes does.
        let messages = messages.map { $0.withoutNUL() }
        _ = try await conn.execute(
            Append(
                threads: ThreadCounts(messages: messages, newThreads: newThreads, now: now), events: .init(events: events, now: now),
                messages: messages, now: now), logger: logger)
    }

    /// Prepared (each of its parts took longer to plan than to run for a single inbound message:
    /// pg_stat_statements, ops/bench inbound). The thread rows, the events and the messages as one
    /// statement; the messages' foreign key to their thread is checked at its end.
    package struct Append: PostgresPreparedStatement {
        package typealias Row = ()
        package static let messagesSQL = """
            INSERT INTO messages (org_id, id, inbox_id, thread_id, direction, rfc822_message_id, in_reply_to, refs, from_address, from_name,
              to_addresses, cc_addresses, subject, text_body, reply_text, classification, raw, raw_size, contact_id, enrollment_id, step_index, details, at, created_at,
              signature_text, intent, intent_source, intent_confidence, referrals, return_date, return_sentence, intent_review_at)
            SELECT u.org, u.id, u.inbox, u.thread, u.dir, u.rfc, nullif(u.irt, ''), string_to_array(u.refs, ' '), u.fa, nullif(u.fn, ''),
                   string_to_array(u.ta, ' '), string_to_array(u.cc, ' '), u.subj, u.txt, nullif(u.rt, ''), nullif(u.cls, ''), u.raw, octet_length(u.raw), nullif(u.cid, ''), nullif(u.eid, ''), nullif(u.step, -1),
                   nullif(u.det, '')::jsonb, u.at, $1::timestamptz,
                   CASE WHEN u.intent <> '' THEN u.sig END, nullif(u.intent, ''), nullif(u.isrc, ''), CASE WHEN u.intent <> '' THEN u.iconf END,
                   nullif(u.rfl, '')::jsonb, nullif(u.rd, '')::date, nullif(u.rs, ''), nullif(u.review, 'epoch'::timestamptz)
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                        $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bytea[], $19::text[], $20::text[], $21::int[],
                        $22::text[], $23::timestamptz[], $24::text[], $25::text[], $26::text[], $27::float8[], $28::text[], $29::text[], $30::text[],
                        $31::timestamptz[])
              AS u(org, id, inbox, thread, dir, rfc, irt, refs, fa, fn, ta, cc, subj, txt, rt, cls, raw, cid, eid, step, det, at,
                   sig, intent, isrc, iconf, rfl, rd, rs, review)
            """
        package static let messagesParameterCount = 31
        package static let sql = """
            WITH threads_upserted AS (\(ThreadCounts.upsertSQL)),
            events_inserted AS (\(SQLParameters.shifted(Events.Insert.sql, by: ThreadCounts.parameterCount)))
            \(SQLParameters.shifted(messagesSQL, by: ThreadCounts.parameterCount + Events.Insert.parameterCount))
            """
        package let threads: ThreadCounts
        package let events: Events.Insert
        package let messages: [NewMessage]
        package let now: Date

        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: ThreadCounts.parameterCount + Events.Insert.parameterCount + Self.messagesParameterCount)
            threads.bind(now: now, into: &b)
            events.bind(into: &b)
            b.append(now)
            b.append(messages.map(\.org))
            b.append(messages.map(\.id))
            b.append(messages.map(\.inboxID))
            b.append(messages.map(\.threadID))
            b.append(messages.map(\.direction.rawValue))
            b.append(messages.map(\.rfc822MessageID))
            b.append(messages.map { $0.inReplyTo ?? "" })
            b.append(messages.map { $0.references.joined(separator: " ") })
            b.append(messages.map(\.from))
            b.append(messages.map { $0.fromName ?? "" })
            b.append(messages.map { $0.to.joined(separator: " ") })
            b.append(messages.map { $0.cc.joined(separator: " ") })
            b.append(messages.map(\.subject))
            b.append(messages.map(\.text))
            b.append(messages.map { $0.replyText ?? "" })
            b.append(messages.map { $0.classification?.rawValue ?? "" })
            b.append(messages.map { ByteBuffer(bytes: $0.raw) })
            b.append(messages.map { $0.contactID ?? "" })
            b.append(messages.map { $0.enrollmentID ?? "" })
            b.append(messages.map { $0.stepIndex ?? -1 })
            b.append(messages.map { $0.details ?? "" })
            b.append(messages.map(\.at))
            b.append(messages.map { $0.reply?.signature ?? "" })
            b.append(messages.map { $0.reply?.intent ?? "" })
            b.append(messages.map { $0.reply?.source ?? "" })
            b.append(messages.map { $0.reply?.confidence ?? 0 })
            b.append(messages.map { $0.reply?.referrals ?? "" })
            b.append(messages.map { $0.reply?.returnDate ?? "" })
            b.append(messages.map { $0.reply?.returnSentence ?? "" })
            b.append(messages.map { $0.reply?.reviewAt ?? Date(timeIntervalSince1970: 0) })
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws {}
    }

    /// Bounded in bytes (`EncodedPage`): a subject is a header of up to 256 KiB. PostgreSQL sends
    /// the subjects of about a page's worth (`PageSize`).
    public func threads(org: String, inboxID: String, page: PageRequest) async throws -> EncodedPage? {
        try await db.tenant(org) { conn in
            if try await !InboxStore.exists(org: org, id: inboxID, conn, logger: logger) { return nil }
            var out = page.encoded()
            for try await row in try await conn.query(
                """
                SELECT before < \(PageSize.budget), id, inbox_id, contact_id, CASE WHEN before < \(PageSize.budget) THEN subject END,
                  message_count, last_message_at, created_at, awaiting_since
                FROM (SELECT p.*, \(unescaped: PageSize.before("octet_length(p.subject)", order: "p.last_message_at DESC, p.id DESC")) AS before
                      FROM (SELECT \(unescaped: ThreadRecord.columns) FROM threads WHERE org_id = \(org) AND inbox_id = \(inboxID)
                            AND (last_message_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY last_message_at DESC, id DESC LIMIT \(page.limit + 1)) p) s
                ORDER BY last_message_at DESC, id DESC
                """, logger: logger) where !out.isComplete
            {
                let (sent, id, inbox, contact, subject, count, last, created, awaiting) = try row.decode(
                    (Bool, String, String, String?, String?, Int, Date, Date, Date?).self)
                guard sent, let subject else {
                    out.stop()
                    continue
                }
                try out.add(
                    ThreadRecord(
                        id: id, inbox_id: inbox, contact_id: contact, subject: subject, message_count: count, last_message_at: last,
                        created_at: created, awaiting_reply_since: awaiting),
                    key: (last, id))
            }
            return out
        }
    }

    /// How many of its newest messages `GET /v1/threads/{id}` carries (and at most 1 MiB of them).
    public static let threadMessages = 50

    /// The thread and its newest messages, newest first: at most `threadMessages` and 1 MiB (or
    /// one message), with a cursor for `messages` when older ones were left out.
    public func thread(org: String, id: String) async throws -> (ThreadRecord, newest: EncodedPage)? {
        try await db.tenant(org) { conn in
            guard
                let t = try await conn.query(
                    "SELECT \(unescaped: ThreadRecord.columns) FROM threads WHERE org_id = \(org) AND id = \(id)", logger: logger
                )
                .collect().first.map(ThreadRecord.decode)
            else { return nil }
            var page = EncodedPage(limit: Self.threadMessages, maxBytes: EncodedPage.maxBytes)
            try await messages(org: org, threadID: id, before: PageRequest.top, into: &page, conn)
            return (t, page)
        }
    }

    /// A thread's messages, newest first (by `at`, then id); nil when the thread does not exist.
    public func messages(org: String, threadID: String, page: PageRequest) async throws -> EncodedPage? {
        try await db.tenant(org) { conn in
            guard try await !conn.query("SELECT 1 FROM threads WHERE org_id = \(org) AND id = \(threadID)", logger: logger).collect().isEmpty else {
                return nil
            }
            var out = page.encoded()
            try await messages(org: org, threadID: threadID, before: (page.beforeAt, page.beforeID), into: &out, conn)
            return out
        }
    }

    /// Fills `page` with the thread's messages before `before`, newest first. PostgreSQL sends
    /// the content of about a page's worth (`PageSize`): a message may be 25 MiB.
    private func messages(org: String, threadID: String, before: (at: Date, id: String), into page: inout EncodedPage, _ conn: PostgresConnection)
        async throws
    {
        for try await row in try await conn.query(
            """
            SELECT p.before < \(PageSize.budget) AS sent, \(unescaped: MessageRecord.columns)
            FROM (SELECT k.*, \(unescaped: PageSize.before("k.size", order: "k.listed_at DESC, k.listed_id DESC")) AS before
                  FROM (SELECT at AS listed_at, id AS listed_id, \(unescaped: MessageRecord.size) AS size FROM messages
                        WHERE org_id = \(org) AND thread_id = \(threadID) AND (at, id) < (\(before.at), \(before.id))
                        ORDER BY at DESC, id DESC LIMIT \(page.limit + 1)) k) p
            LEFT JOIN messages m ON p.before < \(PageSize.budget) AND m.org_id = \(org) AND m.id = p.listed_id
            ORDER BY p.listed_at DESC, p.listed_id DESC
            """, logger: logger) where !page.isComplete
        {
            guard try row.makeRandomAccess()["sent"].decode(Bool.self) else {
                page.stop()
                continue
            }
            let m = try MessageRecord.decode(row)
            try page.add(m, key: (m.at, m.id))
        }
    }

    public func message(org: String, id: String) async throws -> MessageRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT \(unescaped: MessageRecord.columns) FROM messages WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .collect().first.map(MessageRecord.decode)
        }
    }

    public func raw(org: String, id: String) async throws -> ByteBuffer? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT coalesce(raw, ''::bytea) FROM messages WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .decode(ByteBuffer.self).collect().first
        }
    }

    package init(db: Database) {
        self.db = db
    }
}

extension HistoryStore {
    /// Which of `addresses` (keys) this inbox sent to: a message whose Message-ID is one of `ids`
    /// and that went to the address, or any message to the address since `since`. What lets a
    /// bounce or complaint act (InboundProcessor.ReportMatch).
    package static func sentTo(
        org: String, inboxID: String, addresses: [String], ids: [String], since: Date,
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> Set<String> {
        guard !addresses.isEmpty else { return [] }
        let rows = try await conn.query(
            """
            SELECT k.key FROM unnest(\(addresses)::text[]) AS k(key)
            WHERE EXISTS (
                SELECT 1 FROM message_refs(\(ids)::text[]) AS ref(id)
                JOIN messages m ON m.org_id = \(org) AND m.inbox_id = \(inboxID) AND m.rfc822_message_id = ref.id
                WHERE m.direction = 'outbound' AND EXISTS (SELECT 1 FROM unnest(m.to_addresses) AS t(a) WHERE lower(t.a) = k.key))
            OR EXISTS (
                SELECT 1 FROM messages m WHERE m.org_id = \(org) AND m.inbox_id = \(inboxID) AND m.direction = 'outbound'
                  AND lower(m.to_addresses[1]) = k.key AND m.at >= \(since))
            """, logger: logger
        ).decode(String.self).collect()
        return Set(rows)
    }
}

package enum ThreadKeys {
    /// Subject with reply/forward prefixes removed, for threading mail that lacks references.
    package static func subjectKey(_ subject: String) -> String { SubjectNormalizer.normalize(subject) }
}

/// The newest message of each thread a batch replies into (for In-Reply-To and References).
package enum ThreadContext {
    /// `candidates`: ids for In-Reply-To, newest first. Only the newest message's id, unless that
    /// one cannot be sent: then the ids of the thread's recent messages, for a fallback.
    package struct Latest {
        package var candidates: [String]
        package let references: [String]
    }

    /// How far back a thread is searched for an id that can be sent, past malformed ones.
    package static let fallbackDepth = 50

    package static func latest(threadIDs: [String], orgs: [String], isSendable: (String) -> Bool, _ conn: PostgresConnection, logger: Logger)
        async throws -> [String: Latest]
    {
        guard !threadIDs.isEmpty else { return [:] }
        var out: [String: Latest] = [:]
        for try await (thread, rfc, refs) in try await conn.query(
            """
            SELECT DISTINCT ON (m.thread_id) m.thread_id, m.rfc822_message_id, m.refs
            FROM messages m JOIN unnest(\(orgs)::text[], \(threadIDs)::text[]) AS u(org, thread) ON m.org_id = u.org AND m.thread_id = u.thread
            ORDER BY m.thread_id, m.at DESC, m.created_at DESC
            """, logger: logger
        ).decode((String, String, [String]).self) {
            out[thread] = Latest(candidates: [rfc], references: refs)
        }
        // Rare (someone's mailer wrote a malformed id): a second, bounded read for those threads only.
        let orgOf = Dictionary(zip(threadIDs, orgs), uniquingKeysWith: { a, _ in a })
        let malformed = out.filter { !isSendable($0.value.candidates[0]) }.keys.sorted()
        guard !malformed.isEmpty else { return out }
        for try await (thread, ids) in try await conn.query(
            """
            SELECT u.thread, r.ids FROM unnest(\(malformed.map { orgOf[$0] ?? "" })::text[], \(malformed)::text[]) AS u(org, thread)
            CROSS JOIN LATERAL (
              SELECT array_agg(rfc ORDER BY n) AS ids FROM (
                SELECT m.rfc822_message_id AS rfc, row_number() OVER (ORDER BY m.at DESC, m.created_at DESC) AS n FROM messages m
                WHERE m.org_id = u.org AND m.thread_id = u.thread ORDER BY m.at DESC, m.created_at DESC LIMIT \(fallbackDepth)) x) r
            """, logger: logger
        ).decode((String, [String]?).self) {
            if let ids, !ids.isEmpty { out[thread]?.candidates = ids }
        }
        return out
    }
}

/// A reply claimed for the LLM's second opinion on its intent.
package struct IntentReview: Sendable {
    package let org, id, inboxID, threadID: String
    package let contactID: String?
    package let from, subject, text, intent: String
    package let attempts: Int
}

extension HistoryStore {
    /// Claims due intent reviews across organizations, leased until `leaseUntil`, in one
    /// statement (`FOR UPDATE SKIP LOCKED`: concurrent workers take different replies).
    package static func claimIntentReviews(now: Date, leaseUntil: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws
        -> [IntentReview]
    {
        var out: [IntentReview] = []
        for try await (org, id, inbox, thread, contact, from, subject, text, intent, attempts) in try await conn.query(
            """
            WITH due AS (
              SELECT org_id, id FROM messages WHERE intent_review_at <= \(now) ORDER BY intent_review_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            UPDATE messages m SET intent_review_at = \(leaseUntil), intent_review_attempts = m.intent_review_attempts + 1
            FROM due WHERE m.org_id = due.org_id AND m.id = due.id
            RETURNING m.org_id, m.id, m.inbox_id, m.thread_id, m.contact_id, m.from_address, m.subject,
              coalesce(nullif(m.reply_text, ''), m.text_body), coalesce(m.intent, 'other'), m.intent_review_attempts
            """, logger: logger
        ).decode((String, String, String, String, String?, String, String, String, String, Int).self) {
            out.append(
                IntentReview(
                    org: org, id: id, inboxID: inbox, threadID: thread, contactID: contact, from: from, subject: subject, text: text, intent: intent,
                    attempts: attempts))
        }
        return out
    }

    /// The model's label and the people it refers to (a JSON array, empty for none), in the
    /// caller's transaction: true when it was applied. A rule's `unsubscribe_request` is never
    /// replaced (nor reviewed).
    package static func labelIntent(
        org: String, id: String, intent: String, confidence: Double, referrals: String, _ conn: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        try await !conn.query(
            """
            UPDATE messages SET intent = \(intent), intent_source = 'llm', intent_confidence = \(confidence),
              referrals = nullif(\(referrals), '')::jsonb, intent_review_at = NULL
            WHERE org_id = \(org) AND id = \(id) AND intent_review_at IS NOT NULL AND intent IS DISTINCT FROM 'unsubscribe_request'
            RETURNING id
            """, logger: logger
        ).collect().isEmpty
    }

    /// Tries the review again at `retryAt`, or gives it up (the rules' label stays) when nil.
    package static func deferIntentReview(org: String, id: String, retryAt: Date?, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            "UPDATE messages SET intent_review_at = \(retryAt) WHERE org_id = \(org) AND id = \(id) AND intent_review_at IS NOT NULL", logger: logger)
    }
}
