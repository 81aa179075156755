import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

/// A webhook endpoint as the API shows it. Its signing secret is never listed: it is shown once,
/// by the call that makes it (create, rotate-secret).
public struct WebhookRecord: Encodable, Sendable {
    public let id: String
    public let url: String
    public let description: String?
    public let event_types: [String]
    public let disabled: Bool
    public let disabled_reason: String?
    public let failing_since: Date?
    /// While a rotation lasts, the secrets it retired sign too (a `v1,` signature each) until then.
    public let previous_secret_expires_at: Date?
    public let created_at: Date
    public let updated_at: Date
}

/// One HTTP attempt of a delivery.
public struct WebhookAttemptRecord: Encodable, Sendable {
    public let attempted_at: Date
    public let status_code: Int?
    public let latency_ms: Int
    public let response_body: String?
    public let error: String?
    public let next_retry_at: Date?
}

/// One event (or test event) for one endpoint, with its latest attempts (newest first).
public struct WebhookDeliveryRecord: Encodable, Sendable {
    public let id: String
    public let webhook_id: String
    public let event_id: String
    public let event_type: String
    public let state: WebhookDeliveryState
    public let attempt_count: Int
    public let next_attempt_at: Date?
    public let created_at: Date
    public let attempts: [WebhookAttemptRecord]
}

/// Owns `webhooks`, `webhook_retired_secrets`, `webhook_deliveries` and `webhook_attempts` (the
/// delivery side is in WebhookStore+Delivery.swift). Secrets arrive and leave sealed: the store never sees one in clear.
public struct WebhookStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    package init(db: Database) { self.db = db }

    package static let columns = """
        id, url, description, event_types, disabled, disabled_reason, failing_since,
        (SELECT max(r.signs_until) FROM webhook_retired_secrets r WHERE r.org_id = webhooks.org_id AND r.webhook_id = webhooks.id),
        created_at, updated_at
        """

    package static func record(_ row: PostgresRow) throws -> WebhookRecord {
        let r = row.makeRandomAccess()
        return WebhookRecord(
            id: try r[0].decode(String.self), url: try r[1].decode(String.self), description: try r[2].decode(String?.self),
            event_types: try r[3].decode([String].self), disabled: try r[4].decode(Bool.self), disabled_reason: try r[5].decode(String?.self),
            failing_since: try r[6].decode(Date?.self), previous_secret_expires_at: try r[7].decode(Date?.self),
            created_at: try r[8].decode(Date.self), updated_at: try r[9].decode(Date.self))
    }

    /// A new endpoint starts after the organization's latest event: it receives what happens from
    /// now on, not the history (which `GET /v1/events/` serves).
    package func create(org: String, id: String, url: String, description: String?, types: [String], sealedSecret: [UInt8], now: Date)
        async throws -> WebhookRecord
    {
        try await db.tenant(org) { [logger] conn in
            try await conn.query(
                """
                INSERT INTO webhooks (org_id, id, url, description, event_types, secret, cursor_tx, cursor_seq, created_at, updated_at)
                SELECT \(org), \(id), \(url), \(description), \(types), \(ByteBuffer(bytes: sealedSecret)),
                       coalesce(last.tx, '0'::xid8), coalesce(last.seq, 0), \(now), \(now)
                FROM (SELECT NULL) AS one LEFT JOIN LATERAL (
                  SELECT tx, seq FROM events WHERE org_id = \(org) ORDER BY tx DESC, seq DESC LIMIT 1) last ON true
                RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().first.map(Self.record)!
        }
    }

    package func list(org: String, page: PageRequest) async throws -> Page<WebhookRecord> {
        let rows = try await db.tenant(org) { [logger] conn in
            try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM webhooks WHERE org_id = \(org)
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect().map(Self.record)
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    package func get(org: String, id: String) async throws -> WebhookRecord? {
        try await db.tenant(org) { [logger] conn in
            try await conn.query("SELECT \(unescaped: Self.columns) FROM webhooks WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .collect().first.map(Self.record)
        }
    }

    /// A change of the fields given (nil: unchanged). Enabling clears the failure record; events
    /// that happened while the endpoint was disabled are not sent (its cursor kept moving).
    package func update(
        org: String, id: String, url: String?, description: String??, types: [String]?, disabled: Bool?, now: Date
    ) async throws -> WebhookRecord? {
        let setDescription = description != nil
        let descriptionValue = description ?? nil
        return try await db.tenant(org) { [logger] conn in
            try await conn.query(
                """
                UPDATE webhooks SET url = coalesce(\(url)::text, url), event_types = coalesce(\(types)::text[], event_types),
                  description = CASE WHEN \(setDescription)::boolean THEN \(descriptionValue)::text ELSE description END,
                  disabled = coalesce(\(disabled)::boolean, disabled),
                  disabled_reason = CASE WHEN \(disabled)::boolean IS NULL THEN disabled_reason WHEN \(disabled)::boolean THEN 'disabled by the API' END,
                  failing_since = CASE WHEN \(disabled)::boolean = false THEN NULL ELSE failing_since END,
                  updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().first.map(Self.record)
        }
    }

    /// Deleting an endpoint deletes its deliveries and their attempts.
    package func delete(org: String, id: String) async throws -> WebhookRecord? {
        try await db.tenant(org) { [logger] conn in
            try await conn.query("DELETE FROM webhooks WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger)
                .collect().first.map(Self.record)
        }
    }

    /// The new secret signs from now on; the current one is retired and keeps signing alongside
    /// until `until`, as do the secrets earlier rotations retired until their own time: a receiver
    /// still configured with any of them keeps verifying. At most `keep` retired secrets are kept
    /// (the newest), which bounds the signature header.
    package func rotate(org: String, id: String, sealedSecret: [UInt8], until: Date, keep: Int, now: Date) async throws -> WebhookRecord? {
        try await db.tenant(org) { [logger] conn in
            // The row is locked before its secret is read: of two rotations at once, the second
            // retires the secret the first made, which is never lost.
            guard
                try await !conn.query(
                    """
                    WITH held AS (SELECT org_id, id, secret FROM webhooks WHERE org_id = \(org) AND id = \(id) FOR UPDATE)
                    INSERT INTO webhook_retired_secrets (org_id, webhook_id, secret, signs_until)
                    SELECT org_id, id, secret, \(until) FROM held RETURNING 1
                    """, logger: logger
                ).collect().isEmpty
            else { return nil }
            try await conn.query(
                """
                DELETE FROM webhook_retired_secrets WHERE org_id = \(org) AND webhook_id = \(id)
                  AND (signs_until <= \(now) OR seq NOT IN (
                    SELECT seq FROM webhook_retired_secrets WHERE org_id = \(org) AND webhook_id = \(id) ORDER BY seq DESC LIMIT \(keep)))
                """, logger: logger)
            return try await conn.query(
                """
                UPDATE webhooks SET secret = \(ByteBuffer(bytes: sealedSecret)), updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().first.map(Self.record)
        }
    }

    /// A test delivery (type `webhook.test`), due now. It is outside the feed's order: it neither
    /// waits for nor holds up the endpoint's events.
    package func queueTest(org: String, webhookID: String, now: Date) async throws -> WebhookDeliveryRecord? {
        try await db.tenant(org) { [logger] conn in
            guard
                let id = try await conn.query(
                    """
                    INSERT INTO webhook_deliveries (org_id, id, webhook_id, event_id, event_type, ordered, state, next_attempt_at, created_at)
                    SELECT org_id, \(ID.make(.whd)), id, \(ID.make(.evt)), 'webhook.test', false, \(WebhookDeliveryState.pending.rawValue), \(now), \(now)
                    FROM webhooks WHERE org_id = \(org) AND id = \(webhookID) RETURNING id
                    """, logger: logger
                ).decode(String.self).collect().first
            else { return nil }
            return try await Self.deliveries(org: org, webhookID: webhookID, only: id, page: PageRequest(limit: 1, before: nil), conn, logger).first
        }
    }

    package func deliveries(org: String, webhookID: String, page: PageRequest) async throws -> Page<WebhookDeliveryRecord>? {
        let rows: [WebhookDeliveryRecord]? = try await db.tenant(org) { [logger] conn in
            guard
                try await !conn.query("SELECT 1 FROM webhooks WHERE org_id = \(org) AND id = \(webhookID)", logger: logger).collect().isEmpty
            else { return nil }
            return try await Self.deliveries(org: org, webhookID: webhookID, only: nil, page: page, conn, logger)
        }
        return rows.map { page.page($0) { ($0.created_at, $0.id) } }
    }

    /// Due now again, whatever its state (a failed one is retried from a fresh 5-day window), and
    /// sent on its own: an old event retried by hand does not hold up the endpoint's queue. One in
    /// flight keeps its sender (the endpoint's lease), so it is never sent twice at once.
    package func retry(org: String, webhookID: String, deliveryID: String, now: Date) async throws -> WebhookDeliveryRecord? {
        try await db.tenant(org) { [logger] conn in
            guard
                try await !conn.query(
                    """
                    UPDATE webhook_deliveries SET state = \(WebhookDeliveryState.pending.rawValue), ordered = false, next_attempt_at = \(now),
                      first_attempt_at = NULL
                    WHERE org_id = \(org) AND webhook_id = \(webhookID) AND id = \(deliveryID) RETURNING 1
                    """, logger: logger
                ).collect().isEmpty
            else { return nil }
            return try await Self.deliveries(org: org, webhookID: webhookID, only: deliveryID, page: PageRequest(limit: 1, before: nil), conn, logger)
                .first
        }
    }

    /// Deliveries newest first (`limit + 1` of them), each with its 10 latest attempts.
    static func deliveries(org: String, webhookID: String, only: String?, page: PageRequest, _ conn: PostgresConnection, _ logger: Logger)
        async throws -> [WebhookDeliveryRecord]
    {
        var out: [WebhookDeliveryRecord] = []
        for try await row in try await conn.query(
            """
            SELECT d.id, d.event_id, d.event_type, d.state, d.attempts, d.next_attempt_at, d.created_at,
              coalesce((SELECT json_agg(json_build_object('at', a.attempted_at, 'status', a.status_code, 'latency', a.latency_ms,
                                'body', a.response_body, 'error', a.error, 'next', a.next_retry_at) ORDER BY a.seq DESC)::text
                        FROM (SELECT * FROM webhook_attempts a WHERE a.org_id = d.org_id AND a.delivery_id = d.id ORDER BY seq DESC LIMIT 10) a), '[]')
            FROM webhook_deliveries d
            WHERE d.org_id = \(org) AND d.webhook_id = \(webhookID) AND (\(only)::text IS NULL OR d.id = \(only))
              AND (d.created_at, d.id) < (\(page.beforeAt), \(page.beforeID))
            ORDER BY d.created_at DESC, d.id DESC LIMIT \(page.limit + 1)
            """, logger: logger)
        {
            let (id, eventID, type, state, attempts, next, created, log) = try row.decode(
                (String, String, String, String, Int, Date?, Date, String).self)
            out.append(
                WebhookDeliveryRecord(
                    id: id, webhook_id: webhookID, event_id: eventID, event_type: type, state: try .stored(state, column: "webhook_deliveries.state"),
                    attempt_count: attempts,
                    next_attempt_at: next, created_at: created, attempts: try Self.attempts(log)))
        }
        return out
    }

    private struct StoredAttempt: Decodable {
        let at: String
        let status: Int?
        let latency: Int
        let body: String?
        let error: String?
        let next: String?
    }

    /// `json_build_object` writes timestamps as PostgreSQL's ISO 8601 (`2026-12-05T04:12:23.123+00:00`).
    private static func attempts(_ json: String) throws -> [WebhookAttemptRecord] {
        let stored = try JSONDecoder().decode([StoredAttempt].self, from: Data(json.utf8))
        return try stored.map { a in
            WebhookAttemptRecord(
                attempted_at: try Self.date(a.at), status_code: a.status, latency_ms: a.latency, response_body: a.body, error: a.error,
                next_retry_at: try a.next.map(Self.date))
        }
    }

    private static func date(_ s: String) throws -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        guard let d = f.date(from: s) else { throw UnknownStoredValue(column: "webhook_attempts.attempted_at", value: s) }
        return d
    }
}
