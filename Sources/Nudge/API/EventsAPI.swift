import Foundation
import Hummingbird
import PostgresNIO

struct EventRecord: Encodable {
    let id: String
    let type: String
    let data: JSONValue
    let created_at: Date
}

/// `GET /v1/events/?after=evt_…&type=…`, oldest first, in (transaction id, sequence) order. An event
/// is listed only once no older transaction of this database is still running, so a consumer paging
/// with `after` never skips one that commits late. (The API role reads `pg_stat_activity` for this:
/// it needs `pg_read_all_stats`, granted by the embedded cluster's bootstrap; see README.)
struct EventsAPI {
    let db: Database

    struct EventPage: Encodable {
        let data: [EventRecord]
        let next_cursor: String?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(data, forKey: .data)
            try c.encode(next_cursor, forKey: .next_cursor)
        }
        enum CodingKeys: String, CodingKey { case data, next_cursor }
    }

    /// The scope that reads what an event is about; the feed lists an event only to tokens that
    /// have it, since events carry content (addresses, reasons, errors).
    static func scope(of type: EventType) -> Scope {
        switch type {
        case .enrollmentCreated, .enrollmentCancelled, .enrollmentPaused, .enrollmentResumed, .enrollmentCompleted,
             .enrollmentExited, .enrollmentFailed, .reminderDue, .judgementFailed:
            return .sequencesRead
        case .messageSent, .messageReceived, .messageBounced, .messageComplained: return .inboxesRead
        case .suppressionCreated, .suppressionDeleted: return .suppressionsRead
        }
    }

    func register(_ r: ScopedRouter) {
        r.get("/v1/events") { req, ctx in
            // Any valid token may read its organization's feed, limited to the events its scopes
            // can read (`next_cursor` is the last event's id, usable as `after` or `cursor`).
            let limit = try PageRequest.limit(req)
            let after = try req.query("after") ?? req.query("cursor")
            var types = EventType.allCases.filter { ctx.token.scopes.allows(Self.scope(of: $0)) }.map(\.rawValue)
            if let type = try req.query("type") {
                guard let t = EventType(rawValue: type) else {
                    throw APIError.validation("type", "type must be one of \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                try ctx.require(Self.scope(of: t))
                types = [type]
            }
            let org = ctx.org, listed = types
            let events: [EventRecord] = try await db.tenant(org) { conn in
                if let after {
                    guard ID.isValid(after, .evt), try await !conn.query("SELECT 1 FROM events WHERE org_id = \(org) AND id = \(after)", logger: db.logger)
                        .collect().isEmpty else { throw APIError.validation("after", "after must be the id of an event of this organization.") }
                }
                return try await conn.query("""
                    WITH horizon AS (
                      SELECT max(age(backend_xid)) AS oldest FROM pg_stat_activity
                      WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())
                    SELECT id, type, data::text, created_at FROM events, horizon
                    WHERE org_id = \(org) AND type = ANY(\(listed))
                      AND (\(after)::text IS NULL OR (tx, seq) > (SELECT a.tx, a.seq FROM events a WHERE a.org_id = \(org) AND a.id = \(after)))
                      AND (horizon.oldest IS NULL OR age(tx::xid) > horizon.oldest)
                    ORDER BY tx, seq LIMIT \(limit)
                    """, logger: db.logger).decode((String, String, String, Date).self).collect()
                    .map { EventRecord(id: $0.0, type: $0.1, data: JSONValue.parse($0.2) ?? .null, created_at: $0.3) }
            }
            return try JSONCoding.response(EventPage(data: events, next_cursor: events.count == limit ? events.last?.id : nil))
        }
    }
}
