import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeSMTP
import NudgeStore

/// One claimed batch: decide what each step needs, send the emails, record every outcome with a
/// few set-based statements (no per-row round trips on the common path).
package struct DispatchBatch {
    package struct Outgoing {
        package let due: DueStep
        package let message: OutboundMessage
        package let rendered: [UInt8]
        package let threadID: String
        package let newThread: Bool
        package var result: Result<SMTPOutcome, any Error> = .failure(CancellationError())
    }

    package let now: Date
    package let services: NudgeServices
    package var logger: Logger { services.logger }
    /// Once per batch, not per message (its trimming showed in the dispatch profile).
    package let unsubscribeBase: String

    package var outgoing: [Outgoing] = []
    package var reminders: [DueStep] = []
    package var suppressed: [DueStep] = []
    /// Recipients the enrolling token's send policy now blocks.
    package var policyBlocked: [(DueStep, String)] = []
    package var deferred: [(DueStep, Date)] = []
    package var broken: [(DueStep, String)] = []
    package var toRender: [DueStep] = []
    /// Steps rendered into approval drafts by this batch (README, "Approval drafts").
    package var newDrafts: [DraftStore.NewDraft] = []
    /// Pending drafts whose time ran out; those expiring with `skip` skip their step.
    package var expiredDrafts: [(org: String, id: String, enrollmentID: String, step: Int, action: String)] = []
    package var skippedByExpiry: [DueStep] = []
    /// Emails held back to tomorrow by their organization's daily quota (for the metrics).
    package var overQuota = 0
    /// Emails held back to tomorrow by their token's daily email cap.
    package var overTokenCap = 0
    /// This batch's share of the daily counters (reserved by `plan`).
    package var counts: DailyCounts?

    /// A preview's messages carry inert unsubscribe links.
    package let preview: Bool
    /// DKIM signers of this batch's organizations, by organization and domain.
    package var signers: [String: [String: DKIMSigner]] = [:]

    package init(now: Date, services: NudgeServices, preview: Bool = false) {
        self.now = now
        self.services = services
        self.preview = preview
        unsubscribeBase = services.config.unsubscribeBase
    }

    package mutating func plan(_ due: [DueStep], _ conn: StoreConnection) async throws {
        var candidates: [DueStep] = []
        var emails: [DueStep] = []
        var toDraft: [DueStep] = []
        for d in due {
            if d.acceptedEarlier {
                emails.append(d)
                continue
            }  // already with the server, and counted
            if d.step.type == .reminder {
                reminders.append(d)
                continue
            }
            if d.suppressed {
                suppressed.append(d)
                continue
            }
            if let rule = d.policy?.refusal(of: d.recipient) {
                policyBlocked.append((d, rule))
                continue
            }
            if d.inboxPaused {
                // Looked at again every 15 minutes until a PATCH resumes the inbox.
                deferred.append((d, now.addingTimeInterval(Self.pausedRetry)))
                continue
            }
            let opening = ScheduleMath.nextOpening(atOrAfter: now, window: d.window, timeZone: d.sendingTimeZone)
            if opening > now {
                deferred.append((d, opening))
                continue
            }
            if d.step.prompt != nil && d.renderedBody == nil {
                // Leased while the model writes it outside this transaction.
                toRender.append(d)
                deferred.append((d, now.addingTimeInterval(300)))
                continue
            }
            if let draft = d.draft {
                if !draft.cleared {
                    guard draft.state == "pending" else {
                        broken.append((d, "step \(d.stepIndex)'s draft \(draft.id) is \(draft.state)"))
                        continue
                    }
                    guard now >= draft.expiresAt else {
                        deferred.append((d, draft.expiresAt))
                        continue
                    }
                    expiredDrafts.append((d.org, draft.id, d.enrollmentID, d.stepIndex, draft.expiryAction))
                    if draft.expiryAction != "send" {
                        skippedByExpiry.append(d)
                        continue
                    }
                }
            } else if d.policy?.needsApproval(d.step) == true {
                toDraft.append(d)
                continue
            }
            candidates.append(d)
        }
        candidates = try await pace(candidates)
        var counts = try await DailyCounts.reserve(candidates, now: now, defaultQuota: services.config.orgDailySendQuota, db: services.db)
        for d in candidates {
            guard let limit = counts.take(d, now: now) else {
                emails.append(d)
                continue
            }
            // Held to the next day of the limit that stopped it: UTC for the organization's quota
            // and the token's cap, the inbox's own day for its limit.
            if limit == .org { overQuota += 1 }
            if limit == .token { overTokenCap += 1 }
            let tomorrow = ScheduleMath.startOfNextDay(after: now, limit == .inbox ? d.inboxTimeZone : .gmt)
            deferred.append((d, ScheduleMath.nextOpening(atOrAfter: tomorrow, window: d.window, timeZone: d.sendingTimeZone)))
        }
        self.counts = counts
        let threaded = (emails + toDraft).filter { $0.threadID != nil }
        let latest = try await ThreadContext.latest(
            threadIDs: threaded.compactMap(\.threadID), orgs: threaded.map(\.org), isSendable: ThreadingHeaders.isSendable, conn, logger: logger)
        // A draft holds the text exactly as it would be sent now.
        for d in toDraft {
            do {
                let m = try compose(d, latest: d.threadID.flatMap { latest[$0] }).message
                let policy = d.policy ?? SendPolicy()
                newDrafts.append(
                    .init(
                        org: d.org, enrollmentID: d.enrollmentID, contactID: d.contactID, step: d.stepIndex, subject: m.subject, body: m.textBody,
                        expiresAt: now.addingTimeInterval(Double(policy.expiryHours) * 3_600), expiryAction: policy.expiryAction.rawValue))
            } catch {
                broken.append((d, "could not compose the message: \(error)"))
            }
        }
        if !preview && !emails.isEmpty {
            signers = try await services.domainSigners.signers(orgs: Set(emails.map(\.org)), db: services.db, logger: logger)
        }
        for d in emails {
            do {
                outgoing.append(try compose(d, latest: d.threadID.flatMap { latest[$0] }))
            } catch {
                broken.append((d, "could not compose the message: \(error)"))
            }
        }
    }

    package static let pausedRetry: TimeInterval = 900

    /// Pacing (README, "Pacing"): of each paced inbox's candidates at most one goes now, if the
    /// inbox's slot is free; the rest wait a gap apart. The slots are taken in one statement for
    /// the batch.
    mutating func pace(_ candidates: [DueStep]) async throws -> [DueStep] {
        var byInbox: [String: [Int]] = [:]
        for (i, d) in candidates.enumerated() where (d.pacing?.min_gap_seconds ?? 0) > 0 { byInbox[d.inboxID, default: []].append(i) }
        guard !byInbox.isEmpty else { return candidates }
        var waits: [String: Double] = [:]
        for (inbox, idx) in byInbox {
            let p = candidates[idx[0]].pacing!
            waits[inbox] = Double(p.min_gap_seconds!) + Double.random(in: 0...Double(max(0, p.jitter_seconds ?? 0)))
        }
        let granted = try await InboxStore.takePacingSlots(
            byInbox.map { (org: candidates[$0.value[0]].org, id: $0.key, wait: waits[$0.key]!) }, now: now, db: services.db)
        var held = Set<Int>()
        for (inbox, idx) in byInbox {
            let first = candidates[idx[0]]
            let gap = Double(first.pacing!.min_gap_seconds!)
            var rest = idx[...]
            var next: Date
            if granted.contains(inbox) {
                rest = idx.dropFirst()
                next = now.addingTimeInterval(waits[inbox]!)
            } else if let open = first.inboxNextSend, open > now {
                next = open
            } else {
                next = now.addingTimeInterval(gap)
            }
            for i in rest {
                held.insert(i)
                deferred.append((candidates[i], next))
                next = next.addingTimeInterval(gap)
            }
        }
        return candidates.enumerated().filter { !held.contains($0.offset) }.map(\.element)
    }

    /// Everything copied from mail or text others wrote (a received subject or Message-ID, a
    /// model's subject) is made sendable here, so composing fails only on Nudge's own data.
    package func compose(_ d: DueStep, latest: ThreadContext.Latest?) throws -> Outgoing {
        let domain = MessageIDs.domain(of: d.inboxAddress)
        let unsubscribe = UnsubscribeToken.url(base: unsubscribeBase, for: d, preview: preview, key: services.keys.unsubscribe)
        let vars = Composer.Variables(
            contactFullName: d.contactName, contactEmail: d.recipient, contactFields: d.contactFields,
            inboxDisplayName: d.inboxName, inboxAddress: d.inboxAddress, source: d.source,
            sequenceName: d.sequenceName, unsubscribeURL: unsubscribe)
        let subject = Composer.headerText(
            d.renderedSubject ?? d.step.subject.map { Composer.render($0, vars) } ?? "Re: \(d.source?.subject ?? "")",
            max: Composer.maxSubjectLength)
        let body = d.renderedBody ?? Composer.render(d.step.body ?? "", vars)
        let messageID = MessageIDs.forStep(org: d.org, enrollmentID: d.enrollmentID, step: d.stepIndex, domain: domain, key: services.keys.messageID)
        let threading = ThreadingHeaders.make(candidates: latest?.candidates ?? [], references: latest?.references ?? [], own: messageID)
        func name(_ n: String?) -> String? { n.map { Composer.headerText($0, max: Composer.maxDisplayNameLength) } }
        let message = OutboundMessage(
            from: .init(name: name(d.inboxName), address: d.inboxAddress), to: [.init(name: name(d.contactName), address: d.recipient)],
            subject: subject.isEmpty ? "(no subject)" : subject, date: now,
            messageID: messageID, inReplyTo: threading.inReplyTo, references: threading.references, listUnsubscribeURL: unsubscribe,
            extraHeaders: [("X-Nudge-Enrollment", d.enrollmentID)], textBody: body)
        let threadID = d.threadID ?? ID.make(.thr)
        var rendered = try message.render()
        // Signed (README, "Connected mailboxes") when the From domain is one the organization verified.
        if let signer = signers[d.org]?[domain] { rendered = try signer.sign(message: rendered, timestamp: now) }
        return Outgoing(due: d, message: message, rendered: rendered, threadID: threadID, newThread: d.threadID == nil)
    }

    package struct NotStarted: Error {}

    /// Sends with as many messages in flight as each transport has lanes (the relay's, or an
    /// inbox's own account's), so the deadline is checked when a lane is free for the message,
    /// not when the batch was queued. Each accepted
    /// message is marked as such at once, on its own connection (accepted messages are grouped
    /// into one statement while the previous one commits): if this worker dies before the batch
    /// is recorded, the next claim records those as sent instead of sending them twice. If a mark
    /// cannot be written (the database is gone), no further message of the batch is started, and
    /// the mark is tried again for a few seconds (a restarting database is back that fast).
    package mutating func send() async throws {
        let relay = services.transport
        let own = try await services.accounts.transports(
            for: outgoing.filter { !$0.due.acceptedEarlier }.map(\.due), db: services.db, logger: logger)
        let deadline = ContinuousClock.now + services.config.dispatchSendBudget
        for i in outgoing.indices where outgoing[i].due.acceptedEarlier { outgoing[i].result = .success(.accepted(response: nil)) }
        /// One message to hand to the SMTP server: its place in `outgoing`, envelope and bytes, and
        /// the transport's key ("" for the relay, else the inbox of its own account).
        struct Job: Sendable {
            let index: Int
            let from: String
            let to: String
            let message: [UInt8]
            let via: String
        }
        // Each transport is kept busy up to its own width, so messages of a slow account wait
        // for that account's connections, never for a slot another account holds.
        var queues: [String: ArraySlice<Job>] = [:]
        for (i, o) in outgoing.enumerated() where !o.due.acceptedEarlier {
            let via = own[o.due.inboxID] == nil ? "" : o.due.inboxID
            queues[via, default: []].append(Job(index: i, from: o.due.inboxAddress, to: o.due.recipient, message: o.rendered, via: via))
        }
        let widths = (relay: max(1, services.config.smtpLanes), account: max(1, services.config.accountLanes))
        let marks = outgoing.map { AcceptanceMark(due: $0.due, rfcID: $0.message.messageID) }
        let db = services.db
        enum Event: Sendable {
            case sent(Int, String, Result<SMTPOutcome, any Error>)
            case marked
        }
        let results = await withTaskGroup(of: Event.self) { group in
            var out: [(Int, Result<SMTPOutcome, any Error>)] = []
            var unmarked: [AcceptanceMark] = []
            var marking = false
            let trouble = MarkTrouble()
            func startNext(_ via: String) {
                guard let job = queues[via]?.popFirst() else { return }
                let transport = via.isEmpty ? relay : own[via]!
                group.addTask {
                    guard ContinuousClock.now < deadline, !trouble.isSet else { return .sent(job.index, job.via, .failure(NotStarted())) }
                    do {
                        return .sent(
                            job.index, job.via,
                            .success(try await transport.send(envelopeFrom: job.from, recipients: [job.to], message: job.message)))
                    } catch { return .sent(job.index, job.via, .failure(error)) }
                }
            }
            for via in Array(queues.keys) {
                for _ in 0..<(via.isEmpty ? widths.relay : widths.account) { startNext(via) }
            }
            for await event in group {
                switch event {
                case .sent(let i, let via, let r):
                    out.append((i, r))
                    if case .success = r { unmarked.append(marks[i]) }
                    startNext(via)
                case .marked:
                    marking = false
                }
                if !marking && !unmarked.isEmpty {
                    let batch = unmarked
                    unmarked = []
                    marking = true
                    group.addTask {
                        await AcceptanceMark.write(batch, db: db, trouble: trouble)
                        return .marked
                    }
                }
            }
            return out
        }
        for (i, r) in results { outgoing[i].result = r }
        await recordAccountHealth(sentThroughOwn: Set(own.keys))
    }

    /// How each inbox's own account did in this batch: any message it took (or refused for its
    /// recipient alone) means it works; otherwise its last failure. A paused circuit or a message
    /// not started says nothing new.
    private func recordAccountHealth(sentThroughOwn inboxes: Set<String>) async {
        guard !inboxes.isEmpty else { return }
        var seen: [String: (org: String, inbox: String, version: Int, error: String?)] = [:]
        for o in outgoing where inboxes.contains(o.due.inboxID) && !o.due.acceptedEarlier {
            let d = o.due
            switch o.result {
            case .success, .failure(SMTPError.permanent):
                seen[d.inboxID] = (d.org, d.inboxID, d.smtpVersion, nil)
            case .failure(SMTPError.paused), .failure(is NotStarted):
                continue
            case .failure(let error):
                if seen[d.inboxID] == nil || seen[d.inboxID]?.error != nil { seen[d.inboxID] = (d.org, d.inboxID, d.smtpVersion, "\(error)") }
            }
        }
        // Only a status: the batch's outcomes must not wait on it or fail with it.
        do { try await InboxStore.recordConnections(Array(seen.values), now: now, db: services.db) } catch {
            logger.warning("could not record inbox connection status", metadata: ["error": "\(error)"])
        }
    }

    package func record(_ conn: StoreConnection) async throws {
        var sent: [Outgoing] = []
        var transient: [(Outgoing, String)] = []
        var permanent: [(Outgoing, String)] = []
        var rejected: [(Outgoing, String)] = []
        var paused: [(DueStep, Date)] = []
        for o in outgoing {
            switch o.result {
            case .success: sent.append(o)
            case .failure(SMTPError.permanent(let code, let message)): permanent.append((o, "\(code.map(String.init) ?? "5xx") \(message)"))
            case .failure(SMTPError.rejected(let code, let message)): rejected.append((o, "\(code.map(String.init) ?? "5xx") \(message)"))
            case .failure(SMTPError.paused(let until)): paused.append((o.due, until))  // not tried: due again when sending resumes
            case .failure(is NotStarted): continue  // still due; the next batch takes it
            case .failure(let error): transient.append((o, "\(error)"))
            }
        }
        for (label, n) in [
            ("sent", sent.count), ("transient_failure", transient.count), ("hard_bounce", permanent.count), ("smtp_rejected", rejected.count),
            ("smtp_paused", paused.count), ("reminder", reminders.count), ("suppressed", suppressed.count), ("deferred", deferred.count),
            ("over_org_quota", overQuota), ("over_token_cap", overTokenCap), ("policy_blocked", policyBlocked.count),
            ("drafted", newDrafts.count), ("draft_expired", expiredDrafts.count),
        ] where n > 0 {
            Counter(label: "nudge_dispatch_steps_total", dimensions: [("outcome", label)]).increment(by: n)
        }
        if let until = paused.first?.1 {
            logger.warning("sending paused after a burst of SMTP server errors", metadata: ["until": "\(until)", "steps": "\(paused.count)"])
        }
        let recorder = BatchRecorder(now: now, conn: conn, logger: logger)
        // Before the sends: completing an enrollment voids a draft still pending.
        try await DraftStore.expire(expiredDrafts, now: now, conn, logger: logger)
        try await recorder.recordSent(sent)
        try await counts?.release(sent: sent.map(\.due).filter { !$0.acceptedEarlier }, now: now, conn, logger: logger)
        try await recorder.recordReminders(reminders)
        try await recorder.recordDeferred(deferred)
        for (o, error) in transient { try await recorder.recordTransient(o.due, rfcID: o.message.messageID, error: error) }
        for (o, error) in permanent { try await recorder.recordHardBounce(o.due, rfcID: o.message.messageID, error: error) }
        for (o, error) in rejected { try await recorder.recordRejected(o.due, rfcID: o.message.messageID, error: error) }
        try await recorder.recordDeferred(paused)
        try await DraftStore.create(newDrafts, now: now, conn, logger: logger)
        if !skippedByExpiry.isEmpty {
            try await EnrollmentStore.advance(skippedByExpiry, threadIDs: skippedByExpiry.map { $0.threadID ?? "" }, now: now, conn, logger: logger)
        }
        // Each inbox's last 100 outcomes, for its automatic pause.
        var outcomes: [String: (org: String, inbox: String, ok: Int, bounced: Int)] = [:]
        for o in sent { outcomes[o.due.inboxID, default: (o.due.org, o.due.inboxID, 0, 0)].ok += 1 }
        for (o, _) in permanent { outcomes[o.due.inboxID, default: (o.due.org, o.due.inboxID, 0, 0)].bounced += 1 }
        try await InboxStore.recordOutcomes(Array(outcomes.values), now: now, conn, logger: logger)
        // One statement per organization, not per enrollment.
        for (org, steps) in Dictionary(grouping: suppressed, by: \.org) {
            _ = try await EnrollmentStore.finish(
                org: org, enrollmentIDs: steps.map(\.enrollmentID), state: .exited, reason: .suppressed,
                detail: "the address is on the suppression list", now: now, conn, logger: logger)
        }
        for (d, rule) in policyBlocked {
            _ = try await EnrollmentStore.finish(
                org: d.org, enrollmentIDs: [d.enrollmentID], state: .exited, reason: .policy_blocked,
                detail: "the recipient's domain is refused by the send policy (send_policy.\(rule))", now: now, conn, logger: logger)
        }
        for (d, why) in broken {
            _ = try await EnrollmentStore.finish(
                org: d.org, enrollmentIDs: [d.enrollmentID], state: .failed, reason: nil, detail: why, now: now, conn, logger: logger)
        }
    }
}
