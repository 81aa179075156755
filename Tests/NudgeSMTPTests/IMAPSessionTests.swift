import Foundation
import NudgeSMTP
import NudgeTestSupport
import Testing

/// Against a real Dovecot: read-only opening, searches, exact bytes, no \Seen, one connection.
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct IMAPSessionTests {
    @Test func examineSearchAndFetchExactBytes() async throws {
        let server = try await TestIMAPServer()
        let delivered = [Mail.small(1), Mail.eightBit, Mail.small(3)]
        for m in delivered { try await server.deliver(raw: m) }
        let session = IMAPSession(settings: server.settings())

        let status = try await session.examine()
        #expect(status.exists == 3)
        #expect(status.uidNext == 4)
        #expect(status.uidValidity > 0)

        #expect(try await session.uids(after: 0).uids == [1, 2, 3])
        #expect(try await session.uids(after: 1).uids == [2, 3])
        // "4:*" matches UID 3, the highest: filtered out.
        #expect(try await session.uids(after: 3).uids == [])

        let batch = try await session.fetch(uids: [3, 1, 2])
        #expect(batch.messages.map(\.uid) == [1, 2, 3])
        #expect(batch.messages.map(\.raw) == delivered)
        #expect(batch.oversized.isEmpty && batch.missing.isEmpty)
        #expect(batch.uidValidity == status.uidValidity)

        // Nothing was marked read: neither EXAMINE nor BODY.PEEK[] set \Seen.
        let flags = try await server.flags()
        #expect(flags.count == 3)
        #expect(flags.values.allSatisfy { !$0.contains("\\Seen") })

        let now = Date()
        #expect(try await session.uids(since: now.addingTimeInterval(-86_400)).uids == [1, 2, 3])
        #expect(try await session.uids(since: now.addingTimeInterval(2 * 86_400)).uids == [])

        // Mail arriving while the connection is held is seen by the next search.
        try await server.deliver(raw: Mail.small(4))
        #expect(try await session.uids(after: 3).uids == [4])
        #expect(try await session.examine().exists == 4)
        // A UID the folder does not have is reported, not an error.
        let partial = try await session.fetch(uids: [4, 99])
        #expect(partial.messages.map(\.raw) == [Mail.small(4)])
        #expect(partial.missing == [99])

        // Every call above ran on one connection.
        #expect(try await server.settledLoginCount() == 1)
    }

    @Test func fetchesManyInChunks() async throws {
        let server = try await TestIMAPServer()
        let delivered = (1...200).map(Mail.small)
        try server.deliverMany(delivered)
        let session = IMAPSession(settings: server.settings())
        let uids = try await session.uids(after: 0).uids
        #expect(uids.count == 200)
        var fetched: [[UInt8]] = []
        for start in stride(from: 0, to: uids.count, by: 50) {
            let batch = try await session.fetch(uids: Array(uids[start..<min(start + 50, uids.count)]))
            #expect(batch.messages.count == 50)
            fetched += batch.messages.map(\.raw)
        }
        #expect(fetched.count == 200)
        // Maildir delivery assigns UIDs in directory order: compare as sets of exact bytes.
        #expect(Set(fetched) == Set(delivered))
        #expect(try await server.flags().values.allSatisfy { !$0.contains("\\Seen") })
        #expect(try await server.settledLoginCount() == 1)
    }

    @Test func throughputOfSmallMessages() async throws {
        let server = try await TestIMAPServer()
        try server.deliverMany((1...1000).map(Mail.small))
        let session = IMAPSession(settings: server.settings())
        let uids = try await session.uids(after: 0).uids
        #expect(uids.count == 1000)
        let started = ContinuousClock.now
        var count = 0
        for start in stride(from: 0, to: uids.count, by: 100) {
            count += try await session.fetch(uids: Array(uids[start..<min(start + 100, uids.count)])).messages.count
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(count == 1000)
        print(
            "IMAP fetch throughput: \(count) messages in \(String(format: "%.3f", seconds)) s, chunks of 100 = \(Int(Double(count) / seconds)) messages/s"
        )
    }

    @Test func largeMessageAndSizeBound() async throws {
        let server = try await TestIMAPServer()
        let large = Mail.large(megabytes: 25)
        try await server.deliver(raw: Mail.small(1))
        try await server.deliver(raw: large)
        try await server.deliver(raw: Mail.small(3))
        let session = IMAPSession(settings: server.settings(timeoutSeconds: 30))

        let started = ContinuousClock.now
        let batch = try await session.fetch(uids: [1, 2, 3])
        print("IMAP 25 MiB fetch: \(ContinuousClock.now - started)")
        #expect(batch.messages.count == 3)
        #expect(batch.messages[1].raw.count == large.count)
        #expect(batch.messages[1].raw == large)

        // Under a 1 MiB bound the large one is reported, and the batch still carries the others.
        let bounded = try await session.fetch(uids: [1, 2, 3], maxMessageBytes: 1 << 20)
        #expect(bounded.messages.map(\.raw) == [Mail.small(1), Mail.small(3)])
        #expect(bounded.oversized == [.init(uid: 2, size: large.count)])
        #expect(try await server.flags()[2]?.contains("\\Seen") == false)
    }

    @Test func nonASCIIFolder() async throws {
        let server = try await TestIMAPServer()
        try await server.createMailbox("Entwürfe")
        try await server.deliver(raw: Mail.small(1), mailbox: "Entwürfe")
        let session = IMAPSession(settings: server.settings(folder: "Entwürfe"))
        #expect(try await session.examine().exists == 1)
        #expect(try await session.fetch(uids: [1]).messages.map(\.raw) == [Mail.small(1)])
    }

    @Test func uidValidityChangeIsObserved() async throws {
        let server = try await TestIMAPServer()
        try await server.deliver(raw: Mail.small(1))
        let session = IMAPSession(settings: server.settings())
        let before = try await session.examine().uidValidity
        try await server.changeUIDValidity(to: 4242)
        let after = try await session.examine()
        #expect(before != 4242)
        #expect(after.uidValidity == 4242)
        #expect(try await session.uids(after: 0).uidValidity == 4242)
        // UIDs that belong to the old UIDVALIDITY are refused, not fetched.
        await #expect(throws: IMAPError.self) { try await session.fetch(uids: [1], uidValidity: before) }
        do {
            _ = try await session.fetch(uids: [1], uidValidity: before)
        } catch {
            #expect(error.kind == .uidValidityChanged)
        }
        #expect(try await session.fetch(uids: [1], uidValidity: 4242).messages.count == 1)
    }

    @Test func implicitTLS() async throws {
        let server = try await TestIMAPServer()
        try await server.deliver(raw: Mail.eightBit)
        let session = IMAPSession(settings: server.settings(security: .tls))
        #expect(try await session.fetch(uids: [1]).messages.map(\.raw) == [Mail.eightBit])
        let check = await session.check()
        #expect(check.ok)
        #expect(check.transcript.contains { $0.hasPrefix("* SSL connection using TLSv1.3") })
    }

    @Test func restartedServerNeedsNoNewSession() async throws {
        let server = try await TestIMAPServer()
        try await server.deliver(raw: Mail.small(1))
        let session = IMAPSession(settings: server.settings())
        #expect(try await session.examine().exists == 1)
        server.stop()
        do {
            _ = try await session.examine()
            Issue.record("examine succeeded with the server stopped")
        } catch {
            #expect(error.kind == .connection)
            print("IMAP server stopped: \(error)")
        }
        try await server.start()
        #expect(try await session.examine().exists == 1)
        #expect(try await server.settledLoginCount() == 2)
    }

    @Test func heldConnectionClosedByServerIsReplacedSilently() async throws {
        let server = try await TestIMAPServer()
        try await server.deliver(raw: Mail.small(1))
        let session = IMAPSession(settings: server.settings())
        #expect(try await session.examine().exists == 1)
        // Restart while the session holds its connection: the next call finds it closed and
        // retries once on a new one.
        server.stop()
        try await server.start()
        #expect(try await session.uids(after: 0).uids == [1])
        #expect(try await server.settledLoginCount() == 2)
    }
}
