import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Per-sequence statistics (migration 0022). The all-time answer sums the sequence's counters
/// (indexed by (org, sequence): a few dozen rows whatever the sequence's size) and the changes
/// housekeeping has not yet moved into them: enrollments' and deliveries' images, expanded here,
/// read whole (they have no index, so appending stays cheap) as they are a few seconds' worth; a
/// delivery's sequence is its enrollment's, looked up by primary key. A window (`since`)
/// aggregates the organization's enrollments created since then (their (org, created_at) index),
/// keeping the sequence's, with the same SQL functions the triggers count with, so both answers
/// count alike.
public struct SequenceStatsStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    /// Counts by metric and bucket (`sequence_stats`), and the median of whole minutes to first reply.
    package struct Counts: Sendable {
        package var values: [String: [Int: Int]] = [:]
        package var medianMinutes: Int?
        package func get(_ metric: String, _ bucket: Int = -1) -> Int { values[metric]?[bucket] ?? 0 }
    }

    /// The counters of the changes not yet moved: each image row of an enrollment or a delivery
    /// expanded, signed by its `n`.
    private static let changes = """
        SELECT d.org_id, d.sequence_id, c.metric, c.bucket, d.n * c.n AS n FROM sequence_enrollment_changes d
          CROSS JOIN LATERAL enrollment_image_rows(d.state, d.exit_reason, d.replied_step, d.reply_minutes) c
        """
    private static func deliveryChanges(from table: String) -> String {
        """
        SELECT d.org_id, coalesce(d.sequence_id, e.sequence_id) AS sequence_id, c.metric, c.bucket, d.n * c.n AS n FROM \(table) d
          LEFT JOIN enrollments e ON d.sequence_id IS NULL AND e.org_id = d.org_id AND e.id = d.enrollment_id
          CROSS JOIN LATERAL delivery_image_rows(d.status, d.step_index) c
        """
    }

    package static let allTime = """
        SELECT metric, bucket, sum(n)::bigint FROM (
          SELECT metric, bucket, n FROM sequence_stats WHERE org_id = $1::text AND sequence_id = $2::text AND metric <> 'reply_minutes'
          UNION ALL
          SELECT metric, bucket, n FROM (\(changes) WHERE d.org_id = $1::text AND d.sequence_id = $2::text) e WHERE metric <> 'reply_minutes'
          UNION ALL
          SELECT metric, bucket, n FROM (\(deliveryChanges(from: "sequence_delivery_changes")) WHERE d.org_id = $1::text) e WHERE sequence_id = $2::text
        ) x GROUP BY metric, bucket
        """

    /// The smallest value with at least half of the replies at or below it (percentile_disc(0.5)).
    package static let allTimeMedian = """
        WITH h AS (
          SELECT bucket, sum(n) AS n FROM (
            SELECT bucket, n FROM sequence_stats WHERE org_id = $1::text AND sequence_id = $2::text AND metric = 'reply_minutes'
            UNION ALL
            SELECT bucket, n FROM (\(changes) WHERE d.org_id = $1::text AND d.sequence_id = $2::text) e WHERE metric = 'reply_minutes'
          ) x GROUP BY bucket HAVING sum(n) <> 0
        ), c AS (SELECT bucket, sum(n) OVER (ORDER BY bucket) AS cum, sum(n) OVER () AS total FROM h)
        SELECT min(bucket) FROM c WHERE cum * 2 >= total
        """

    package static let window = """
        SELECT c.metric, c.bucket, sum(c.n)::bigint FROM enrollments e CROSS JOIN LATERAL enrollment_stat_rows(e) c
        WHERE e.org_id = $1::text AND e.sequence_id = $2::text AND e.created_at >= $3::timestamptz AND c.metric <> 'reply_minutes'
        GROUP BY 1, 2
        UNION ALL
        SELECT c.metric, c.bucket, sum(c.n)::bigint FROM enrollments e
          JOIN deliveries d ON d.org_id = e.org_id AND d.enrollment_id = e.id CROSS JOIN LATERAL delivery_stat_rows(d) c
        WHERE e.org_id = $1::text AND e.sequence_id = $2::text AND e.created_at >= $3::timestamptz
        GROUP BY 1, 2
        """

    package static let windowMedian = """
        SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY c.bucket) FROM enrollments e CROSS JOIN LATERAL enrollment_stat_rows(e) c
        WHERE e.org_id = $1::text AND e.sequence_id = $2::text AND e.created_at >= $3::timestamptz AND e.replied_at IS NOT NULL AND c.metric = 'reply_minutes'
        """

    package static func counts(org: String, sequenceID: String, since: Date?, _ conn: PostgresConnection, logger: Logger) async throws -> Counts {
        var binds = PostgresBindings()
        binds.append(org)
        binds.append(sequenceID)
        if let since { binds.append(since) }
        var c = Counts()
        let rows = try await conn.query(PostgresQuery(unsafeSQL: since == nil ? allTime : window, binds: binds), logger: logger)
        for try await (metric, bucket, n) in rows.decode((String, Int, Int).self) { c.values[metric, default: [:]][bucket, default: 0] += n }
        let median = try await conn.query(PostgresQuery(unsafeSQL: since == nil ? allTimeMedian : windowMedian, binds: binds), logger: logger)
        for try await m in median.decode(Int?.self) { c.medianMinutes = m }
        return c
    }

    package func counts(org: String, sequenceID: String, since: Date?) async throws -> Counts {
        try await db.tenant(org) { [logger] conn in try await Self.counts(org: org, sequenceID: sequenceID, since: since, conn, logger: logger) }
    }

    /// Moves enrollments' and deliveries' changes into the counters, `batch` of each at a time (in
    /// any order: they are sums); returns how many it moved, and whether a batch was full (more
    /// may wait). The change tables
    /// have no index, so rows are picked by their physical address; alike images are summed before
    /// they are expanded. One statement: a reader sees each in one table or the other, never
    /// both. Concurrent movers skip each other's rows, and upsert in key order, so they do not
    /// deadlock.
    @discardableResult
    package func compact(batch: Int = 10_000) async throws -> (moved: Int, full: Bool) {
        try await db.system { [logger] conn in
            try await conn.query(
                """
                WITH enrollments_moved AS (
                  DELETE FROM sequence_enrollment_changes
                  WHERE ctid = ANY(ARRAY(SELECT ctid FROM sequence_enrollment_changes LIMIT \(batch) FOR UPDATE SKIP LOCKED))
                  RETURNING org_id, sequence_id, n, state, exit_reason, replied_step, reply_minutes
                ), deliveries_moved AS (
                  DELETE FROM sequence_delivery_changes
                  WHERE ctid = ANY(ARRAY(SELECT ctid FROM sequence_delivery_changes LIMIT \(batch) FOR UPDATE SKIP LOCKED))
                  RETURNING org_id, enrollment_id, sequence_id, n, status, step_index
                ), enrollment_images AS (
                  SELECT org_id, sequence_id, state, exit_reason, replied_step, reply_minutes, sum(n) AS n FROM enrollments_moved
                  GROUP BY 1, 2, 3, 4, 5, 6
                ), counted AS (
                  SELECT d.org_id, d.sequence_id, c.metric, c.bucket, d.n * c.n AS n FROM enrollment_images d
                    CROSS JOIN LATERAL enrollment_image_rows(d.state, d.exit_reason, d.replied_step, d.reply_minutes) c
                  UNION ALL
                  SELECT * FROM (\(unescaped: Self.deliveryChanges(from: "deliveries_moved"))) m WHERE m.sequence_id IS NOT NULL
                ), summed AS (
                  INSERT INTO sequence_stats AS s (org_id, sequence_id, metric, bucket, n)
                  SELECT org_id, sequence_id, metric, bucket, sum(n) FROM counted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                  ON CONFLICT (org_id, sequence_id, metric, bucket) DO UPDATE SET n = s.n + EXCLUDED.n
                  RETURNING 1
                )
                SELECT (SELECT count(*) FROM enrollments_moved)::int, (SELECT count(*) FROM deliveries_moved)::int
                """, logger: logger
            ).decode((Int, Int).self).collect().first.map { ($0.0 + $0.1, $0.0 == batch || $0.1 == batch) } ?? (0, false)
        }
    }

    /// Removes what moving left behind: the change tables' dead rows (a reader scans them whole,
    /// so a burst of a million changes would be read until autovacuum came by) and the counters'
    /// old versions. Housekeeping calls it after moving many changes.
    package func vacuum() async throws {
        try await db.autocommit("VACUUM sequence_enrollment_changes, sequence_delivery_changes, sequence_stats")
    }

    package init(db: Database) {
        self.db = db
    }
}
