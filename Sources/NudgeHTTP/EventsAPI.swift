import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

/// `GET /v1/events/?after=evt_…&type=…`, oldest first, in (transaction id, sequence) order. An event
/// is listed only once no older transaction of this database is still running, so a consumer paging
/// with `after` never skips one that commits late. (The API role reads `pg_stat_activity` for this:
/// it needs `pg_read_all_stats`, granted by the embedded cluster's bootstrap; see README.)
package struct EventsAPI {
    package let db: Database

    /// The scope that reads what an event is about; the feed lists an event only to tokens that
    /// have it, since events carry content (addresses, reasons, errors).
    package static func scope(of type: EventType) -> Scope {
        switch type {
        case .enrollmentCreated, .enrollmentCancelled, .enrollmentPaused, .enrollmentResumed, .enrollmentHeld, .enrollmentCompleted,
            .enrollmentExited, .enrollmentFailed, .reminderDue, .judgementFailed:
            return .sequencesRead
        case .messageSent, .messageReceived, .messageBounced, .messageComplained, .inboxPaused, .inboxResumed, .inboxConnectionFailed,
            .domainVerified, .domainVerificationFailed:
            return .inboxesRead
        case .suppressionCreated, .suppressionDeleted: return .suppressionsRead
        case .webhookDisabled: return .webhooksRead
        case .draftCreated, .draftDecided: return .draftsRead
        }
    }

    package func register(_ r: ScopedRouter) {
        r.get("/v1/events") { req, ctx in
            // Any valid token may read its organization's feed, limited to the events its scopes
            // can read (`next_cursor` is the last event's id, usable as `after` or `cursor`).
            let limit = try PageRequest.limit(req)
            let after = try req.query("after") ?? req.query("cursor")
            var types = EventType.allCases.filter { ctx.token.scopes.allows(Self.scope(of: $0)) }
            if let type = try req.query("type") {
                guard let t = EventType(rawValue: type) else {
                    throw NudgeError.validation("type", "type must be one of \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                try ctx.require(Self.scope(of: t))
                types = [t]
            }
            let org = ctx.org
            let listed = types
            // Bounded in bytes as other lists (`EncodedPage`): the page ends early, with the last
            // event's id as next_cursor, before 1 MiB. A full page has a cursor too, as before.
            return try await Events.page(org: org, types: listed, after: after, limit: limit, db).response()
        }
    }

    package init(db: Database) {
        self.db = db
    }
}
