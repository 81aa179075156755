import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeSMTP
import NudgeStore
import ServiceLifecycle
import Synchronization

/// Reads replies from inboxes' own IMAP accounts (README, "Connected mailboxes"). Each due
/// mailbox is leased to one worker; its new messages (UIDs past the last one read) are fetched in
/// chunks, without changing a flag, and each goes through the inbound endpoint's own path
/// (`InboundProcessor`: threading, stop on reply, bounces, complaints, judgement). The position is
/// written after each chunk, and a message processed twice after a crash is recognised by its
/// Message-ID, so nothing is lost and nothing acts twice.
package struct MailboxReader: Service {
    package let services: NudgeServices

    package init(services: NudgeServices) { self.services = services }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var polled = 0
            do { polled = try await pollDue() } catch {
                services.logger.warning("mailbox polls failed", metadata: ["error": "\(error)"])
            }
            if polled == 0 { try? await gracefulShutdownOrSleep(.seconds(1)) }
        }
        await services.mailboxes.closeAll()
    }

    /// Polls the mailboxes due now, at most `imapConcurrency` at a time; returns how many.
    @discardableResult
    package func pollDue() async throws -> Int {
        let width = max(1, services.config.imapConcurrency)
        let polls = try await InboxStore.claimPolls(now: services.clock.now(), limit: width, lease: Self.lease, db: services.db)
        await withDiscardingTaskGroup { group in
            for poll in polls { group.addTask { await read(poll) } }
        }
        return polls.count
    }

    private func read(_ poll: MailboxPoll) async {
        let interval = TimeInterval(poll.account.poll_interval_seconds)
        do {
            let processed = try await readNew(poll)
            Counter(label: "nudge_imap_messages_total").increment(by: processed)
            let now = services.clock.now()
            try await InboxStore.finishPoll(poll, error: nil, nextPollAt: now.addingTimeInterval(interval), now: now, db: services.db)
        } catch {
            services.logger.warning("reading a mailbox failed", metadata: ["inbox": "\(poll.inboxID)", "error": "\(error)"])
            await services.mailboxes.drop(poll.inboxID)
            // Backs off while it fails (a wrong password is not tried every few seconds), at most 15 minutes.
            let wait = min(900, interval * pow(2, Double(min(poll.failures, 8))))
            let now = services.clock.now()
            try? await InboxStore.finishPoll(poll, error: "\(error)", nextPollAt: now.addingTimeInterval(wait), now: now, db: services.db)
        }
    }

    /// Everything new since the last poll; returns how many messages were processed.
    private func readNew(_ poll: MailboxPoll) async throws -> Int {
        let session = try await services.mailboxes.session(for: poll, config: services.config, credentials: services.mailCredentials)
        let status = try await session.examine()
        let uids: [UInt32]
        if let known = poll.uidValidity, known == status.uidValidity {
            uids = try await session.uids(after: poll.lastUID ?? 0).uids
        } else if poll.uidValidity != nil {
            // The server rebuilt the folder: its UIDs mean other messages now. Read again from the
            // day before the last good read; what was received already is recognised by Message-ID.
            let from = (poll.lastOK ?? services.clock.now()).addingTimeInterval(-86_400)
            uids = try await session.uids(since: from).uids
        } else if let since = poll.account.since.flatMap(ScheduleMath.day) {
            uids = try await session.uids(since: since.addingTimeInterval(-86_400)).uids  // SEARCH SINCE is the server's day
        } else {
            // First connection: only mail that arrives from now on. A server that does not say
            // UIDNEXT is asked for its highest UID instead.
            var start = (status.uidNext ?? 1) &- 1
            if status.uidNext == nil { start = try await session.uids(after: 0).uids.max() ?? 0 }
            try await InboxStore.advanceMailbox(
                org: poll.org, id: poll.inboxID, version: poll.version, uidValidity: status.uidValidity, lastUID: start,
                leaseUntil: services.clock.now().addingTimeInterval(Self.lease), db: services.db)
            return 0
        }
        let processor = InboundProcessor(db: services.db, clock: services.clock, reviewIntents: services.llm != nil)
        var processed = 0
        let chunk = max(1, services.config.imapChunk)
        for start in stride(from: 0, to: uids.count, by: chunk) {
            let part = Array(uids[start..<min(uids.count, start + chunk)])
            let batch = try await session.fetch(uids: part, maxMessageBytes: Self.maxMessageBytes, uidValidity: status.uidValidity)
            for o in batch.oversized {
                services.logger.warning(
                    "a message in a mailbox is too large to read; skipped",
                    metadata: ["inbox": "\(poll.inboxID)", "uid": "\(o.uid)", "bytes": "\(o.size)"])
            }
            // Side by side: each message is its own transaction, and replays are recognised.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for m in batch.messages {
                    group.addTask { _ = try await processor.process(org: poll.org, inboxID: poll.inboxID, raw: m.raw) }
                }
                try await group.waitForAll()
            }
            processed += batch.messages.count
            try await InboxStore.advanceMailbox(
                org: poll.org, id: poll.inboxID, version: poll.version, uidValidity: status.uidValidity, lastUID: part.max() ?? 0,
                leaseUntil: services.clock.now().addingTimeInterval(Self.lease), db: services.db)
        }
        if uids.isEmpty && poll.uidValidity != status.uidValidity {
            // A rebuilt folder with nothing new since the last good day: remember its UIDVALIDITY.
            try await InboxStore.advanceMailbox(
                org: poll.org, id: poll.inboxID, version: poll.version, uidValidity: status.uidValidity, lastUID: (status.uidNext ?? 1) &- 1,
                leaseUntil: services.clock.now().addingTimeInterval(Self.lease), db: services.db)
        }
        return processed
    }

    /// How long a mailbox stays a worker's without news (each chunk renews it): a killed worker's
    /// mailboxes are read again by another within this.
    static let lease: TimeInterval = 60

    /// Larger messages are skipped (and logged): the inbound endpoint takes at most 25 MiB too.
    static let maxMessageBytes = 32 << 20
}

/// The IMAP sessions this process keeps open, one per mailbox, replaced when the account's
/// version changes and dropped after a failure. At most `limit` stay open: thousands of mailboxes
/// polled now and then must not hold thousands of connections, so the least recently used is
/// logged out to make room (its next poll logs in again).
package final class MailboxSessions: Sendable {
    private struct Kept {
        let version: Int
        let session: IMAPSession
        var used: UInt64
    }
    private struct State {
        var kept: [String: Kept] = [:]
        var tick: UInt64 = 0
    }
    private let state = Mutex(State())
    private let limit: Int

    package init(limit: Int = 64) { self.limit = max(1, limit) }

    package var openCount: Int { state.withLock { $0.kept.count } }

    package func session(for poll: MailboxPoll, config: AppConfig, credentials: MailCredentials) async throws -> IMAPSession {
        let reused: IMAPSession? = state.withLock { s in
            guard var k = s.kept[poll.inboxID], k.version == poll.version else { return nil }
            s.tick += 1
            k.used = s.tick
            s.kept[poll.inboxID] = k
            return k.session
        }
        if let reused { return reused }
        await drop(poll.inboxID)
        let password: String
        do { password = try credentials.open(poll.sealedPassword, org: poll.org, inboxID: poll.inboxID, service: "imap") } catch {
            throw AccountError("the stored IMAP password does not open with this server's NUDGE_SECRET; set it again")
        }
        let a = poll.account
        let target = try await MailHost.checked(a.host, port: a.port, allowPrivate: config.allowPrivateMailHosts)
        let session = IMAPSession(
            settings: IMAPSettings(
                host: a.host, port: a.port, security: a.security == .tls ? .tls : .starttls, username: a.username, password: password,
                folder: a.folder, caBundlePath: config.mailCAFile, resolve: target.resolve, timeoutSeconds: 30))
        let evicted: [IMAPSession] = state.withLock { s in
            s.tick += 1
            s.kept[poll.inboxID] = Kept(version: poll.version, session: session, used: s.tick)
            var out: [IMAPSession] = []
            while s.kept.count > limit, let oldest = s.kept.min(by: { $0.value.used < $1.value.used }) {
                out.append(oldest.value.session)
                s.kept.removeValue(forKey: oldest.key)
            }
            return out
        }
        for old in evicted { await old.close() }
        return session
    }

    package func drop(_ inboxID: String) async {
        if let old = state.withLock({ $0.kept.removeValue(forKey: inboxID) }) { await old.session.close() }
    }

    package func closeAll() async {
        let all: [IMAPSession] = state.withLock { s in
            let open = s.kept.values.map(\.session)
            s.kept = [:]
            return open
        }
        for session in all { await session.close() }
    }
}
