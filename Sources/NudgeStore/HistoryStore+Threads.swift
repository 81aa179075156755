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
        package var contactID: String? { threadContact ?? messageContact }
    }
    package let rows: [Row]

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
            if let c = m.contactID, c > (rows[i].messageContact ?? "") { rows[i].messageContact = c }
        }
        self.rows = rows
    }

    /// The upsert, a fragment of `HistoryStore.Append`. Parameters: the time, then each column as an array.
    package static let upsertSQL = """
        INSERT INTO threads (org_id, id, inbox_id, contact_id, subject, subject_key, message_count, last_message_at, created_at)
        SELECT o, i, b, nullif(c, ''), s, k, n, l, $1::timestamptz
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::timestamptz[])
          WITH ORDINALITY AS u(o, i, b, c, s, k, n, l, ord)
        ORDER BY ord
        ON CONFLICT (org_id, id) DO UPDATE SET message_count = threads.message_count + EXCLUDED.message_count,
          last_message_at = GREATEST(threads.last_message_at, EXCLUDED.last_message_at),
          contact_id = coalesce(threads.contact_id, EXCLUDED.contact_id)
        """
    package static let parameterCount = 9

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
    }
}
