import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

/// An endpoint leased to one sender, with the run of its queue to send now, in order.
package struct WebhookRun: Sendable {
    package let org, webhookID, url: String
    /// The sender's hold on the endpoint: recording a result needs it, so a sender whose lease ran
    /// out (it hung, and another took over) records nothing.
    package let lease: String
    package let sealedSecret: [UInt8]
    /// The secrets rotations retired that still sign, newest first.
    package let sealedRetiredSecrets: [[UInt8]]
    package let deliveries: [ClaimedWebhookDelivery]
}

/// One delivery of a run.
package struct ClaimedWebhookDelivery: Sendable {
    package let id, eventID, eventType: String
    /// The event's `data` as JSON text, and its time; a test event's are made here.
    package let eventData: String
    package let eventCreatedAt: Date
    /// The attempt this is (1 for the first), and when the first one was made (now, for the first).
    package let attempt: Int
    package let firstAttemptAt: Date
}

/// What one attempt came to, as the sender decided it.
package enum WebhookVerdict: Sendable, Equatable {
    case delivered
    /// Tried again then.
    case retry(at: Date)
    /// No more attempts for this delivery (a non-retryable answer, or retried for too long).
    case failed
    /// 410 Gone: the endpoint is disabled.
    case gone

    package var state: WebhookDeliveryState {
        switch self {
        case .delivered: .delivered
        case .retry: .pending
        case .failed, .gone: .failed
        }
    }
}

/// One HTTP attempt and its verdict.
package struct WebhookAttempt: Sendable {
    package let deliveryID: String
    package let statusCode: Int?
    package let latencyMs: Int
    package let responseBody: String?
    package let error: String?
    package let verdict: WebhookVerdict
    package let at: Date
    package init(
        deliveryID: String, statusCode: Int?, latencyMs: Int, responseBody: String?, error: String?, verdict: WebhookVerdict, at: Date
    ) {
        self.deliveryID = deliveryID
        self.statusCode = statusCode
        self.latencyMs = latencyMs
        self.responseBody = responseBody
        self.error = error
        self.verdict = verdict
        self.at = at
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
                WITH horizon AS (\(unescaped: FeedHorizon.oldest)),
                fresh AS (
                  SELECT w.org_id, w.id AS webhook_id, w.disabled, w.event_types, e.id AS event_id, e.type, e.tx, e.seq
                  FROM webhooks w CROSS JOIN horizon
                  CROSS JOIN LATERAL (
                    SELECT e.id, e.type, e.tx, e.seq FROM events e
                    WHERE e.org_id = w.org_id AND (e.tx, e.seq) > (w.cursor_tx, w.cursor_seq)
                      AND (horizon.oldest IS NULL OR age(e.tx::xid) > horizon.oldest)
                    ORDER BY e.tx, e.seq LIMIT \(limit)) e),
                made AS (
                  INSERT INTO webhook_deliveries (org_id, id, webhook_id, event_id, event_type, event_tx, event_seq, ordered, state,
                                                  next_attempt_at, created_at)
                  SELECT org_id, 'whd_' || replace(gen_random_uuid()::text, '-', ''), webhook_id, event_id, type,
                         tx::text::bigint, seq, true, \(WebhookDeliveryState.pending.rawValue), \(now), \(now)
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

    /// Leases up to `endpoints` endpoints that have something due and no sender, and returns each
    /// one's run:
    /// - an endpoint is held by one sender at a time, so its events go out one after another, and
    ///   a slow endpoint holds one sender, no more;
    /// - the run is its queue's head and the deliveries after it, in feed order, up to `runLength`
    ///   (a retried head is due only at its retry time, and what is behind it waits);
    /// - what is sent on its own (a test event, a manual retry, a delivery that failed for longer
    ///   than the order bound) goes first, alone;
    /// - fair across organizations: each organization's due endpoints are ranked, and the claim
    ///   takes every organization's first before any organization's second, and an organization
    ///   holds at most `perOrg` endpoints at once (its hanging endpoints never take every slot).
    ///
    /// Leases are the wall clock's (`lease` seconds from now): they measure whether a sender is
    /// alive, not the domain's time, which a test's manual clock moves.
    package func claim(now: Date, lease: TimeInterval, endpoints: Int, perOrg: Int, runLength: Int) async throws -> [WebhookRun] {
        let pending = WebhookDeliveryState.pending.rawValue
        let wallNow = Date()
        let leaseUntil = wallNow.addingTimeInterval(lease)
        return try await db.system { [logger] conn in
            let leased = try await conn.query(
                """
                WITH heads AS (
                  SELECT w.org_id, w.id, least(o.at, l.at) AS due_at, l.at IS NOT NULL AS alone
                  FROM webhooks w
                  LEFT JOIN LATERAL (
                    SELECT d.next_attempt_at AS at FROM webhook_deliveries d
                    WHERE d.org_id = w.org_id AND d.webhook_id = w.id AND d.state = \(pending) AND d.ordered
                    ORDER BY d.event_tx, d.event_seq LIMIT 1) o ON o.at <= \(now)
                  LEFT JOIN LATERAL (
                    SELECT d.next_attempt_at AS at FROM webhook_deliveries d
                    WHERE d.org_id = w.org_id AND d.webhook_id = w.id AND d.state = \(pending) AND NOT d.ordered
                    ORDER BY d.next_attempt_at LIMIT 1) l ON l.at <= \(now)
                  WHERE NOT w.disabled AND (w.lease_until IS NULL OR w.lease_until <= \(wallNow)) AND (o.at IS NOT NULL OR l.at IS NOT NULL)),
                busy AS (
                  SELECT org_id, count(*) AS n FROM webhooks WHERE lease_until > \(wallNow) AND org_id IN (SELECT org_id FROM heads) GROUP BY org_id),
                picked AS (
                  SELECT w.org_id, w.id, h.alone FROM webhooks w
                  JOIN (SELECT *, row_number() OVER (PARTITION BY org_id ORDER BY due_at, id) AS turn FROM heads) h
                    ON h.org_id = w.org_id AND h.id = w.id
                  LEFT JOIN busy ON busy.org_id = w.org_id
                  WHERE NOT w.disabled AND (w.lease_until IS NULL OR w.lease_until <= \(wallNow)) AND h.turn + coalesce(busy.n, 0) <= \(perOrg)
                  ORDER BY h.turn, h.due_at LIMIT \(endpoints) FOR UPDATE OF w SKIP LOCKED),
                leased AS (
                  UPDATE webhooks w SET lease = gen_random_uuid()::text, lease_until = \(leaseUntil)
                  FROM picked WHERE w.org_id = picked.org_id AND w.id = picked.id
                  RETURNING w.org_id, w.id, picked.alone)
                SELECT org_id, id, alone FROM leased
                """, logger: logger
            ).decode((String, String, Bool).self).collect()
            guard !leased.isEmpty else { return [] }
            // A statement of its own, so a snapshot taken after the lease: a run that ended just
            // before (its lease was free when this claim took it) has its outcomes seen, and what
            // it delivered is not sent again.
            let rows = try await conn.query(
                """
                SELECT l.org_id, l.id, w.url, w.lease, w.secret,
                  ARRAY(SELECT r.secret FROM webhook_retired_secrets r
                        WHERE r.org_id = w.org_id AND r.webhook_id = w.id AND r.signs_until > \(now) ORDER BY r.seq DESC),
                  d.id, d.event_id, d.event_type,
                  coalesce(e.data::text, json_build_object('webhook_id', l.id)::text), coalesce(e.created_at, d.created_at),
                  d.attempts + 1, coalesce(d.first_attempt_at, \(now)), d.next_attempt_at <= \(now)
                FROM unnest(\(leased.map(\.0))::text[], \(leased.map(\.1))::text[], \(leased.map(\.2))::boolean[]) AS l(org_id, id, alone)
                JOIN webhooks w ON w.org_id = l.org_id AND w.id = l.id
                LEFT JOIN LATERAL (
                  (SELECT d.* FROM webhook_deliveries d
                   WHERE l.alone AND d.org_id = l.org_id AND d.webhook_id = l.id AND d.state = \(pending) AND NOT d.ordered
                     AND d.next_attempt_at <= \(now)
                   ORDER BY d.next_attempt_at LIMIT 1)
                  UNION ALL
                  (SELECT d.* FROM webhook_deliveries d
                   WHERE NOT l.alone AND d.org_id = l.org_id AND d.webhook_id = l.id AND d.state = \(pending) AND d.ordered
                   ORDER BY d.event_tx, d.event_seq LIMIT \(runLength))) d ON true
                LEFT JOIN events e ON e.org_id = d.org_id AND e.id = d.event_id
                ORDER BY l.org_id, l.id, d.ordered, d.event_tx, d.event_seq, d.next_attempt_at
                """, logger: logger)
            return try await Self.runs(rows)
        }
    }

    /// Groups the claim's rows into runs, each cut at its first delivery not yet due. A run may be
    /// empty (another sender finished the work meanwhile): sending it releases its lease.
    private static func runs(_ rows: PostgresRowSequence) async throws -> [WebhookRun] {
        var out: [WebhookRun] = []
        var current: (head: WebhookRun, items: [ClaimedWebhookDelivery], cut: Bool)?
        func flush() {
            guard let c = current else { return }
            let h = c.head
            out.append(
                WebhookRun(
                    org: h.org, webhookID: h.webhookID, url: h.url, lease: h.lease, sealedSecret: h.sealedSecret,
                    sealedRetiredSecrets: h.sealedRetiredSecrets, deliveries: c.items))
        }
        for try await row in rows {
            let r = row.makeRandomAccess()
            let org = try r[0].decode(String.self)
            let webhookID = try r[1].decode(String.self)
            if current?.head.org != org || current?.head.webhookID != webhookID {
                flush()
                current = (
                    WebhookRun(
                        org: org, webhookID: webhookID, url: try r[2].decode(String.self), lease: try r[3].decode(String.self),
                        sealedSecret: Array(buffer: try r[4].decode(ByteBuffer.self)),
                        sealedRetiredSecrets: try r[5].decode([ByteBuffer].self).map { Array(buffer: $0) }, deliveries: []),
                    [], false
                )
            }
            guard current?.cut == false, let due = try r[13].decode(Bool?.self) else { continue }
            guard due else {
                current?.cut = true
                continue
            }
            current?.items.append(
                ClaimedWebhookDelivery(
                    id: try r[6].decode(String.self), eventID: try r[7].decode(String.self), eventType: try r[8].decode(String.self),
                    eventData: try r[9].decode(String.self), eventCreatedAt: try r[10].decode(Date.self), attempt: try r[11].decode(Int.self),
                    firstAttemptAt: try r[12].decode(Date.self)))
        }
        flush()
        return out
    }

    /// The attempts of a run so far, kept with their verdicts in one transaction, if the sender
    /// still holds the endpoint's lease (returns false otherwise: the sender stops). `final` ends
    /// the lease; otherwise it is extended by `lease` seconds of the wall clock. A failure starts (or continues) the
    /// endpoint's failing period; one that has lasted `disableAfter` disables the endpoint, as 410
    /// does at once, with a `webhook.disabled` event. A success ends the period. A delivery retried
    /// past `orderBound` since its first attempt stops holding up the queue (it is sent on its own).
    package func record(
        _ run: WebhookRun, _ attempts: [WebhookAttempt], final: Bool, lease: TimeInterval, orderBound: TimeInterval,
        disableAfter: TimeInterval, now: Date
    ) async throws -> Bool {
        struct Row: Encodable {
            let id: String
            let state: String
            let next: Date?
            let code: Int?
            let latency: Int
            let body: String?
            let error: String?
            let at: Date
        }
        let rows = attempts.map { a in
            var next: Date?
            if case .retry(let at) = a.verdict { next = at }
            return Row(
                id: a.deliveryID, state: a.verdict.state.rawValue, next: next, code: a.statusCode, latency: a.latencyMs, body: a.responseBody,
                error: a.error, at: a.at)
        }
        let json = String(decoding: try JSONCoding.encoder.encode(rows), as: UTF8.self)
        let failing: Bool? = attempts.last.map { $0.verdict != .delivered }
        let gone = attempts.contains { $0.verdict == .gone }
        let blockingSince = now.addingTimeInterval(-orderBound)
        let pending = WebhookDeliveryState.pending.rawValue
        let leaseUntil = Date().addingTimeInterval(lease)
        return try await db.system { [logger] conn in
            let held = try await conn.query(
                """
                UPDATE webhooks SET
                  failing_since = CASE WHEN \(failing)::boolean IS NULL THEN failing_since
                                       WHEN \(failing) THEN coalesce(failing_since, \(now)) END,
                  lease = CASE WHEN \(final) THEN NULL ELSE lease END,
                  lease_until = CASE WHEN \(final) THEN NULL ELSE \(leaseUntil)::timestamptz END
                WHERE org_id = \(run.org) AND id = \(run.webhookID) AND lease = \(run.lease)
                RETURNING failing_since, url
                """, logger: logger
            ).decode((Date?, String).self).collect().first
            guard let (failingSince, url) = held else { return false }
            guard !rows.isEmpty else { return true }
            try await conn.query(
                """
                WITH u AS (
                  SELECT * FROM json_to_recordset(\(json)::json)
                    AS u(id text, state text, next timestamptz, code int, latency int, body text, error text, at timestamptz)),
                done AS (
                  UPDATE webhook_deliveries d SET state = u.state, next_attempt_at = u.next, attempts = d.attempts + 1,
                    first_attempt_at = coalesce(d.first_attempt_at, u.at),
                    ordered = d.ordered AND NOT (u.state = \(pending) AND coalesce(d.first_attempt_at, u.at) <= \(blockingSince))
                  FROM u WHERE d.org_id = \(run.org) AND d.webhook_id = \(run.webhookID) AND d.id = u.id RETURNING d.id)
                INSERT INTO webhook_attempts (org_id, delivery_id, attempted_at, status_code, latency_ms, response_body, error, next_retry_at)
                SELECT \(run.org), u.id, u.at, u.code, u.latency, u.body, u.error, u.next FROM u JOIN done ON done.id = u.id
                """, logger: logger)
            let reason: String? =
                if gone {
                    "the endpoint answered 410 Gone"
                } else if let failingSince, now.timeIntervalSince(failingSince) >= disableAfter {
                    "every delivery failed for \(Int(disableAfter / 86_400)) days"
                } else {
                    nil
                }
            guard let reason else { return true }
            let disabled = try await conn.query(
                """
                UPDATE webhooks SET disabled = true, disabled_reason = \(reason), updated_at = \(now), lease = NULL, lease_until = NULL
                WHERE org_id = \(run.org) AND id = \(run.webhookID) AND NOT disabled RETURNING 1
                """, logger: logger
            ).collect()
            if !disabled.isEmpty {
                try await Events.append(
                    [
                        PendingEvent(
                            org: run.org, type: .webhookDisabled,
                            ["webhook_id": .string(run.webhookID), "url": .string(url), "reason": .string(reason)])
                    ], at: now, on: conn, logger: logger)
            }
            return false
        }
    }
}

extension WebhookStore {
    /// Retention: up to `limit` of the organization's deliveries (and their attempts) made before
    /// `before`, the events' cutoff; a pending one goes too, since its event is gone. Returns how many.
    package static func purge(org: String, before: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws -> Int {
        try await conn.query(
            """
            DELETE FROM webhook_deliveries d USING (
              SELECT org_id, id FROM webhook_deliveries WHERE org_id = \(org) AND created_at < \(before) LIMIT \(limit)) old
            WHERE d.org_id = old.org_id AND d.id = old.id RETURNING 1
            """, logger: logger
        ).collect().count
    }
}
