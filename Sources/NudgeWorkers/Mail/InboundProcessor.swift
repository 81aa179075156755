import Crypto
import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeMIME
import NudgeStore

public struct InboundResult: Codable, Sendable {
    public let message_id: String
    public let thread_id: String
    public let classification: InboundClass
    public let enrollments: [String]
}

/// Stores one raw inbound message in the inbox's history and acts on it, in one transaction:
/// a human reply stops `exit_on_reply` enrollments, messages from the contact are queued for the
/// exit-condition judge (holding its sends), bounces and complaints suppress the address.
package struct InboundProcessor {
    package let db: Database
    package let clock: any NudgeClock
    /// An LLM is configured: replies the rules cannot label with confidence are queued for its
    /// second opinion (`IntentReviewer`).
    package var reviewIntents = false
    package var logger: Logger { db.logger }

    /// nil when the inbox does not exist; `replayed` when this Message-ID was already received.
    package func process(org: String, inboxID: String, raw: [UInt8]) async throws -> (InboundResult, replayed: Bool)? {
        let parsed = InboundMessage.analyze(raw)
        // A message without a Message-ID gets one derived from its bytes, so webhook retries still dedupe.
        let rfcID =
            parsed.messageID.flatMap { $0.isEmpty ? nil : $0.storedMessageID }
            ?? "missing-\(SHA256.hash(data: Data(raw)).prefix(16).map { String(format: "%02x", $0) }.joined())@nudge.invalid"
        let now = clock.now()
        let sender = (parsed.from?.address ?? "").withoutNUL
        var found = parsed.references + parsed.inReplyTo
        if let original = parsed.bounce?.originalMessageID ?? parsed.complaint?.originalMessageID { found.append(original) }
        let refs = found.map(\.storedMessageID)
        // The same message posted twice at once: the second waits on the first's unique index
        // entry, fails, and on its rerun finds the first's answer.
        let result: (InboundResult, Bool)? = try await db.tenant(org, racesRetried: 1) { conn in
            guard
                let known = try await InboundLookup.run(
                    org: org, inboxID: inboxID, rfcID: rfcID, senderKey: Mailbox.key(sender), refs: refs, conn, logger: logger)
            else { return nil }
            if let previous = known.previous {
                let ids = try JSONCoding.decoder.decode([String].self, from: Data(previous.enrollments.utf8))
                return (
                    InboundResult(
                        message_id: previous.id, thread_id: previous.threadID,
                        classification: try InboundClass.stored(previous.classification, column: "messages.classification"), enrollments: ids),
                    true
                )
            }
            return (
                try await store(parsed, raw: raw, rfcID: rfcID, sender: sender, refs: refs, known: known, org: org, inboxID: inboxID, now: now, conn),
                false
            )
        }
        if let (r, replayed) = result, !replayed {
            Counter(label: "nudge_inbound_messages_total", dimensions: [("classification", r.classification.rawValue)]).increment()
        }
        return result
    }

    /// Who may be suppressed by a bounce or complaint. Anyone can write a report naming any
    /// address, so a report acts only on an address Nudge mailed from this inbox: the message it
    /// names by Message-ID (in the report, its returned headers or its references) went to that
    /// address, or the inbox sent to that exact address within `window`. Anything else is kept
    /// and announced with `matched: false`, and changes nothing.
    package enum ReportMatch {
        /// Long enough for late bounces (MTAs retry for up to 5 days) and feedback loops, which
        /// report days or weeks after delivery; short enough that an address mailed once long
        /// ago cannot be suppressed by anyone who learns of it.
        package static let window: TimeInterval = 30 * 86_400

        /// A real report names a few recipients; a crafted one may name thousands, each a probe.
        package static let maxAddresses = 100

        /// The valid address keys among `named` (the first `maxAddresses`), and which of them
        /// Nudge mailed.
        package static func run(
            named: [String], refs: [String], org: String, inboxID: String, now: Date,
            _ conn: StoreConnection, logger: Logger
        ) async throws -> (keys: [String], matched: Set<String>) {
            var seen = Set<String>()
            let keys = Array(named.map(Mailbox.key).filter { Mailbox.validate($0).isSuccess && seen.insert($0).inserted }.prefix(maxAddresses))
            let matched = try await HistoryStore.sentTo(
                org: org, inboxID: inboxID, addresses: keys, ids: refs,
                since: now.addingTimeInterval(-window), conn, logger: logger)
            return (keys, matched)
        }
    }

    private func store(
        _ m: InboundMessage, raw: [UInt8], rfcID: String, sender: String, refs: [String], known: InboundLookup, org: String, inboxID: String,
        now: Date, _ conn: StoreConnection
    ) async throws -> InboundResult {
        let senderKey = Mailbox.key(sender)
        let contactID = known.contactID  // none for an empty sender
        // Thread: by references (any stored message of the inbox), a bounce by its original
        // message, else by sender and normalised subject, else a new thread.
        let byRef = known.byRef
        let subjectKey = ThreadKeys.subjectKey(m.subject).withoutNUL
        var threadID = byRef?.threadID
        if threadID == nil && !subjectKey.isEmpty && !sender.isEmpty {
            threadID = try await HistoryStore.thread(
                org: org, inboxID: inboxID, subjectKey: subjectKey, sender: sender, senderKey: senderKey, conn, logger: logger)
        }
        let newThread = threadID == nil
        let thread = threadID ?? ID.make(.thr)
        let classification = m.classification
        var changed: [String] = []
        var events: [PendingEvent] = []

        // The message row is written after the changes it causes, with their record in its
        // details (no second write); only the judgements, which reference it, come after it.
        let messageID = ID.make(.msg)
        var judge: [ReplyTarget] = []
        // Addresses a bounce or complaint names that this inbox mailed (ReportMatch).
        var matched: Set<String> = []

        // Reply intelligence reads replies only (README, "Reply intelligence").
        let analysis =
            classification == .humanReply || classification == .autoReply
            ? ReplyAnalysis.analyze(m, timeZone: TimeZone(identifier: known.timeZone) ?? .gmt) : nil
        var facts = analysis.map(ReplyFacts.init)
        // Only a known contact's replies: anyone can write to an inbox, and each review is a model call.
        if reviewIntents, classification == .humanReply, contactID != nil, let f = facts, IntentReviewer.wanted(f) { facts?.reviewAt = now }

        switch m.classification {
        case .humanReply, .autoReply, .other:
            // "Please remove me" in words: suppressed like a one-click unsubscribe, before the
            // reply's own stop so the enrollments end as `unsubscribed`. Only from a contact or
            // in reply to this inbox's mail, as reply stops are. An absence or hand-over notice
            // that asks it is the mailbox owner's own standing answer, so it suppresses too.
            if analysis?.unsubscribeRequested == true, !sender.isEmpty, contactID != nil || byRef != nil {
                changed += try await unsubscribe(org: org, address: sender, contactID: contactID, now: now, events: &events, conn)
            }
            // A reply from the contact, or any reply in a thread an enrollment writes into.
            let targets = try await EnrollmentStore.replyTargets(
                EnrollmentStore.ReplyTargets(
                    org: org, contactID: contactID, threadID: thread, inboxID: inboxID, stop: m.classification == .humanReply,
                    detail: "reply \(messageID)", now: now), conn, logger: logger)
            for t in targets where t.stopped {
                changed.append(t.id)
                events.append(
                    EnrollmentStore.finishedEvent(
                        org: org, id: t.id, contactID: t.contactID, state: .exited, reason: .replied, detail: "reply \(messageID)"))
            }
            // A person's reply stops their colleagues' enrollments in sequences that ask for it.
            // (Only when one of the replier's sequences asks: most replies skip the statement.)
            let stopping = targets.filter(\.stopsCompany).map(\.id)
            if classification == .humanReply, !stopping.isEmpty, let domain = RegistrableDomain.of(address: sender) {
                let stopped = try await EnrollmentStore.stopCompany(
                    org: org, replied: targets.map(\.id), stopping: stopping, domain: domain, detail: "reply \(messageID) from \(domain)",
                    now: now, conn, logger: logger)
                changed += stopped.map(\.id)
                events += stopped.map(\.event)
            }
            // Exit conditions see every message from the contact, auto-replies included.
            judge = targets.filter { $0.hasPrompt && !$0.stopped }
            if classification == .autoReply, analysis?.intent.kind == .outOfOffice {
                changed += try await OutOfOfficeHolds.apply(
                    org: org, messageID: messageID, targets: targets.filter { !$0.stopped }.map(\.id),
                    returnDate: analysis?.returnDate, now: now, events: &events, conn, logger: logger)
            }
        case .bounce:
            let report = m.bounce
            var failed = (report?.recipients ?? []).filter(\.permanent).map(\.address)
            if failed.isEmpty, report?.recipients.isEmpty ?? true, report?.isPermanent ?? false, let to = byRef?.toAddresses.first { failed = [to] }
            let (keys, sent) = try await ReportMatch.run(
                named: failed + (report?.recipients ?? []).map(\.address), refs: refs,
                org: org, inboxID: inboxID, now: now, conn, logger: logger)
            matched = sent
            for address in keys where sent.contains(address) && failed.contains(where: { Mailbox.key($0) == address }) {
                let (_, _, exited) = try await SuppressionStore.suppress(
                    org: org, address: address, reason: "bounced",
                    detail: "bounce \(messageID)", now: now, conn, logger: logger)
                changed += exited
                // A hard bounce of mail this inbox sent counts toward its automatic pause.
                try await InboxStore.recordLateBounce(org: org, inbox: inboxID, now: now, conn, logger: logger)
            }
            events.append(
                PendingEvent(
                    org: org, type: .messageBounced,
                    [
                        "message_id": .string(messageID), "thread_id": .string(thread), "permanent": .bool(!failed.isEmpty),
                        "matched": .bool(!sent.isEmpty),
                        "recipients": BouncedEvent.recipients(report?.recipients ?? []) { sent.contains(Mailbox.key($0)) },
                        "recipients_total": BouncedEvent.total(report?.recipients ?? []),
                    ]))
        case .complaint:
            var addresses = m.complaint?.complainedAddresses ?? []
            if addresses.isEmpty, let to = byRef?.toAddresses.first { addresses = [to] }
            let (keys, sent) = try await ReportMatch.run(named: addresses, refs: refs, org: org, inboxID: inboxID, now: now, conn, logger: logger)
            matched = sent
            for address in keys where sent.contains(address) {
                let (_, _, exited) = try await SuppressionStore.suppress(
                    org: org, address: address, reason: "complained",
                    detail: "complaint \(messageID)", now: now, conn, logger: logger)
                changed += exited
            }
            // A complaint about mail this inbox sent pauses it until a person resumes it.
            if !sent.isEmpty {
                _ = try await InboxStore.pause(
                    org: org, inbox: inboxID, reason: "complaint", detail: ["message_id": .string(messageID)], now: now, conn, logger: logger)
            }
            events.append(
                PendingEvent(
                    org: org, type: .messageComplained,
                    [
                        "message_id": .string(messageID), "thread_id": .string(thread), "feedback_type": .str(m.complaint?.feedbackType),
                        "matched": .bool(!sent.isEmpty),
                        "recipients": .array(addresses.map { .object(["email": .string($0), "matched": .bool(sent.contains(Mailbox.key($0)))]) }),
                    ]))
        }
        var received: [String: JSONValue] = [
            "message_id": .string(messageID), "thread_id": .string(thread), "classification": .string(classification.rawValue),
            "contact_id": .str(contactID), "enrollments": .array(changed.map(JSONValue.string)),
        ]
        received.merge(facts?.eventFields ?? [:]) { a, _ in a }
        events.append(PendingEvent(org: org, type: .messageReceived, received))
        var message = NewMessage(
            org: org, inboxID: inboxID, threadID: thread, direction: .inbound, rfc822MessageID: rfcID,
            inReplyTo: m.inReplyTo.first?.storedMessageID, references: m.references.map(\.storedMessageID), from: sender,
            fromName: m.from?.name, to: m.to.map(\.address), cc: m.cc.map(\.address), subject: m.subject,
            text: m.text, replyText: analysis?.body ?? m.replyText, classification: classification, raw: raw, contactID: contactID,
            enrollmentID: byRef?.enrollmentID, stepIndex: nil, details: InboundDetails.json(m, changed: changed, matched: matched), at: now)
        message.id = messageID
        message.reply = facts
        try await HistoryStore.append(
            [message], newThreads: newThread ? [.init(org: org, id: thread, inboxID: inboxID, contactID: contactID, subject: m.subject)] : [],
            events: events, now: now, conn, logger: logger)
        // `reply_intent` workflow rules, after the message they name is stored.
        if known.hasIntentRules, let analysis, let facts, let contactID, !sender.isEmpty {
            _ = try await WorkflowRuleStore(db: db, enrollments: EnrollmentStore(db: db)).fire(
                org: org,
                .init(
                    inboxID: inboxID, intent: facts.intent, contactID: contactID, sender: sender, messageID: messageID, threadID: thread,
                    referrals: Referred.enrollable(analysis.intent.referrals)), now: now, conn)
        }
        if !judge.isEmpty {
            try await JudgementStore.queue(org: org, messageID: messageID, judge, now: now, conn, logger: logger)
            try await EnrollmentStore.hold(org: org, contactIDs: Array(Set(judge.map(\.contactID))), conn, logger: logger)
        }
        return InboundResult(message_id: messageID, thread_id: thread, classification: classification, enrollments: changed)
    }

    /// Suppresses `address` as `unsubscribed` ("asked in reply"), which exits its enrollments,
    /// and exits every other running enrollment of the contact; returns the enrollments ended.
    private func unsubscribe(
        org: String, address: String, contactID: String?, now: Date, events: inout [PendingEvent], _ conn: StoreConnection
    ) async throws -> [String] {
        let detail = "asked in reply"
        var ended = try await SuppressionStore.suppress(
            org: org, address: address, reason: "unsubscribed", detail: detail, now: now, conn, logger: logger
        )
        .exited
        if let contactID {
            ended += try await EnrollmentStore.finish(
                org: org, contactID: contactID, state: .exited, reason: .unsubscribed, detail: detail, now: now, events: &events, conn, logger: logger
            )
        }
        return ended
    }

    package init(db: Database, clock: any NudgeClock, reviewIntents: Bool = false) {
        self.db = db
        self.clock = clock
        self.reviewIntents = reviewIntents
    }
}

extension String {
    /// A received Message-ID as stored and matched: without NUL, at most 900 UTF-8 bytes (whole
    /// scalars). An index entry may not exceed about 2,700 bytes, and 900 characters of CJK text
    /// or emoji went past it (a 500 instead of storing the message).
    package var storedMessageID: String {
        let clean = withoutNUL
        guard clean.utf8.count > 900 else { return clean }
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in clean.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > 900 { break }
            out.append(scalar)
        }
        return String(out)
    }
}

extension Result {
    package var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

/// What the message's `details` keep: the facts found in bounces and complaints, and the
/// enrollments the message changed (so a retried webhook gets the same answer).
package enum InboundDetails {
    /// `matched`: the address keys the report named that this inbox mailed (see ReportMatch).
    package static func json(_ m: InboundMessage, changed: [String], matched: Set<String> = []) -> String {
        var o: [String: JSONValue] = ["enrollments": .array(changed.map(JSONValue.string))]
        if let b = m.bounce {
            o["bounce"] = .object([
                "original_message_id": .str(b.originalMessageID), "matched": .bool(!matched.isEmpty),
                "recipients": .array(
                    b.recipients.map {
                        .object([
                            "email": .string($0.address), "status": .str($0.status), "action": .str($0.action),
                            "diagnostic": .str($0.diagnostic.map { String($0.prefix(500)) }), "permanent": .bool($0.permanent),
                            "matched": .bool(matched.contains(Mailbox.key($0.address))),
                        ])
                    }),
            ])
        }
        if let c = m.complaint {
            o["complaint"] = .object([
                "feedback_type": .str(c.feedbackType), "addresses": .array(c.complainedAddresses.map(JSONValue.string)),
                "original_message_id": .str(c.originalMessageID), "matched": .bool(!matched.isEmpty),
            ])
        }
        return JSONValue.object(o).serialized
    }
}
