import Foundation
import Logging
import PostgresNIO

/// The events feed lists an event only once no older transaction that may write events is still
/// running (`Events.page`, the webhook feed): one that commits late is then never skipped. A
/// dispatch batch's transaction stays open while its SMTP conversations last, seconds for a slow
/// server, and would hold back every organization's feed and webhooks meanwhile. So while it
/// only sends, it steps out of the horizon (it has written no event yet). Before it writes its
/// first event it steps back in, then takes a fresh transaction id for its events: newer than
/// anything a reader can have passed while it was out, and held back by its own still-running
/// transaction until it commits.
package enum FeedHorizon {
    /// The transactions' name while they are out (`application_name`, transaction-local).
    static let away = "nudge sending"

    /// A CTE body: `oldest`, the age of the oldest transaction the feed must wait for.
    package static let oldest = """
        SELECT max(age(backend_xid)) AS oldest FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
          AND application_name IS DISTINCT FROM '\(away)'
        """

    /// Steps out; returns the name to step back in with. The transaction must not have written
    /// an event yet, and must call `stepIn` before it writes one.
    package static func stepOut(_ conn: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await conn.query(
            "SELECT current_setting('application_name'), set_config('application_name', \(away), true)", logger: logger
        ).decode((String, String).self).collect()
        return rows.first?.0 ?? ""
    }

    /// Steps back in (first, so readers wait for this transaction again), then makes a fresh
    /// transaction id, taken on another connection, the id of every event it writes from now on.
    package static func stepIn(_ conn: PostgresConnection, name: String, db: Database, logger: Logger) async throws {
        try await conn.query("SELECT set_config('application_name', \(name), true)", logger: logger)
        let fresh = try await db.freshTransactionID()
        try await conn.query("SELECT set_config('nudge.event_tx', \(fresh), true)", logger: logger)
    }
}
