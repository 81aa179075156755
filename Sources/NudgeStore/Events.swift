import Foundation
import NudgeCore
import PostgresNIO

/// The append-only events feed. Events are written inside the transaction that caused them, so
/// the feed never shows something that did not happen, nor misses something that did.
public struct PendingEvent: Sendable {
    public let org: String
    public let type: EventType
    public let data: String  // a JSON object

    public init(org: String, type: EventType, _ fields: [String: JSONValue]) {
        self.org = org
        self.type = type
        self.data = JSONValue.object(fields).serialized
    }
}

package struct EventRecord: Encodable {
    package let id: String
    package let type: EventType
    package let data: JSONValue
    package let created_at: Date
}

public enum Events {
    /// Appends events in one statement.
    public static func append(_ events: [PendingEvent], at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        _ = try await conn.execute(Insert(events: events, now: now), logger: logger)
    }

    /// A page of the feed, oldest first, in (transaction id, sequence) order, after the event
    /// `after`. An event is listed only once no older transaction of this database is still
    /// running (`FeedHorizon`). Bounded in bytes (`EncodedPage`, `PageSize`); `next_cursor` is the last event's
    /// id when the page is full or ended early.
    package static func page(org: String, types: [EventType], after: String?, limit: Int, _ db: Database) async throws -> EncodedPage {
        try await db.tenant(org) { conn in
            if let after {
                guard ID.isValid(after, .evt),
                    try await !conn.query("SELECT 1 FROM events WHERE org_id = \(org) AND id = \(after)", logger: db.logger)
                        .collect().isEmpty
                else {
                    try await expired(org: org, after: after, conn, logger: db.logger)
                    throw NudgeError.validation("after", "after must be the id of an event of this organization.")
                }
            }
            var out = EncodedPage(limit: limit, maxBytes: EncodedPage.maxBytes)
            for try await (sent, id, type, data, created) in try await conn.query(
                """
                WITH horizon AS (\(unescaped: FeedHorizon.oldest))
                SELECT before < \(PageSize.budget), id, type, CASE WHEN before < \(PageSize.budget) THEN data::text END, created_at
                FROM (SELECT p.*, \(unescaped: PageSize.before("octet_length(p.data::text)", order: "p.tx, p.seq")) AS before
                      FROM (SELECT id, type, data, created_at, tx, seq FROM events, horizon
                            WHERE org_id = \(org) AND type = ANY(\(types.map(\.rawValue)))
                              AND (\(after)::text IS NULL OR (tx, seq) > (SELECT a.tx, a.seq FROM events a WHERE a.org_id = \(org) AND a.id = \(after)))
                              AND (horizon.oldest IS NULL OR age(tx::xid) > horizon.oldest)
                            ORDER BY tx, seq LIMIT \(limit)) p) s
                ORDER BY tx, seq
                """, logger: db.logger
            ).decode((Bool, String, String, String?, Date).self) where !out.isComplete {
                guard sent, let data else {
                    out.stop()
                    continue
                }
                guard let parsed = JSONValue.parse(data) else { throw UnknownStoredValue(column: "events.data", value: data) }
                try out.add(
                    EventRecord(id: id, type: try EventType.stored(type, column: "events.type"), data: parsed, created_at: created), key: .id(id))
            }
            if out.count == limit { out.stop() }
            return out
        }
    }

    /// The text of a statement (or CTE) that writes one event for each row of `source`, from
    /// the given SQL expressions (parameters of the statement it is part of): the events table's
    /// writes stay here even inside another store's statement.
    package static func insertOne(org: String, id: String, type: String, data: String, at: String, forEachRowOf source: String) -> String {
        "INSERT INTO events (org_id, id, type, data, created_at)\n  SELECT \(org), \(id), \(type), \(data)::jsonb, \(at) FROM \(source)"
    }

    /// Prepared; also a fragment of `HistoryStore.Append`. Parameters: the time, then each column
    /// as an array. `ORDER BY n` keeps the events' order in the feed.
    package struct Insert: ComposableStatement {
        package typealias Row = ()
        package static let sql = """
            INSERT INTO events (org_id, id, type, data, created_at)
            SELECT o, i, t, d::jsonb, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(o, i, t, d, n) ORDER BY n
            """
        package static let parameterCount = 5
        package let events: [PendingEvent]
        package let now: Date

        package func bind(into b: inout PostgresBindings) {
            b.append(now)
            b.append(events.map(\.org))
            b.append(events.map { _ in ID.make(.evt) })
            b.append(events.map(\.type.rawValue))
            b.append(events.map(\.data))
        }
        package func decodeRow(_ row: PostgresRow) throws {}
    }

    /// Removes up to `limit` of the organization's oldest events created before `before`,
    /// walking the feed's index from its start (feed order follows creation); returns how many.
    package static func purge(org: String, before: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await conn.query(
            """
            DELETE FROM events e USING (
              SELECT org_id, id FROM events WHERE org_id = \(org) ORDER BY tx, seq LIMIT \(limit)) oldest
            WHERE e.org_id = oldest.org_id AND e.id = oldest.id AND e.created_at < \(before)
            RETURNING e.id
            """, logger: logger
        ).collect()
        if !rows.isEmpty { try await TokenStore.markEventsPurged(org: org, before: before, conn, logger: logger) }
        return rows.count
    }

    /// A well-formed cursor that names no event, once retention removed some: it may have named
    /// one of them. A 410 that says where the feed now starts, so a reader can resume there.
    private static func expired(org: String, after: String, _ conn: PostgresConnection, logger: Logger) async throws {
        guard ID.isValid(after, .evt),
            let purged = try await conn.query("SELECT events_purged_before FROM orgs WHERE id = \(org)", logger: logger)
                .decode(Date?.self).collect().first ?? nil
        else { return }
        let oldest = try await conn.query("SELECT id FROM events WHERE org_id = \(org) ORDER BY tx, seq LIMIT 1", logger: logger)
            .decode(String.self).collect().first
        throw NudgeError(
            .gone,
            "Events created before \(RFC3339.string(purged)) have been removed by retention and this cursor names none that remain; "
                + (oldest.map { "the oldest available event is \($0): resume with after omitted, or from it." } ?? "no events remain."),
            field: "after")
    }
}
