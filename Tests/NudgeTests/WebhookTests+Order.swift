import Foundation
import NudgeTestSupport
import PostgresNIO
import Testing

@testable import NudgeCore
@testable import NudgeStore

/// What is sent and in what order: the commit rule (the feed's visibility horizon) and the bound
/// on how long a failing event holds up the events behind it.
extension WebhookTests {
    /// Appends an event in a transaction of its own, as every store does (`Events.append`), and
    /// holds that transaction open until `end` is called; it then commits, or rolls back.
    final class HeldEvent: Sendable {
        private let release: AsyncStream<Void>.Continuation
        private let task: Task<Void, any Error>

        init(_ h: Harness, rollback: Bool) async throws {
            let (released, release) = AsyncStream<Void>.makeStream()
            let (appended, appendedNow) = AsyncStream<Void>.makeStream()
            let org = h.org
            let now = h.clock.now()
            self.release = release
            task = Task { [db = h.services.db] in
                try await db.tenant(org, rollback: rollback) { conn in
                    try await Events.append(
                        [PendingEvent(org: org, type: .suppressionCreated, ["email": .string(Fixture.address())])], at: now, on: conn,
                        logger: db.logger)
                    appendedNow.yield()
                    for await _ in released { break }
                }
            }
            for await _ in appended { break }
        }

        func end() async throws {
            release.yield()
            try await task.value
        }
    }

    /// An event whose transaction is still open holds back the events committed after it began
    /// (as in the feed): once it commits, both go out in feed order; one that rolls back is never
    /// sent, and what waited behind it goes out.
    @Test func aLateCommitIsSentInFeedOrderAndARollbackNever() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            _ = try await Self.endpoint(h, receiver)
            let late = try await HeldEvent(h, rollback: false)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            #expect(try receiver.deliveries().isEmpty, "an event was sent while an earlier transaction was still open")
            #expect(try await Self.feed(h).isEmpty)
            try await late.end()
            try await Self.advance(h, hours: 0.01)
            let feed = try await Self.feed(h)
            #expect(feed.count == 2)
            #expect(try receiver.deliveries().map(\.id) == feed)

            let rolledBack = try await HeldEvent(h, rollback: true)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            #expect(try receiver.deliveries().count == 2)
            try await rolledBack.end()
            try await Self.advance(h, hours: 1)
            let after = try await Self.feed(h)
            #expect(after.count == 3)
            let got = try receiver.deliveries()
            #expect(got.map(\.id) == after && got.allSatisfy { $0.verified == [0] }, "\(got.map(\.id)) vs \(after)")
        }
    }

    /// A head event that fails (500) for longer than the order bound (24 h) stops holding up the
    /// queue: the events behind it go out, and it keeps being retried on its own backoff until it
    /// succeeds.
    @Test func aHeadFailingPastTheOrderBoundLetsTheQueueMoveOn() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            let head = try #require(try await Self.feed(h).first)
            try receiver.setMode("fail \(head)")
            try await Self.advance(h, hours: 0.01)
            try await Self.events(h, 2)
            // Within the bound the others wait behind the head.
            for _ in 0..<23 { try await Self.advance(h, hours: 1) }
            var got = try receiver.deliveries()
            #expect(got.count > 5 && got.allSatisfy { $0.id == head && $0.answered == 500 }, "\(got.map(\.id))")
            // Past it (the head's next attempt, at most 1.25 h later, finds it failing for 24 h).
            for _ in 0..<3 { try await Self.advance(h, hours: 1) }
            let feed = try await Self.feed(h)
            got = try receiver.deliveries()
            #expect(got.filter { $0.answered == 200 }.map(\.id) == Array(feed.dropFirst()), "\(got.map(\.id))")
            // The head holds up nothing now: a new event goes out at once, while the head goes on
            // failing on its own schedule (its backoff, capped at 1 h).
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            got = try receiver.deliveries()
            #expect(got.last?.id == (try await Self.feed(h)).last && got.last?.answered == 200)
            let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/?limit=200")
            let pending = try #require(list["data"]?.items.first { $0["event_id"]?.string == head })
            #expect(pending["state"]?.string == "pending", "\(pending)")
            let last = try #require(pending["attempts"]?.items.first)
            if let at = last["attempted_at"]?.string.flatMap(RFC3339.parse), let next = last["next_retry_at"]?.string.flatMap(RFC3339.parse) {
                #expect(next.timeIntervalSince(at) >= 0.75 * 3600, "\(last)")
            } else {
                Issue.record("no next retry: \(last)")
            }
            // Once the receiver takes it, it is delivered, once.
            try receiver.setMode("ok")
            try await Self.advance(h, hours: 1.5)
            got = try receiver.deliveries()
            #expect(got.filter { $0.answered == 200 }.map(\.id).sorted() == (try await Self.feed(h)).sorted())
            #expect(got.last?.id == head)
        }
    }
}
