import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct EnrollmentsAPI {
    package let store: EnrollmentStore
    package let contacts: ContactStore
    package let sequences: SequenceStore
    package let db: Database
    package let clock: any NudgeClock
    package let llmConfigured: Bool

    package struct RecipientInput: Decodable {
        let contact_id: String?
        let email: String?
    }
    package struct SourceInput: Decodable {
        package let type: String?
        package let message_id: String?
        package let thread_id: String?
        package let subject: String?
        package let from_address: String?
    }
    package struct Body: Decodable {
        package let inbox_id: String?
        package let sequence_id: String?
        package let recipient: RecipientInput?
        package let source: SourceInput?
        package let exit_on_reply: Bool?
        package let emails: [StepInput]?
        package let exit_condition_prompt: String?
    }
    package struct ActionBody: Decodable { let action: String? }

    package func register(_ r: ScopedRouter) {
        r.on(.post, "/v1/sequences/enrollments", [.sequencesWrite, .emailSend]) { req, ctx in
            let b = try await JSONCoding.decode(Body.self, from: req)
            let (record, created) = try await create(b, ctx)
            return try JSONCoding.response(record, status: created ? .created : .ok)
        }
        r.get("/v1/sequences/enrollments", .sequencesRead) { req, ctx in
            let state = try req.query("state").map { raw in
                guard let s = EnrollmentState(rawValue: raw) else {
                    throw NudgeError.validation("state", "state must be one of \(EnrollmentState.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                return s
            }
            let filter = EnrollmentStore.Filter(
                state: state, contactID: try req.query("contact_id"), sequenceID: try req.query("sequence_id"), inboxID: try req.query("inbox_id"))
            return try await store.list(org: ctx.org, filter: filter, page: PageRequest(req)).response()
        }
        r.get("/v1/sequences/enrollments/:id", .sequencesRead) { _, ctx in
            guard let e = try await store.get(org: ctx.org, id: try ctx.id("id", .enr, what: "enrollment")) else {
                throw NudgeError.notFound("enrollment")
            }
            return try JSONCoding.response(e)
        }
        r.patch("/v1/sequences/enrollments/:id", .sequencesWrite) { req, ctx in
            let id = try ctx.id("id", .enr, what: "enrollment")
            let b = try await JSONCoding.decode(ActionBody.self, from: req)
            guard let raw = b.action else { throw NudgeError.validation("action", "action is required: cancel, pause or resume.") }
            guard let action = EnrollmentStore.Action(rawValue: raw) else {
                throw NudgeError.validation("action", "action must be cancel, pause or resume.")
            }
            guard let e = try await store.act(org: ctx.org, id: id, action: action, tokenID: ctx.token.tokenID, now: clock.now()) else {
                throw NudgeError.notFound("enrollment")
            }
            return try JSONCoding.response(e)
        }
    }

    package func create(_ b: Body, _ ctx: TenantContext) async throws -> (EnrollmentRecord, Bool) {
        let org = ctx.org
        let now = clock.now()
        if b.sequence_id != nil && b.emails != nil {
            throw NudgeError.validation("emails", "Give sequence_id (a saved sequence) or emails (ad-hoc steps), not both.")
        }
        guard b.sequence_id != nil || b.emails != nil else {
            throw NudgeError.validation("sequence_id", "Give sequence_id (a saved sequence) or emails (ad-hoc steps).")
        }
        guard let recipient = b.recipient, recipient.contact_id != nil || recipient.email != nil else {
            throw NudgeError.validation("recipient", "recipient needs contact_id or email.")
        }
        let adhoc = try b.emails.map { try StepValidation.validate($0, param: "emails", llmConfigured: llmConfigured) }
        let exitPrompt = try StepValidation.exitCondition(b.exit_condition_prompt, llmConfigured: llmConfigured)
        if let s = b.source?.type, s != "email" { throw NudgeError.validation("source.type", "source.type must be \"email\".") }
        let recipientEmail = try recipient.email.map { try Mailbox.require($0, "recipient.email") }

        // Two requests for one new address race on its primary key: the loser runs again and
        // then finds the winner's contact. A cached sequence that turns out edited or archived
        // rolls the attempt back and runs it again from a fresh read.
        let input = EnrollInput(body: b, adhoc: adhoc, exitPrompt: exitPrompt, recipientEmail: recipientEmail)
        do {
            return try await db.tenant(org, racesRetried: 5) { try await enroll(input, fresh: false, ctx, now: now, $0) }
        } catch is SequenceCache.Changed {
            if let sid = b.sequence_id { sequences.cache.drop(org: org, id: sid) }
            return try await db.tenant(org, racesRetried: 5) { try await enroll(input, fresh: true, ctx, now: now, $0) }
        }
    }

    /// A request body after the checks that need no database.
    package struct EnrollInput {
        package let body: Body
        package let adhoc: [Step]?
        package let exitPrompt: String?
        package let recipientEmail: String?
    }

    package func enroll(_ input: EnrollInput, fresh: Bool, _ ctx: TenantContext, now: Date, _ conn: StoreConnection) async throws -> (
        EnrollmentRecord, Bool
    ) {
        let (b, org) = (input.body, ctx.org)
        // The sequence, its definition and the inbox to send from.
        var definition: SequenceDefinition
        var sequence: SequenceRecord?
        var cachedVersion: Int?
        if let sid = b.sequence_id {
            guard ID.isValid(sid, .seq), let (s, cached) = try await sequences.forEnrollment(org: org, id: sid, fresh: fresh, conn) else {
                throw NudgeError.validation("sequence_id", "No sequence \(sid.prefix(64)) in this organization.")
            }
            if s.archived_at != nil { throw NudgeError.validation("sequence_id", "Sequence \(sid) is archived; it takes no new enrollments.") }
            definition = SequenceStore.definition(s)
            if !llmConfigured && (definition.exit_condition_prompt != nil || definition.steps.contains { $0.prompt != nil }) {
                throw LLMRequirement.error("sequence_id")
            }
            sequence = s
            cachedVersion = cached
        } else {
            definition = SequenceDefinition(steps: input.adhoc!, exit_on_reply: true, exit_condition_prompt: nil)
        }
        if let e = b.exit_on_reply { definition.exit_on_reply = e }
        if let exitPrompt = input.exitPrompt { definition.exit_condition_prompt = exitPrompt }

        guard let inboxID = b.inbox_id ?? sequence?.sender_inbox_id else {
            throw NudgeError.validation("inbox_id", "inbox_id is required for an ad-hoc enrollment.")
        }
        // The sequence's sender inbox exists (a foreign key keeps it); only another one is looked up.
        if inboxID != sequence?.sender_inbox_id, try await !InboxStore.exists(org: org, id: inboxID, conn, logger: db.logger) {
            throw NudgeError.validation("inbox_id", "No inbox \(inboxID.prefix(64)) in this organization.")
        }

        let (source, threadID) = try await resolveSource(b.source, inboxID: inboxID, org: org, conn)
        var e = EnrollmentStore.NewEnrollment(
            inboxID: inboxID, contactID: "", recipient: "", sequenceID: sequence?.id, sequenceVersion: sequence?.version,
            definition: definition, source: source, threadID: threadID, trigger: "api", ruleID: nil,
            tokenID: ctx.token.tokenID, cachedVersion: cachedVersion)
        e.policyVersion = ctx.token.policyVersion
        if let cid = b.recipient?.contact_id {
            (e.contactID, e.recipient) = try await resolveContact(cid, email: input.recipientEmail, org: org, conn)
            try Self.checkRecipient(e.recipient, ctx.token.policy)
        } else if let email = input.recipientEmail {
            try Self.checkRecipient(email, ctx.token.policy)
            // By address: a new address is created with the enrollment in one statement.
            let contact = Self.newContact(email, inboxID: inboxID)
            e.contactID = ID.make(.ctc)
            e.recipient = email
            switch try await store.enrollNewContact(e, contact: contact, org: org, now: now, conn) {
            case .enrolled(let record):
                try await countEnrollment(ctx, now: now, conn)
                return (record, true)
            case .known(let found):
                e.contactID = try await contacts.settle(org: org, contact, found: found, now: now, tokenID: ctx.token.tokenID, conn).0
            }
        }
        let (record, created) = try await store.enroll(e, org: org, now: now, conn)
        if created { try await countEnrollment(ctx, now: now, conn) }
        return (record, created)
    }

    /// The token's recipient domains (403 naming the rule).
    package static func checkRecipient(_ address: String, _ policy: SendPolicy) throws {
        guard let rule = policy.refusal(of: address) else { return }
        let domain = SendPolicy.domain(of: address)
        throw NudgeError(
            .forbidden,
            rule == "blocked_domains"
                ? "This token's send policy blocks the recipient domain \(domain.prefix(253)) (send_policy.blocked_domains)."
                : "This token's send policy allows only its listed recipient domains; \(domain.prefix(253)) is not one (send_policy.allowed_domains).",
            field: "send_policy.\(rule)")
    }

    /// Counts a new enrollment against the token's daily cap, in the enrollment's transaction: a
    /// refusal rolls the enrollment back, and the counter's row lock makes racing requests take
    /// turns, so the cap holds under concurrency.
    func countEnrollment(_ ctx: TenantContext, now: Date, _ conn: StoreConnection) async throws {
        guard let cap = ctx.token.policy.daily_enrollment_cap else { return }
        let day = ScheduleMath.localDay(now, .gmt)
        guard try await DailyCounts.countEnrollment(org: ctx.org, tokenID: ctx.token.tokenID, day: day, cap: cap, conn, logger: db.logger) else {
            throw NudgeError(
                .forbidden, "This token's send policy allows \(cap) new enrollments per UTC day, all made today (send_policy.daily_enrollment_cap).",
                field: "send_policy.daily_enrollment_cap")
        }
    }

    /// The contact and address for a recipient (the preview's; it rolls back the contact an
    /// unknown address creates).
    package func resolveRecipient(_ r: RecipientInput, email: String?, inboxID: String, _ ctx: TenantContext, _ conn: StoreConnection) async throws
        -> (String, String)
    {
        if let cid = r.contact_id { return try await resolveContact(cid, email: email, org: ctx.org, conn) }
        let input = Self.newContact(email!, inboxID: inboxID)
        let (id, _) = try await contacts.upsertID(org: ctx.org, input, now: clock.now(), tokenID: ctx.token.tokenID, conn)
        return (id, email!)
    }

    /// What an enrollment by address writes for a new contact: the address and the inbox.
    package static func newContact(_ email: String, inboxID: String) -> ContactInput {
        ContactInput(
            inboxID: inboxID, fullName: nil, emails: [ContactEmail(label: nil, address: email)], notes: nil, labels: nil, fields: nil, timezone: nil)
    }

    package func resolveContact(_ cid: String, email: String?, org: String, _ conn: StoreConnection) async throws -> (String, String) {
        guard ID.isValid(cid, .ctc), let c = try await contacts.get(org: org, id: cid, conn) else {
            throw NudgeError.validation("recipient.contact_id", "No contact \(cid.prefix(64)) in this organization.")
        }
        if let email {
            guard c.emails.contains(where: { Mailbox.key($0.address) == Mailbox.key(email) }) else {
                throw NudgeError.validation("recipient.email", "\(email) is not an address of contact \(cid).")
            }
            return (c.id, email)
        }
        guard let first = c.emails.first else { throw NudgeError.validation("recipient.contact_id", "Contact \(cid) has no email address.") }
        return (c.id, first.address)
    }

    /// The source must be a message and/or thread of this inbox; follow-ups are then sent as
    /// replies in that thread. Subject and sender default to the stored message's.
    package func resolveSource(_ s: SourceInput?, inboxID: String, org: String, _ conn: StoreConnection) async throws -> (EnrollmentSource?, String?)
    {
        guard let s else { return (nil, nil) }
        var source = EnrollmentSource(
            type: "email", message_id: s.message_id, thread_id: s.thread_id, subject: s.subject, from_address: s.from_address)
        if let subject = s.subject { try Validate.text(subject, "source.subject", max: 998, singleLine: true) }
        if let from = s.from_address { source.from_address = try Mailbox.require(from, "source.from_address") }
        var threadID = s.thread_id
        if let mid = s.message_id {
            let found = try await HistoryStore.message(org: org, id: mid, inboxID: inboxID, conn, logger: db.logger)
            guard ID.isValid(mid, .msg), let (thread, subject, from) = found else {
                throw NudgeError.validation("source.message_id", "No message \(mid.prefix(64)) in inbox \(inboxID).")
            }
            if let t = s.thread_id, t != thread {
                throw NudgeError.validation("source.thread_id", "Message \(mid) is not in thread \(t).")
            }
            threadID = thread
            if source.subject == nil { source.subject = subject }
            if source.from_address == nil && !from.isEmpty { source.from_address = from }
        } else if let tid = s.thread_id {
            let found = try await HistoryStore.threadSubject(org: org, id: tid, inboxID: inboxID, conn, logger: db.logger)
            guard ID.isValid(tid, .thr), let subject = found else {
                throw NudgeError.validation("source.thread_id", "No thread \(tid.prefix(64)) in inbox \(inboxID).")
            }
            if source.subject == nil { source.subject = subject }
        }
        source.thread_id = threadID
        return (source, threadID)
    }

    package init(store: EnrollmentStore, contacts: ContactStore, sequences: SequenceStore, db: Database, clock: any NudgeClock, llmConfigured: Bool) {
        self.store = store
        self.contacts = contacts
        self.sequences = sequences
        self.db = db
        self.clock = clock
        self.llmConfigured = llmConfigured
    }
}
