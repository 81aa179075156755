import Foundation
import PostgresNIO

enum DeliveryStatus {
    /// An SMTP server took the message; its batch has not recorded it yet (or never will: the
    /// worker died). The timeline shows it as sent.
    static let accepted = "accepted"
}

/// "The SMTP server took this step's email", committed the moment it happens, outside the batch's
/// transaction. It narrows the window in which a crash causes a second send from a whole batch to
/// the one statement between the server's 250 and this commit.
struct AcceptanceMark: Sendable {
    let org: String
    let enrollmentID: String
    let stepIndex: Int
    let rfcID: String
    let scheduledAt: Date

    /// One statement for the marks gathered while the previous one committed. False when it failed.
    static func write(_ marks: [AcceptanceMark], db: Database) async -> Bool {
        do {
            try await db.system { conn in
                try await conn.query("""
                    INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, rfc822_message_id, status, scheduled_at)
                    SELECT u.org, u.enr, u.step, 'email', u.rfc, \(DeliveryStatus.accepted), u.due
                    FROM unnest(\(marks.map(\.org))::text[], \(marks.map(\.enrollmentID))::text[], \(marks.map(\.stepIndex))::int[],
                                \(marks.map(\.rfcID))::text[], \(marks.map(\.scheduledAt))::timestamptz[]) AS u(org, enr, step, rfc, due)
                    ORDER BY u.org, u.enr
                    ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET
                      status = EXCLUDED.status, rfc822_message_id = EXCLUDED.rfc822_message_id
                    """, logger: db.logger)
            }
            return true
        } catch {
            db.logger.error("could not mark accepted emails; the rest of the batch waits", metadata: ["error": "\(error)"])
            return false
        }
    }
}
