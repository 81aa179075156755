import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import PostgresNIO
import Testing

/// Where an enrollment's steps live (migration 0014): a template enrollment reads them from the
/// sequence version it names; ad-hoc enrollments, and older rows whose copy matched no version,
/// keep their own.
@Suite struct StepStorageTests {
    static let day: Double = 86_400
    static let v1 = #"[{"type": "email", "delay_days": 2, "subject": "One", "body": "First"}]"#
    /// The same steps as `v1`, spelled otherwise (key order, 2.0): still equal as jsonb.
    static let v1Respelled = #"[{"body": "First", "subject": "One", "delay_days": 2.0, "type": "email"}]"#
    static let v2 =
        #"[{"type": "email", "delay_days": 1, "subject": "Two", "body": "Second"}, {"type": "email", "delay_days": 1, "subject": "Three", "body": "Third"}]"#
    static let edited = #"[{"type": "email", "delay_days": 3, "subject": "Edited by hand", "body": "Other"}]"#
    static let adhoc = #"[{"type": "email", "delay_days": 0, "subject": "Ad hoc", "body": "Hello"}]"#

    /// On a database with enrollments: those whose copy is their version's steps drop it, every
    /// other keeps it, and no enrollment's steps change.
    @Test func migrationPointsTemplateEnrollmentsAtTheirVersion() async throws {
        let name = "steps\(Int.random(in: 0..<1_000_000_000))"
        _ = try await TestCluster.shared.superuserQuery("CREATE DATABASE \(name) OWNER nudge", database: "postgres")
        let config = DatabaseLocation.configuration(embedded: try await TestCluster.shared.cluster(), database: name)
        let all = TestCluster.packageRoot.appendingPathComponent("migrations").path
        let before = NSTemporaryDirectory() + "nudge-migrations-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: before, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: before) }
        for file in try FileManager.default.contentsOfDirectory(atPath: all) where file.hasSuffix(".sql") && file < "0014" {
            try FileManager.default.copyItem(atPath: all + "/" + file, toPath: before + "/" + file)
        }
        let earlier = try await FoundationTests.withClient(config) { try await Migrator(directory: before, logger: TestCluster.logger).migrate($0) }
        #expect(!earlier.contains("0014_enrollment_sequence_versions.sql"))

        let sql = { (s: String) in _ = try await TestCluster.shared.superuserQuery(s, database: name) }
        try await sql("INSERT INTO orgs (id, name, created_at) VALUES ('org_m', 'M', now())")
        try await sql(
            "INSERT INTO inboxes (org_id, id, address, timezone, created_at, updated_at) VALUES ('org_m', 'inb_m', 'm@acme.test', 'UTC', now(), now())"
        )
        try await sql("INSERT INTO contacts (org_id, id, created_at, updated_at) VALUES ('org_m', 'ctc_m', now(), now())")
        try await sql(
            """
            INSERT INTO sequences (org_id, id, name, sender_inbox_id, version, definition, created_at, updated_at)
            VALUES ('org_m', 'seq_m', 'S', 'inb_m', 2, '{"steps": \(Self.v2), "exit_on_reply": true}', now(), now())
            """)
        try await sql(
            """
            INSERT INTO sequence_versions (org_id, sequence_id, version, name, definition, created_at) VALUES
              ('org_m', 'seq_m', 1, 'S', '{"steps": \(Self.v1), "exit_on_reply": true}', now()),
              ('org_m', 'seq_m', 2, 'S', '{"steps": \(Self.v2), "exit_on_reply": true}', now())
            """)
        let rows: [(id: String, version: String, steps: String, state: String)] = [
            ("enr_v1", "1", Self.v1Respelled, "completed"),
            ("enr_v2", "2", Self.v2, "active"),
            ("enr_edited", "1", Self.edited, "completed"),
            ("enr_noversion", "7", Self.v1, "completed"),
            ("enr_adhoc", "NULL", Self.adhoc, "active"),
        ]
        for r in rows {
            let seq = r.version == "NULL" ? "NULL" : "'seq_m'"
            try await sql(
                """
                INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, sequence_id, sequence_version, steps,
                  exit_on_reply, state, next_due_at, created_at, updated_at)
                VALUES ('org_m', '\(r.id)', 'inb_m', 'ctc_m', 'a@example.com', 'a@example.com', \(seq), \(r.version), '\(r.steps)',
                  true, '\(r.state)', now(), now(), now())
                """)
        }

        let applied = try await FoundationTests.withClient(config) { try await Migrator(directory: all, logger: TestCluster.logger).migrate($0) }
        #expect(applied.contains("0014_enrollment_sequence_versions.sql"))

        let dropped = try await TestCluster.shared.superuserQuery("SELECT id FROM enrollments WHERE steps IS NULL ORDER BY id", database: name)
            .map { try $0.decode(String.self) }
        #expect(dropped == ["enr_v1", "enr_v2"])
        for r in rows {
            let same = try await TestCluster.shared.superuserQuery(
                """
                SELECT coalesce(e.steps, v.definition -> 'steps') = '\(r.steps)'::jsonb FROM enrollments e
                LEFT JOIN sequence_versions v ON v.org_id = e.org_id AND v.sequence_id = e.sequence_id AND v.version = e.sequence_version
                WHERE e.id = '\(r.id)'
                """, database: name
            ).first?.decode(Bool.self)
            #expect(same == true, "\(r.id) runs the steps it had")
        }
        // A row must name a version or keep steps.
        await #expect(throws: (any Error).self) {
            try await sql(
                """
                INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, exit_on_reply, state, created_at, updated_at)
                VALUES ('org_m', 'enr_none', 'inb_m', 'ctc_m', 'a@example.com', 'a@example.com', true, 'active', now(), now())
                """)
        }
    }

    /// A template enrollment that kept its own copy (one the migration found matching no
    /// version) is sent, shown and completed from that copy, not from its version.
    @Test func enrollmentWithItsOwnCopyRunsThatCopy() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox))
            let e = try await h.call(
                .post, "/v1/sequences/enrollments/", #"{"sequence_id": "\#(seq.id)", "recipient": {"email": "kept@example.com"}}"#)
            #expect(e.status == 201, "\(e.body)")
            #expect(e["steps"]?.items.count == 2)
            try await h.services.db.system { conn in
                try await conn.query(
                    "UPDATE enrollments SET steps = \(Self.edited)::jsonb WHERE org_id = \(h.org) AND id = \(e.id)", logger: h.services.logger)
            }
            let shown = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")
            #expect(shown["steps"]?.items.count == 1)
            #expect(shown["steps"]?[0]?["subject"]?.string == "Edited by hand")

            _ = try await h.advance(seconds: 3 * Self.day)
            let got = try smtp.received()
            #expect(got.count == 1)
            #expect(try await PythonEmail.parse(file: got[0].path)["subject"] as? String == "Edited by hand")
            let done = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")
            #expect(done["state"]?.string == "completed", "one step, as its copy has")
            _ = try await h.advance(seconds: 10 * Self.day)
            #expect(try smtp.received().count == 1)
        }
    }
}
