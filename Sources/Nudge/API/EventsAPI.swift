import Foundation
import Hummingbird
import PostgresNIO

struct EventRecord: Encodable {
    let id: String
    let type: String
    let data: JSONValue
    let created_at: Date
}

/// `GET /v1/events/?after=evt_…&type=…`, oldest first. Events of transactions still in flight are
/// held back (their `tx` is not below the snapshot's xmin), so paging with `after` never skips one
/// that commits late with a lower sequence number.
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

    func register(_ r: ScopedRouter) {
        r.get("/v1/events") { req, ctx in
            // Any valid token may read its organization's feed (`next_cursor` is the last event's id,
            // usable as `after` or `cursor`).
            let limit = try PageRequest.limit(req)
            let after = req.query("after") ?? req.query("cursor")
            let type = req.query("type")
            if let type, EventType(rawValue: type) == nil {
                throw APIError.validation("type", "type must be one of \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            let org = ctx.org
            let events: [EventRecord] = try await db.tenant(org) { conn in
                var afterSeq: Int64 = 0
                if let after {
                    guard ID.isValid(after, .evt), let seq = try await conn.query("SELECT seq FROM events WHERE org_id = \(org) AND id = \(after)", logger: db.logger)
                        .decode(Int64.self).collect().first else { throw APIError.validation("after", "after must be the id of an event of this organization.") }
                    afterSeq = seq
                }
                return try await conn.query("""
                    SELECT id, type, data::text, created_at FROM events
                    WHERE org_id = \(org) AND seq > \(afterSeq) AND (\(type)::text IS NULL OR type = \(type))
                      AND tx < pg_snapshot_xmin(pg_current_snapshot())
                    ORDER BY seq LIMIT \(limit)
                    """, logger: db.logger).decode((String, String, String, Date).self).collect()
                    .map { EventRecord(id: $0.0, type: $0.1, data: JSONValue.parse($0.2) ?? .null, created_at: $0.3) }
            }
            return try JSONCoding.response(EventPage(data: events, next_cursor: events.count == limit ? events.last?.id : nil))
        }
    }
}
