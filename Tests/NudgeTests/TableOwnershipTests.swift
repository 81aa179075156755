import Foundation
import Testing

/// One owner per table: every statement that writes a table is in that table's store, and no
/// source outside the store target can reach PostgreSQL. (The build enforces the second as well:
/// only NudgeStore depends on PostgresNIO, `ops/test` builds with the explicit-import check,
/// and the layers above use MemberImportVisibility.)
@Suite struct TableOwnershipTests {
    /// Table -> the files of its owning store (the store type and its extensions).
    static let owners: [String: Set<String>] = [
        "orgs": ["TokenStore.swift", "TokenStore+Retention.swift"], "tokens": ["TokenStore.swift"],
        "contacts": ["ContactStore.swift"], "contact_emails": ["ContactStore.swift"],
        "sequences": ["SequenceStore.swift"], "sequence_versions": ["SequenceStore.swift"],
        "enrollments": [
            "EnrollmentStore.swift", "EnrollmentStore+Progress.swift", "EnrollmentStore+Replies.swift", "EnrollmentStore+Holds.swift",
            "EnrollmentStore+Drafts.swift",
        ],
        "deliveries": ["DeliveryStore.swift"],
        // Written by migration 0022's triggers in the transactions that change enrollments and deliveries.
        "sequence_stats": ["SequenceStatsStore.swift"], "sequence_delivery_changes": ["SequenceStatsStore.swift"],
        "sequence_enrollment_changes": ["SequenceStatsStore.swift"],
        "events": ["Events.swift"],
        // Also voided by migration 0026's trigger when an enrollment with a waiting draft stops running.
        "drafts": ["DraftStore.swift"],
        "idempotency_keys": ["IdempotencyStore.swift"],
        "inbox_daily_sends": ["DailyCounts.swift"], "org_daily_sends": ["DailyCounts.swift"],
        "token_daily_enrollments": ["DailyCounts.swift"], "token_daily_sends": ["DailyCounts.swift"],
        "inboxes": ["InboxStore.swift", "InboxStore+Accounts.swift", "InboxStore+Mailbox.swift"], "domains": ["DomainStore.swift"],
        "inbox_health": ["InboxStore.swift"],
        "judgements": ["JudgementStore.swift"],
        "llm_calls": ["LLMCallStore.swift"],
        "messages": ["HistoryStore.swift"], "threads": ["HistoryStore+Threads.swift"],
        "schema_migrations": ["Migrator.swift"],
        "sender_domains": ["SenderDomainStore.swift"],
        "suppressions": ["SuppressionStore.swift"], "unsubscribe_uses": ["SuppressionStore.swift"],
        "workflow_rules": ["WorkflowRuleStore.swift"],
        "webhooks": ["WebhookStore.swift", "WebhookStore+Delivery.swift"], "webhook_retired_secrets": ["WebhookStore.swift"],
        "webhook_deliveries": ["WebhookStore.swift", "WebhookStore+Delivery.swift"],
        "webhook_attempts": ["WebhookStore+Delivery.swift"],
        "console_sessions": ["ConsoleSessionStore.swift"],
    ]

    static var sources: URL { TestCluster.packageRoot.appendingPathComponent("Sources") }

    static func swiftFiles(under dir: URL) -> [URL] {
        let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)
        return (e?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
    }

    @Test func everyWriteIsInItsTablesStore() throws {
        let write = try Regex(#"(?i)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)"#)
        var writes = 0
        for file in Self.swiftFiles(under: Self.sources) {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                for m in line.matches(of: write) {
                    guard let table = m.output[2].substring.map(String.init), Self.owners.keys.contains(table) else { continue }
                    writes += 1
                    #expect(
                        file.pathComponents.contains("NudgeStore") && Self.owners[table]!.contains(file.lastPathComponent),
                        "\(file.lastPathComponent) writes \(table), owned by \(Self.owners[table]!.sorted())")
                }
            }
        }
        #expect(writes > 40)
    }

    /// Every table the migrations create has an owner above.
    @Test func everyTableHasAnOwner() throws {
        let create = try Regex(#"(?i)CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([a-z_]+)"#)
        let dir = TestCluster.packageRoot.appendingPathComponent("migrations")
        var tables = Set<String>()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".sql") {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            for m in text.matches(of: create) { if let t = m.output[2].substring { tables.insert(String(t)) } }
        }
        #expect(tables.count > 15)
        for t in tables.sorted() { #expect(Self.owners[t] != nil, "table \(t) has no owning store") }
    }

    /// Only the store target imports PostgresNIO.
    @Test func onlyTheStoreImportsTheDatabaseDriver() throws {
        for file in Self.swiftFiles(under: Self.sources) where !file.pathComponents.contains("NudgeStore") {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("import PostgresNIO") && !text.contains("import _ConnectionPoolModule"), "\(file.lastPathComponent)")
        }
    }
}
