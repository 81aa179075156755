import Foundation
import PostgresNIO

/// The append-only events feed. Events are written inside the transaction that caused them, so
/// the feed never shows something that did not happen, nor misses something that did.
public enum EventType: String, Sendable, CaseIterable {
    case enrollmentCreated = "enrollment.created"
    case enrollmentCancelled = "enrollment.cancelled"
    case enrollmentPaused = "enrollment.paused"
    case enrollmentResumed = "enrollment.resumed"
    case enrollmentCompleted = "enrollment.completed"
    case enrollmentExited = "enrollment.exited"
    case enrollmentFailed = "enrollment.failed"
    case messageSent = "message.sent"
    case messageReceived = "message.received"
    case messageBounced = "message.bounced"
    case messageComplained = "message.complained"
    case reminderDue = "reminder.due"
    case suppressionCreated = "suppression.created"
    case suppressionDeleted = "suppression.deleted"
    case judgementFailed = "judgement.failed"
}

public struct PendingEvent: Sendable {
    public let org: String
    public let type: EventType
    public let data: String   // a JSON object

    public init(org: String, type: EventType, _ fields: [String: JSONValue]) {
        self.org = org
        self.type = type
        self.data = JSONValue.object(fields).serialized
    }
}

public enum Events {
    /// Appends events in one statement.
    public static func append(_ events: [PendingEvent], at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        _ = try await conn.execute(Insert(events: events, now: now), logger: logger)
    }

    /// Prepared; also a fragment of `HistoryStore.Append`. Parameters: the time, then each column
    /// as an array. `ORDER BY n` keeps the events' order in the feed.
    struct Insert: ComposableStatement {
        typealias Row = ()
        static let sql = """
            INSERT INTO events (org_id, id, type, data, created_at)
            SELECT o, i, t, d::jsonb, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(o, i, t, d, n) ORDER BY n
            """
        static let parameterCount = 5
        let events: [PendingEvent]
        let now: Date

        func bind(into b: inout PostgresBindings) {
            b.append(now)
            b.append(events.map(\.org))
            b.append(events.map { _ in ID.make(.evt) })
            b.append(events.map(\.type.rawValue))
            b.append(events.map(\.data))
        }
        func decodeRow(_ row: PostgresRow) throws {}
    }
}
