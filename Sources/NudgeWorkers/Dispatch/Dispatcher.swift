import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeSMTP
import NudgeStore
import ServiceLifecycle
import Synchronization

/// Sends each due step once. A batch is claimed with `FOR UPDATE SKIP LOCKED` inside one
/// transaction that stays open while the batch is sent: the row locks are the lease. A reply,
/// cancel or suppression must update the same enrollment rows, so one committed before the claim
/// wins (the claim re-reads state), and one arriving during the send waits for it. A worker that
/// dies mid-send loses its connection; PostgreSQL rolls back and releases the rows, and the next
/// worker sends the step again under the same Message-ID (derived from enrollment and step), so a
/// duplicate is recognisable. See README, "Delivery guarantee".
public struct Dispatcher: Service {
    package let services: NudgeServices
    package var db: Database { services.db }
    package var logger: Logger { services.logger }

    public init(services: NudgeServices) { self.services = services }

    /// Several claim loops, so one batch's SMTP conversation overlaps another's statements. They
    /// share nothing but the database: SKIP LOCKED gives each its own enrollments and the daily
    /// counters are reserved under row locks (DailyCounts).
    ///
    /// A batch's transaction stays open until its slowest send ends, and the loop with it. So the
    /// shared loops take only the relay's steps, and inboxes with their own SMTP account are
    /// claimed one inbox at a time by loops of their own: a slow or hanging account server holds
    /// its own steps and one account loop, never another organization's sends.
    public func run() async throws {
        let accounts = AccountQueue(pollInterval: services.config.pollInterval)
        await withDiscardingTaskGroup { group in
            for _ in 0..<max(1, services.config.dispatchLoops) {
                group.addTask { await loop { try await runOnce(lane: .relay) } }
            }
            for _ in 0..<max(1, services.config.accountDispatchLoops) {
                group.addTask { await loop { try await runAccount(accounts) } }
            }
        }
    }

    private func loop(_ once: () async throws -> Int) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var worked = 0
            do {
                worked = try await once()
            } catch {
                logger.warning("dispatch batch failed", metadata: ["error": "\(error)"])
                try? await gracefulShutdownOrSleep(.seconds(2))
            }
            if worked == 0 { try? await gracefulShutdownOrSleep(services.config.pollInterval) }
        }
    }

    /// One batch of an inbox with its own account that no other loop of this process is serving,
    /// the longest-waiting first. Returns how many enrollments it claimed.
    package func runAccount(_ accounts: AccountQueue) async throws -> Int {
        var next = accounts.take()
        if next == nil, let busy = accounts.beginPoll() {
            var found: [AccountQueue.Inbox] = []
            do {
                defer { accounts.endPoll(found) }
                found = try await InboxStore.dueAccounts(
                    now: services.clock.now(), excluding: busy, limit: max(16, 4 * services.config.accountDispatchLoops), db: db)
            }
            next = accounts.take()
        }
        while let inbox = next {
            var claimed = 0
            do {
                // A full batch may have left steps due: the inbox queues again behind the others.
                defer { accounts.release(inbox, more: claimed >= services.config.dispatchBatchSize) }
                claimed = try await runOnce(lane: .inbox(org: inbox.org, id: inbox.id))
            }
            // Zero when another process holds all of them: the next one waiting is tried.
            if claimed > 0 { return claimed }
            next = accounts.take()
        }
        return 0
    }

    /// The due inboxes with their own account, shared by this process's account loops. One loop
    /// polls for all of them, at most once a poll interval (idle loops cost no statements), and
    /// each inbox is served by one loop at a time.
    package final class AccountQueue: Sendable {
        package typealias Inbox = (org: String, id: String)
        private struct State: Sendable {
            var waiting: [Inbox] = []
            var serving: Set<String> = []
            var polling = false
            var lastPoll: ContinuousClock.Instant?
        }
        private let state = Mutex(State())
        private let interval: Duration

        /// `pollInterval`: the least time between two polls.
        package init(pollInterval: Duration = .zero) { interval = pollInterval }

        /// The first waiting inbox no loop is serving, now served by the caller.
        package func take() -> Inbox? {
            state.withLock { s in
                while !s.waiting.isEmpty {
                    let inbox = s.waiting.removeFirst()
                    if s.serving.insert(inbox.id).inserted { return inbox }
                }
                return nil
            }
        }

        /// The inboxes being served, when the caller is to poll now: no other loop is polling and
        /// the last poll is an interval old. The caller then calls `endPoll` exactly once.
        package func beginPoll() -> [String]? {
            state.withLock { s in
                let now = ContinuousClock.now
                if s.polling || s.lastPoll.map({ now - $0 < interval }) == true { return nil }
                s.polling = true
                s.lastPoll = now
                return Array(s.serving)
            }
        }

        /// A poll's answer replaces what was waiting (an older answer may have gone stale); `take`
        /// skips those being served.
        package func endPoll(_ found: [Inbox]) {
            state.withLock { s in
                s.waiting = found
                s.polling = false
            }
        }

        /// The caller is done with `inbox`; `more`: it may still have steps due.
        package func release(_ inbox: Inbox, more: Bool) {
            state.withLock { s in
                s.serving.remove(inbox.id)
                if more && !s.waiting.contains(where: { $0.id == inbox.id }) { s.waiting.append(inbox) }
            }
        }
    }

    /// Processes one batch of `lane` (by default anything due); returns how many enrollments it
    /// claimed.
    @discardableResult
    public func runOnce() async throws -> Int { try await runOnce(lane: .all) }

    @discardableResult
    package func runOnce(lane: DueStep.ClaimLane) async throws -> Int {
        let now = services.clock.now()
        let sending = SendingPhase()
        let outcome: BatchOutcome
        do {
            outcome = try await db.system { [services, logger] conn -> BatchOutcome in
                let (due, wroteEvents) = try await DueStep.claim(
                    now: now, limit: services.config.dispatchBatchSize, lane: lane, conn, logger: logger)
                guard !due.isEmpty else { return BatchOutcome() }
                Gauge(label: "nudge_dispatch_lag_seconds").record(max(0, now.timeIntervalSince(due[0].dueAt)))
                var batch = DispatchBatch(now: now, services: services)
                try await batch.plan(due, conn)
                // While it sends through an organization's own server (its speed is the
                // organization's to choose), this transaction does not hold back the events feed
                // (FeedHorizon). The relay is the operator's: its batches skip the round trips.
                let throughAccount = batch.outgoing.contains { $0.due.smtpVersion > 0 && !$0.due.acceptedEarlier }
                let name = !throughAccount || wroteEvents ? nil : try await FeedHorizon.stepOut(conn, logger: logger)
                try await sending.run(while: conn) { try await batch.send() }
                // Seconds may have passed: if the session ended meanwhile (a restart, the idle
                // timeout) the transaction has failed already; this batch stops here instead of
                // leaving its statements unanswered on the closed connection.
                try conn.ensureOpen()
                if let name { try await FeedHorizon.stepIn(conn, name: name, db: services.db, logger: logger) }
                try await batch.record(conn)
                return BatchOutcome(claimed: due.count, toRender: batch.toRender)
            }
        } catch {
            // The transaction fails as soon as its session ends, even mid-send: this loop claims
            // again only once the batch's emails have gone (each marked as it is accepted).
            await sending.ended()
            throw error
        }
        // LLM-written steps are rendered outside the claim transaction (it can take seconds),
        // then put back as due; the next batch sends the stored text.
        if !outcome.toRender.isEmpty {
            try await StepRendering(services: services).renderAll(outcome.toRender, now: now)
        }
        return outcome.claimed
    }

    /// With the manual clock: everything due by now, including retries that became due.
    public func drain() async throws {
        var rounds = 0
        while rounds < 10_000, try await runOnce() > 0 { rounds += 1 }
    }

    /// A batch's SMTP conversations, which may outlast its transaction.
    package final class SendingPhase: Sendable {
        private let state = Mutex<(running: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

        package func run(while conn: StoreConnection, _ send: () async throws -> Void) async throws {
            state.withLock { $0.running = true }
            defer { finish() }
            // Checked once `running` is set: a loop whose transaction failed as the connection
            // closed, and that saw no send running, finds the connection closed here; no batch
            // starts sending rows its session no longer locks.
            try conn.ensureOpen()
            try await send()
        }

        private func finish() {
            let waiting = state.withLock { s in
                s.running = false
                defer { s.waiting = [] }
                return s.waiting
            }
            for w in waiting { w.resume() }
        }

        /// Returns when no send is running.
        package func ended() async {
            await withCheckedContinuation { c in
                let now = state.withLock { s in
                    if s.running { s.waiting.append(c) }
                    return !s.running
                }
                if now { c.resume() }
            }
        }
    }

    package struct BatchOutcome: Sendable {
        package var claimed = 0
        package var toRender: [DueStep] = []
    }
}

/// Retry schedule for transient SMTP failures: 1, 2, 4 … minutes, capped at an hour; after 24 h
/// of failing the step is given up and the enrollment fails.
package enum RetryPolicy {
    package static let giveUpAfter: TimeInterval = 86_400
    package static func delay(afterAttempt n: Int) -> TimeInterval {
        min(3_600, 60 * pow(2, Double(max(0, n - 1))))
    }
}
