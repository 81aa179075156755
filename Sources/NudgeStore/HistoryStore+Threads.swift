import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Each touched thread's row for a batch of appended messages: new threads are inserted with their
/// count and last activity already set, existing ones have them added, in one statement (it was an
/// insert, then an update that read the new messages back: ops/bench dispatch, pg_stat_statements,
/// 12.7 + 12.9 ms per batch of 200). It runs before the messages are inserted, which reference
/// their thread.
package struct ThreadCounts {
    package struct Row {
        package let org: String
        package let id: String
        package let inboxID: String
        package let subject: String
        /// A new thread's own contact; else the greatest contact of its new messages fills an empty one.
        package var threadContact: String?
        package var messageContact: String?
        package var count = 0
        /// New threads start at `now` (their creation); existing ones only move forward.
        package var last: Date
        /// The latest message Nudge sent into the thread in this batch (awaiting reply since then).
        package var sent: Date?
        package var contactID: String? { threadContact ?? messageContact }
    }
    package let rows: [Row]
    /// Threads a person answered in this batch (an inbound human reply): no longer awaiting one
    /// (auto-replies, bounces and complaints leave them awaiting).
    package let answered: [String]

    package init(messages: [NewMessage], newThreads: [HistoryStore.NewThread], now: Date) {
        var rows: [Row] = []
        var index: [String: Int] = [:]  // org + thread -> position in rows
        func key(_ org: String, _ id: String) -> String { org + "\u{1}" + id }
        for t in newThreads where index[key(t.org, t.id)] == nil {
            index[key(t.org, t.id)] = rows.count
            rows.append(Row(org: t.org, id: t.id, inboxID: t.inboxID, subject: t.subject.withoutNUL, threadContact: t.contactID, last: now))
        }
        for m in messages {
            let k = key(m.org, m.threadID)
            let i: Int
            if let known = index[k] {
                i = known
            } else {
                // An existing thread: inbox and subject only matter should it have vanished meanwhile.
                i = rows.count
                index[k] = i
                rows.append(Row(org: m.org, id: m.threadID, inboxID: m.inboxID, subject: m.subject, last: m.at))
            }
            rows[i].count += 1
            rows[i].last = max(rows[i].last, m.at)
            if m.direction == .outbound { rows[i].sent = max(rows[i].sent ?? m.at, m.at) }
            if let c = m.contactID, c > (rows[i].messageContact ?? "") { rows[i].messageContact = c }
        }
        self.rows = rows
        answered = Array(Set(messages.filter { $0.direction == .inbound && $0.classification == .humanReply }.map(\.threadID)))
    }

    /// The upsert, a fragment of `HistoryStore.Append`. Parameters: the time, each column as an
    /// array, then the ids of the answered threads (a thread is answered and sent into in one
    /// batch never: sends and receipts are appended apart).
    package static let upsertSQL = """
        INSERT INTO threads (org_id, id, inbox_id, contact_id, subject, subject_key, message_count, last_message_at, created_at, awaiting_since)
        SELECT o, i, b, nullif(c, ''), s, k, n, l, $1::timestamptz, nullif(a, 'epoch'::timestamptz)
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::timestamptz[], $10::timestamptz[])
          WITH ORDINALITY AS u(o, i, b, c, s, k, n, l, a, ord)
        ORDER BY ord
        ON CONFLICT (org_id, id) DO UPDATE SET message_count = threads.message_count + EXCLUDED.message_count,
          last_message_at = GREATEST(threads.last_message_at, EXCLUDED.last_message_at),
          contact_id = coalesce(threads.contact_id, EXCLUDED.contact_id),
          awaiting_since = CASE WHEN threads.id = ANY($11::text[]) THEN NULL ELSE GREATEST(threads.awaiting_since, EXCLUDED.awaiting_since) END
        """
    package static let parameterCount = 11

    /// Sorted by key, so two batches touching the same threads lock them in the same order.
    package func bind(now: Date, into b: inout PostgresBindings) {
        let rows = rows.sorted { ($0.org, $0.id) < ($1.org, $1.id) }
        b.append(now)
        b.append(rows.map(\.org))
        b.append(rows.map(\.id))
        b.append(rows.map(\.inboxID))
        b.append(rows.map { $0.contactID ?? "" })
        b.append(rows.map(\.subject))
        b.append(rows.map { ThreadKeys.subjectKey($0.subject) })
        b.append(rows.map(\.count))
        b.append(rows.map(\.last))
        b.append(rows.map { $0.sent ?? Date(timeIntervalSince1970: 0) })
        b.append(answered)
    }
}

extension HistoryStore {
    /// Threads awaiting a reply: Nudge sent last and no human reply came since, newest send
    /// first, sent before `sentBefore`, of one inbox or all. Served by the partial indexes
    /// `threads_awaiting` and `threads_awaiting_inbox` (migration 0021); bounded in bytes as
    /// the inbox thread list is. nil when `inboxID` names no inbox of the organization.
    public func awaitingReply(org: String, inboxID: String?, sentBefore: Date?, page: PageRequest) async throws -> EncodedPage? {
        try await db.tenant(org) { [logger] conn in
            if let inboxID, try await !InboxStore.exists(org: org, id: inboxID, conn, logger: logger) { return nil }
            var out = page.encoded()
            for try await row in try await conn.query(
                Self.awaitingQuery(org: org, inboxID: inboxID, sentBefore: sentBefore, page: page), logger: logger)
            where !out.isComplete {
                let (sent, id, inbox, contact, subject, count, last, created, awaiting) = try row.decode(
                    (Bool, String, String, String?, String?, Int, Date, Date, Date).self)
                guard sent, let subject else {
                    out.stop()
                    continue
                }
                try out.add(
                    ThreadRecord(
                        id: id, inbox_id: inbox, contact_id: contact, subject: subject, message_count: count, last_message_at: last,
                        created_at: created, awaiting_reply_since: awaiting),
                    key: (awaiting, id))
            }
            return out
        }
    }

    /// The page's query: the cursor and `sentBefore` as one bound on (awaiting_since, id), so
    /// the index is walked from the right place; one text per filter so each has its own plan.
    package static func awaitingQuery(org: String, inboxID: String?, sentBefore: Date?, page: PageRequest) -> PostgresQuery {
        var bound = (at: page.beforeAt, id: page.beforeID)
        if let sentBefore, sentBefore <= bound.at { bound = (sentBefore, "") }
        let head = """
            SELECT before < \(PageSize.budget), id, inbox_id, contact_id, CASE WHEN before < \(PageSize.budget) THEN subject END,
              message_count, last_message_at, created_at, awaiting_since
            FROM (SELECT p.*, \(PageSize.before("octet_length(p.subject)", order: "p.awaiting_since DESC, p.id DESC")) AS before
                  FROM (SELECT \(ThreadRecord.columns) FROM threads
            """
        let order = "ORDER BY awaiting_since DESC, id DESC"
        if let inboxID {
            return """
                \(unescaped: head) WHERE org_id = \(org) AND inbox_id = \(inboxID) AND awaiting_since IS NOT NULL
                AND (awaiting_since, id) < (\(bound.at), \(bound.id)) \(unescaped: order) LIMIT \(page.limit + 1)) p) s \(unescaped: order)
                """
        }
        return """
            \(unescaped: head) WHERE org_id = \(org) AND awaiting_since IS NOT NULL
            AND (awaiting_since, id) < (\(bound.at), \(bound.id)) \(unescaped: order) LIMIT \(page.limit + 1)) p) s \(unescaped: order)
            """
    }
}
