import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

/// A delivery claimed for one attempt, with what the sender needs.
package struct ClaimedWebhookDelivery: Sendable {
    package let org, id, webhookID, url: String
    package let eventID, eventType: String
    /// The event's `data` as JSON text, and its time; a test event's are made here.
    package let eventData: String
    package let eventCreatedAt: Date
    package let sealedSecret: [UInt8]
    package let sealedPreviousSecret: [UInt8]?
    /// The attempt this is (1 for the first).
    package let attempt: Int
    package let firstAttemptAt: Date
}

/// What one attempt came to, as the sender decided it.
package enum WebhookVerdict: Sendable {
    case delivered
    /// Tried again then; `giveUp` instead once the delivery has been failing for too long.
    case retry(at: Date)
    /// No more attempts for this delivery (a non-retryable answer, or retried for too long).
    case failed
    /// 410 Gone: the endpoint is disabled.
    case gone
}

package struct WebhookAttempt: Sendable {
    package let statusCode: Int?
    package let latencyMs: Int
    package let responseBody: String?
    package let error: String?
    package init(statusCode: Int?, latencyMs: Int, responseBody: String?, error: String?) {
        self.statusCode = statusCode
        self.latencyMs = latencyMs
        self.responseBody = responseBody
        self.error = error
    }
}

extension WebhookStore {
    /// Turns committed events into deliveries, at most `limit` events per endpoint per call, in
    /// feed order: the same visibility horizon as `Events.page` (an event is taken only once no
    /// older transaction of this database is still running, so one that commits late is never
    /// skipped, and one that rolls back is never sent). Every endpoint's cursor moves past what it
    /// read; a disabled endpoint gets no deliveries, nor do events of types it did not ask for.
    /// Returns the number of deliveries made.
    package func enqueue(limit: Int, now: Date) async throws -> Int {
        try await db.system { [logger] conn in
            try await conn.query(
                """
                WITH horizon AS (
                  SELECT max(age(backend_xid)) AS oldest FROM pg_stat_activity
                  WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()),
                fresh AS (
                  SELECT w.org_id, w.id AS webhook_id, w.disabled, w.event_types, e.id AS event_id, e.type, e.tx, e.seq
                  FROM webhooks w CROSS JOIN horizon
                  CROSS JOIN LATERAL (
                    SELECT e.id, e.type, e.tx, e.seq FROM events e
                    WHERE e.org_id = w.org_id AND (e.tx, e.seq) > (w.cursor_tx, w.cursor_seq)
                      AND (horizon.oldest IS NULL OR age(e.tx::xid) > horizon.oldest)
                    ORDER BY e.tx, e.seq LIMIT \(limit)) e),
                made AS (
                  INSERT INTO webhook_deliveries (org_id, id, webhook_id, event_id, event_type, event_tx, event_seq, state, next_attempt_at, created_at)
                  SELECT org_id, 'whd_' || replace(gen_random_uuid()::text, '-', ''), webhook_id, event_id, type,
                         tx::text::bigint, seq, 'pending', \(now), \(now)
                  FROM fresh WHERE NOT disabled AND type = ANY(event_types)
                  ON CONFLICT DO NOTHING RETURNING 1),
                moved AS (
                  UPDATE webhooks w SET cursor_tx = last.tx, cursor_seq = last.seq
                  FROM (SELECT DISTINCT ON (org_id, webhook_id) org_id, webhook_id, tx, seq FROM fresh
                        ORDER BY org_id, webhook_id, tx DESC, seq DESC) last
                  WHERE w.org_id = last.org_id AND w.id = last.webhook_id RETURNING 1)
                SELECT (SELECT count(*) FROM made)::int + 0 * (SELECT count(*) FROM moved)::int
                """, logger: logger
            ).decode(Int.self).collect().first ?? 0
        }
    }

    /// Claims due deliveries for one attempt each, leased until `leaseUntil`:
    /// - at most one delivery in flight per endpoint (a slow endpoint holds one sender, no more);
    /// - an endpoint's events in feed order: a delivery waits while an earlier one of the same
    ///   endpoint is pending, unless that one has been failing for longer than `orderBound`
    ///   (it then keeps retrying on its own, and the queue moves on);
    /// - fair across organizations: each organization's heads are ranked, and the claim takes
    ///   every organization's first before any organization's second.
    package func claim(now: Date, leaseUntil: Date, limit: Int, orderBound: TimeInterval) async throws -> [ClaimedWebhookDelivery] {
        let blockingSince = now.addingTimeInterval(-orderBound)
        return try await db.system { [logger] conn in
            var out: [ClaimedWebhookDelivery] = []
            for try await row in try await conn.query(
                """
                WITH heads AS (
                  SELECT DISTINCT ON (d.org_id, d.webhook_id) d.org_id, d.id, d.webhook_id, d.next_attempt_at
                  FROM webhook_deliveries d JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id
                  WHERE d.state = 'pending' AND NOT w.disabled AND d.next_attempt_at <= \(now)
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f WHERE f.org_id = d.org_id AND f.webhook_id = d.webhook_id
                                    AND f.state = 'pending' AND f.leased_until > \(now))
                    AND (d.event_seq IS NULL OR NOT EXISTS (
                      SELECT 1 FROM webhook_deliveries b WHERE b.org_id = d.org_id AND b.webhook_id = d.webhook_id AND b.state = 'pending'
                        AND b.event_seq IS NOT NULL AND (b.event_tx, b.event_seq) < (d.event_tx, d.event_seq)
                        AND (b.first_attempt_at IS NULL OR b.first_attempt_at > \(blockingSince))))
                  ORDER BY d.org_id, d.webhook_id, d.event_tx NULLS FIRST, d.event_seq),
                fair AS (
                  SELECT org_id, id, row_number() OVER (PARTITION BY org_id ORDER BY next_attempt_at, id) AS turn, next_attempt_at FROM heads),
                picked AS (
                  SELECT d.org_id, d.id FROM webhook_deliveries d JOIN fair ON fair.org_id = d.org_id AND fair.id = d.id
                  WHERE d.state = 'pending' AND (d.leased_until IS NULL OR d.leased_until <= \(now))
                  ORDER BY fair.turn, fair.next_attempt_at LIMIT \(limit) FOR UPDATE OF d SKIP LOCKED),
                claimed AS (
                  UPDATE webhook_deliveries d SET leased_until = \(leaseUntil), attempts = d.attempts + 1,
                    first_attempt_at = coalesce(d.first_attempt_at, \(now))
                  FROM picked WHERE d.org_id = picked.org_id AND d.id = picked.id
                  RETURNING d.org_id, d.id, d.webhook_id, d.event_id, d.event_type, d.attempts, d.first_attempt_at, d.created_at)
                SELECT c.org_id, c.id, c.webhook_id, w.url, c.event_id, c.event_type,
                       coalesce(e.data::text, json_build_object('webhook_id', c.webhook_id)::text), coalesce(e.created_at, c.created_at),
                       w.secret, CASE WHEN w.previous_secret_until > \(now) THEN w.previous_secret END, c.attempts, c.first_attempt_at
                FROM claimed c JOIN webhooks w ON w.org_id = c.org_id AND w.id = c.webhook_id
                LEFT JOIN events e ON e.org_id = c.org_id AND e.id = c.event_id
                """, logger: logger)
            {
                let r = row.makeRandomAccess()
                out.append(
                    ClaimedWebhookDelivery(
                        org: try r[0].decode(String.self), id: try r[1].decode(String.self), webhookID: try r[2].decode(String.self),
                        url: try r[3].decode(String.self), eventID: try r[4].decode(String.self), eventType: try r[5].decode(String.self),
                        eventData: try r[6].decode(String.self), eventCreatedAt: try r[7].decode(Date.self),
                        sealedSecret: Array(buffer: try r[8].decode(ByteBuffer.self)),
                        sealedPreviousSecret: try r[9].decode(ByteBuffer?.self).map { Array(buffer: $0) },
                        attempt: try r[10].decode(Int.self), firstAttemptAt: try r[11].decode(Date.self)))
            }
            return out
        }
    }

    /// Keeps the attempt and applies its verdict, in one transaction. A failure starts (or
    /// continues) the endpoint's failing period; one that has lasted `disableAfter` disables the
    /// endpoint, as 410 does at once, with a `webhook.disabled` event. A success ends the period.
    package func record(
        _ d: ClaimedWebhookDelivery, _ attempt: WebhookAttempt, verdict: WebhookVerdict, disableAfter: TimeInterval, now: Date
    ) async throws {
        try await db.system { [logger] conn in
            let next: Date?
            let state: String
            switch verdict {
            case .delivered: (state, next) = ("delivered", nil)
            case .retry(let at): (state, next) = ("pending", at)
            case .failed, .gone: (state, next) = ("failed", nil)
            }
            try await conn.query(
                """
                INSERT INTO webhook_attempts (org_id, delivery_id, attempted_at, status_code, latency_ms, response_body, error, next_retry_at)
                VALUES (\(d.org), \(d.id), \(now), \(attempt.statusCode), \(attempt.latencyMs), \(attempt.responseBody), \(attempt.error), \(next))
                """, logger: logger)
            try await conn.query(
                """
                UPDATE webhook_deliveries SET state = \(state), next_attempt_at = \(next), leased_until = NULL
                WHERE org_id = \(d.org) AND id = \(d.id)
                """, logger: logger)
            var reason: String?
            if case .delivered = verdict {
                try await conn.query("UPDATE webhooks SET failing_since = NULL WHERE org_id = \(d.org) AND id = \(d.webhookID)", logger: logger)
            } else if case .gone = verdict {
                reason = "the endpoint answered 410 Gone"
            } else {
                let since = try await conn.query(
                    """
                    UPDATE webhooks SET failing_since = coalesce(failing_since, \(now)) WHERE org_id = \(d.org) AND id = \(d.webhookID)
                    RETURNING failing_since
                    """, logger: logger
                ).decode(Date.self).collect().first
                if let since, now.timeIntervalSince(since) >= disableAfter {
                    reason = "every delivery failed for \(Int(disableAfter / 86_400)) days"
                }
            }
            guard let reason else { return }
            let disabled = try await conn.query(
                """
                UPDATE webhooks SET disabled = true, disabled_reason = \(reason), updated_at = \(now)
                WHERE org_id = \(d.org) AND id = \(d.webhookID) AND NOT disabled RETURNING url
                """, logger: logger
            ).decode(String.self).collect().first
            if let url = disabled {
                try await Events.append(
                    [
                        PendingEvent(
                            org: d.org, type: .webhookDisabled,
                            ["webhook_id": .string(d.webhookID), "url": .string(url), "reason": .string(reason)])
                    ], at: now, on: conn, logger: logger)
            }
        }
    }

    /// Deliveries due now that could be claimed, for `drainWork`.
    package func countDue(now: Date) async throws -> Int {
        try await db.system { [logger] conn in
            try await conn.query(
                """
                SELECT count(*)::int FROM webhook_deliveries d JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id
                WHERE d.state = 'pending' AND NOT w.disabled AND d.next_attempt_at <= \(now)
                """, logger: logger
            ).decode(Int.self).collect().first ?? 0
        }
    }
}
