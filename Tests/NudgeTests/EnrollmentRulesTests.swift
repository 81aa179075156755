import Foundation
import HTTPTypes
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// Sequences (validation, versions, archiving), enrollments (concurrency, state changes, audit),
/// workflow rules and the events feed.
@Suite struct EnrollmentRulesTests {
    static let day: Double = 86_400

    /// Inbox, a saved two-step sequence (BriefBodies) and a contact.
    static func basics(_ h: Harness) async throws -> (inbox: String, sequence: String, contact: String) {
        let inbox = try await h.inbox()
        let seq = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox))
        try #require(seq.status == 201, "\(seq.body)")
        let contact = try await h.contact(Fixture.address("enr"), inbox: inbox)
        try #require(contact.status == 201, "\(contact.body)")
        return (inbox, seq.id, contact.id)
    }

    static func enroll(_ h: Harness, inbox: String, sequence: String, contact: String, token: String? = nil) async throws -> Reply {
        try await h.call(
            .post, "/v1/sequences/enrollments/", token: token,
            #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(sequence)", "recipient": {"contact_id": "\#(contact)"}}"#)
    }

    static func act(_ h: Harness, _ enrollment: String, _ action: String, token: String? = nil) async throws -> Reply {
        try await h.call(.patch, "/v1/sequences/enrollments/\(enrollment)/", token: token, #"{"action": "\#(action)"}"#)
    }

    // MARK: - Sequences

    @Test func sequenceValidationNamesTheField() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let ok = Fixture.step(days: 1, subject: "Hello")
            let fiftyOne = "[" + Array(repeating: ok, count: 51).joined(separator: ", ") + "]"
            let cases: [(what: String, body: String, param: String, mentions: String?)] = [
                (
                    "body and prompt", Fixture.sequence(inbox, emails: #"[{"delay_days": 1, "subject": "S", "body": "B", "prompt": "Write one"}]"#),
                    "emails[0].prompt", nil
                ),
                ("neither body nor prompt", Fixture.sequence(inbox, emails: #"[{"delay_days": 1, "subject": "S"}]"#), "emails[0].body", nil),
                (
                    "negative delay", Fixture.sequence(inbox, emails: #"[{"delay_days": -1, "subject": "S", "body": "B"}]"#), "emails[0].delay_days",
                    nil
                ),
                (
                    "unknown variable", Fixture.sequence(inbox, emails: #"[{"delay_days": 1, "subject": "S", "body": "Hi {{contact.nickname}}"}]"#),
                    "emails[0].body", "contact.nickname"
                ),
                (
                    "unknown variable in subject",
                    Fixture.sequence(inbox, emails: #"[{"delay_days": 1, "subject": "Re {{deal.name}}", "body": "B"}]"#), "emails[0].subject",
                    "deal.name"
                ),
                ("second step", Fixture.sequence(inbox, emails: "[\(ok), {\"delay_days\": 2, \"subject\": \"S\"}]"), "emails[1].body", nil),
                ("51 steps", Fixture.sequence(inbox, emails: fiftyOne), "emails", nil),
                ("no steps", Fixture.sequence(inbox, emails: "[]"), "emails", nil),
                ("unknown sender inbox", Fixture.sequence(Fixture.unknownID(.inb), emails: "[\(ok)]"), "sender_inbox_id", nil),
                ("malformed sender inbox", Fixture.sequence("inbox-1", emails: "[\(ok)]"), "sender_inbox_id", nil),
                (
                    "delay not a number", Fixture.sequence(inbox, emails: #"[{"delay_days": "two", "subject": "S", "body": "B"}]"#),
                    "emails[0].delay_days", nil
                ),
            ]
            for c in cases {
                let r = try await h.call(.post, "/v1/sequences/", c.body)
                #expect(r.status == 422, "\(c.what): \(r.status) \(r.body)")
                #expect(r.errorParam == c.param, "\(c.what): \(r.body)")
                if let m = c.mentions { #expect(r.errorMessage.contains(m), "\(c.what): \(r.errorMessage)") }
            }
            #expect(try await h.call(.get, "/v1/sequences/").data.isEmpty, "a refused sequence was saved")
            let fifty = "[" + Array(repeating: ok, count: 50).joined(separator: ", ") + "]"
            let valid = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: fifty))
            #expect(valid.status == 201, "\(valid.body)")
            #expect(valid["version"]?.number == 1)
            let known = try await h.call(
                .post, "/v1/sequences/",
                Fixture.sequence(
                    inbox,
                    emails:
                        #"[{"delay_days": 1, "subject": "Re: {{source.subject}}", "body": "Hi {{contact.first_name}} at {{contact.fields.company}}, {{inbox.display_name}}"}]"#
                ))
            #expect(known.status == 201, "\(known.body)")
        }
    }

    @Test func unknownSourceMessageIsRefused() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let body =
                #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(seq)", "recipient": {"contact_id": "\#(contact)"}, "source": {"type": "email", "message_id": "\#(Fixture.unknownID(.msg))"}}"#
            let r = try await h.call(.post, "/v1/sequences/enrollments/", body)
            #expect(r.status == 422, "\(r.body)")
            #expect(r.errorParam == "source.message_id")

            // A real message of another inbox is not a source for this one.
            let otherInbox = try await h.inbox()
            let inbound = try await h.call(
                .post, "/v1/inboxes/\(otherInbox)/messages/inbound/",
                raw: Array(
                    "From: someone@example.com\r\nTo: other@acme.test\r\nSubject: Elsewhere\r\nMessage-ID: <src-\(Fixture.suffix())@example.com>\r\n\r\nHi\r\n"
                        .utf8))
            #expect(inbound.status == 202)
            let elsewhere = try await h.call(
                .post, "/v1/sequences/enrollments/",
                #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(seq)", "recipient": {"contact_id": "\#(contact)"}, "source": {"type": "email", "message_id": "\#(inbound["message_id"]?.string ?? "")"}}"#
            )
            #expect(elsewhere.status == 422, "\(elsewhere.body)")
            #expect(elsewhere.errorParam == "source.message_id")
            #expect(try await h.enrollments(ofContact: contact).isEmpty)
        }
    }

    @Test func sequenceEditMakesANewVersionAndRunningEnrollmentsKeepTheirs() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let first = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: contact)
            #expect(first.status == 201, "\(first.body)")
            #expect(first["sequence_version"]?.number == 1)

            let patched = try await h.call(.patch, "/v1/sequences/\(seq)/", #"{"emails": [\#(Fixture.step(days: 1, subject: "Brand new subject"))]}"#)
            #expect(patched.status == 200, "\(patched.body)")
            #expect(patched["version"]?.number == 2)
            #expect(patched["emails"]?[0]?["subject"]?.string == "Brand new subject")
            #expect(patched["name"]?.string == "Proposal follow-up")

            let kept = try await h.call(.get, "/v1/sequences/enrollments/\(first.id)/")
            #expect(kept["sequence_version"]?.number == 1)
            #expect(kept["steps"]?.items.count == 2)
            #expect(kept["steps"]?[0]?["subject"]?.string == "Following up on the proposal")
            #expect(kept["timeline"]?[0]?["subject"]?.string == "Following up on the proposal")

            let later = try await h.contact(Fixture.address("v2"), inbox: inbox)
            let second = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: later.id)
            #expect(second.status == 201)
            #expect(second["sequence_version"]?.number == 2)
            #expect(second["steps"]?.items.count == 1)
            #expect(second["steps"]?[0]?["subject"]?.string == "Brand new subject")

            // What is sent follows the version each enrollment started with.
            _ = try await h.advance(seconds: 2 * Self.day)
            let sentOld = try await h.call(.get, "/v1/sequences/enrollments/\(first.id)/")
            #expect(sentOld["timeline"]?[0]?["outcome"]?.string == "sent", "\(sentOld.body)")
            #expect(sentOld["timeline"]?[0]?["subject"]?.string == "Following up on the proposal")
            let sentNew = try await h.call(.get, "/v1/sequences/enrollments/\(second.id)/")
            #expect(sentNew["timeline"]?[0]?["subject"]?.string == "Brand new subject")
            #expect(sentNew["state"]?.string == "completed")
        }
    }

    @Test func archivedSequenceTakesNoNewEnrollmentsButRunningOnesContinue() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let running = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: contact)
            #expect(running.status == 201)
            let archived = try await h.call(.delete, "/v1/sequences/\(seq)/")
            #expect(archived.status == 200, "\(archived.body)")
            #expect(archived["archived_at"]?.string != nil)

            let newcomer = try await h.contact(Fixture.address("late"), inbox: inbox)
            let refused = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: newcomer.id)
            #expect(refused.status == 422, "\(refused.body)")
            #expect(refused.errorParam == "sequence_id")
            #expect(try await h.enrollments(ofContact: newcomer.id).isEmpty)

            let still = try await h.call(.get, "/v1/sequences/enrollments/\(running.id)/")
            #expect(still["state"]?.string == "active")
            _ = try await h.advance(seconds: 2 * Self.day)
            let progressed = try await h.call(.get, "/v1/sequences/enrollments/\(running.id)/")
            #expect(progressed["timeline"]?[0]?["outcome"]?.string == "sent", "running enrollments of an archived sequence go on")

            #expect(try await h.call(.get, "/v1/sequences/").data.isEmpty)
            #expect(try await h.call(.get, "/v1/sequences/?include_archived=true").data.count == 1)
            #expect(try await h.call(.get, "/v1/sequences/\(seq)/").status == 200)
            #expect(try await h.call(.patch, "/v1/sequences/\(seq)/", #"{"name": "Revived"}"#).status == 409)
            let rule = try await h.call(.post, "/v1/workflow-rules/", Self.ruleBody(inbox: inbox, label: "x", sequence: seq))
            #expect(rule.status == 422)
            #expect(rule.errorParam == "action.sequence_id")
        }
    }

    /// An enrollment takes its sequence from this process's cache and checks the version in its
    /// own insert. An edit or an archive after the cache was filled (here through the API, which
    /// leaves the cache alone, as another process's edit would) must still give the new version,
    /// or a 422, and the rolled-back attempt must leave no contact or event behind.
    @Test func enrollmentsFollowSequenceEditsPastTheCache() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox))
            #expect(seq.status == 201, "\(seq.body)")
            let byEmail = { @Sendable (address: String) async throws -> Reply in
                try await h.call(.post, "/v1/sequences/enrollments/", #"{"sequence_id": "\#(seq.id)", "recipient": {"email": "\#(address)"}}"#)
            }
            let first = try await byEmail(Fixture.address("v1"))
            #expect(first.status == 201, "\(first.body)")
            #expect(first["sequence_version"]?.number == 1)
            #expect(first["inbox_id"]?.string == inbox)
            #expect(h.services.sequences.cache.get(org: h.org, id: seq.id)?.version == 1)

            let patched = try await h.call(
                .patch, "/v1/sequences/\(seq.id)/", #"{"emails": [\#(Fixture.step(days: 1, subject: "Brand new subject"))]}"#)
            #expect(patched["version"]?.number == 2)
            #expect(h.services.sequences.cache.get(org: h.org, id: seq.id)?.version == 1, "the edit is found by the insert, not by the cache")
            let second = try await byEmail(Fixture.address("v2"))
            #expect(second.status == 201, "\(second.body)")
            #expect(second["sequence_version"]?.number == 2)
            #expect(second["steps"]?.items.count == 1)
            #expect(second["steps"]?[0]?["subject"]?.string == "Brand new subject")
            #expect(h.services.sequences.cache.get(org: h.org, id: seq.id)?.version == 2)

            // A known address with a stale cache: the existing contact, the new version.
            let knownAddress = Fixture.address("known")
            let known = try await h.contact(knownAddress, inbox: inbox, name: "Kept Name")
            let patched3 = try await h.call(.patch, "/v1/sequences/\(seq.id)/", #"{"name": "Third"}"#)
            #expect(patched3["version"]?.number == 3)
            let third = try await byEmail(knownAddress)
            #expect(third.status == 201, "\(third.body)")
            #expect(third["contact_id"]?.string == known.id)
            #expect(third["sequence_version"]?.number == 3)
            #expect(try await h.call(.get, "/v1/contacts/\(known.id)/")["full_name"]?.string == "Kept Name")
            let again = try await byEmail(knownAddress)
            #expect(again.status == 200, "\(again.body)")
            #expect(again.id == third.id)

            let archived = try await h.call(.delete, "/v1/sequences/\(seq.id)/")
            #expect(archived.status == 200)
            let late = Fixture.address("late")
            let refused = try await byEmail(late)
            #expect(refused.status == 422, "\(refused.body)")
            #expect(refused.errorParam == "sequence_id")
            #expect(h.services.sequences.cache.get(org: h.org, id: seq.id) == nil)

            #expect(try await h.call(.get, "/v1/contacts/?email=\(late)").data.isEmpty, "the rolled-back attempt made no contact")
            #expect(try await h.call(.get, "/v1/contacts/").data.count == 3)
            #expect(try await h.events("enrollment.created").count == 3)
            let versions = try await h.services.db.system { conn in
                try await conn.query(
                    "SELECT sequence_version FROM enrollments WHERE org_id = \(h.org) ORDER BY sequence_version", logger: h.services.logger
                )
                .decode(Int.self).collect()
            }
            #expect(versions == [1, 2, 3])
        }
    }

    /// The process's sequence cache is bounded in bytes, not only in entries.
    @Test func sequenceCacheIsBoundedInBytes() {
        let cache = SequenceCache(capacity: 4096, maxBytes: 3 << 20)
        let body = String(repeating: "b", count: 20_000)
        let step = Step(type: .email, delay_days: 1, subject: "s", body: body)
        func sequence(_ n: Int, steps: Int) -> SequenceRecord {
            SequenceRecord(
                id: "seq_\(n)", name: "n", sender_inbox_id: "inb_1", version: 1, exit_on_reply: true, exit_condition_prompt: nil,
                on_out_of_office: .hold, ooo_default_days: 7, stop_on_company_reply: false,
                emails: Array(repeating: step, count: steps), archived_at: nil, created_at: Date(), updated_at: Date())
        }
        for n in 0..<10 {
            cache.put(org: "org_1", sequence(n, steps: 50))  // 1 MB each
            #expect(cache.bytes <= 3 << 20)
            #expect(cache.get(org: "org_1", id: "seq_\(n)") != nil, "the latest one is kept")
        }
        cache.put(org: "org_1", sequence(99, steps: 200))  // 4 MB: more than the whole cache
        #expect(cache.get(org: "org_1", id: "seq_99") == nil)
        #expect(cache.bytes <= 3 << 20)
        cache.put(org: "org_1", sequence(9, steps: 1))  // replacing an entry gives its bytes back
        #expect(cache.bytes < 1 << 20)
    }

    // MARK: - Enrollments

    @Test func concurrentDoubleEnrollmentMakesOne() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let replies = try await h.parallel(10) { _ in try await Self.enroll(h, inbox: inbox, sequence: seq, contact: contact) }
            for r in replies { #expect(r.status == 201 || r.status == 200, "\(r.status) \(r.body)") }
            #expect(replies.filter { $0.status == 201 }.count == 1)
            #expect(Set(replies.map(\.id)).count == 1)
            #expect(try await h.enrollments(ofContact: contact).count == 1)
            #expect(try await h.events("enrollment.created").count == 1)
        }
    }

    /// Enrolling one new address into several sequences at once: the requests race on the
    /// address's primary key; each loser retries and joins the winner's contact, none fails.
    @Test func concurrentEnrollmentsOfOneNewAddressShareOneContact() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            var sequences: [String] = []
            for _ in 0..<4 {
                let s = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox))
                #expect(s.status == 201, "\(s.body)")
                sequences.append(s.id)
            }
            let address = Fixture.address("newrace")
            let ids = sequences
            let replies = try await h.parallel(12) { i in
                try await h.call(
                    .post, "/v1/sequences/enrollments/",
                    #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(ids[i % 4])", "recipient": {"email": "\#(address)"}}"#)
            }
            for r in replies { #expect(r.status == 201 || r.status == 200, "\(r.status) \(r.body)") }
            #expect(replies.filter { $0.status == 201 }.count == 4)
            let contacts = Set(replies.compactMap { $0["contact_id"]?.string })
            #expect(contacts.count == 1, "\(contacts)")
            #expect(try await h.call(.get, "/v1/contacts/").data.count == 1)
            #expect(try await h.enrollments(ofContact: contacts.first ?? "").count == 4)
            #expect(try await h.events("enrollment.created").count == 4)
        }
    }
    @Test func stateTransitions() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let e = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: contact).id

            let paused = try await Self.act(h, e, "pause")
            #expect(paused.status == 200, "\(paused.body)")
            #expect(paused["state"]?.string == "paused")
            let pausedAgain = try await Self.act(h, e, "pause")
            #expect(pausedAgain.status == 200, "pausing a paused enrollment is a no-op: \(pausedAgain.body)")
            #expect(pausedAgain["state"]?.string == "paused")
            #expect(try await h.events("enrollment.paused").count == 1, "a no-op emits no event")

            let resumed = try await Self.act(h, e, "resume")
            #expect(resumed.status == 200)
            #expect(resumed["state"]?.string == "active")
            #expect(resumed["next_due_at"]?.string == RFC3339.string(h.clock.now()))

            let cancelled = try await Self.act(h, e, "cancel")
            #expect(cancelled.status == 200)
            #expect(cancelled["state"]?.string == "cancelled")
            for action in ["resume", "pause"] {
                let r = try await Self.act(h, e, action)
                #expect(r.status == 409, "\(action) on cancelled: \(r.status) \(r.body)")
                #expect(r.errorType == "conflict")
            }
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e)/")["state"]?.string == "cancelled")

            for body in [#"{"action": "archive"}"#, #"{}"#, #"{"action": 3}"#] {
                let r = try await h.call(.patch, "/v1/sequences/enrollments/\(e)/", body)
                #expect(r.status == 422, "\(body): \(r.body)")
                #expect(r.errorParam == "action", "\(body): \(r.body)")
            }
            #expect(try await Self.act(h, Fixture.unknownID(.enr), "pause").status == 404)
            let other = try await h.otherOrg()
            let active = try await Self.enroll(h, inbox: inbox, sequence: seq, contact: contact)
            #expect(active.status == 201, "after a cancel, enrolling again starts a new one: \(active.body)")
            let foreign = try await Self.act(h, active.id, "cancel", token: other.admin)
            #expect(foreign.status == 404)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(active.id)/")["state"]?.string == "active")
        }
    }

    @Test func resumeSendsOneStepAtATimeWithoutABurst() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let steps = "[\(Fixture.step(days: 1, subject: "One")), \(Fixture.step(days: 1, subject: "Two"))]"
            let e = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address("burst"), steps: steps)
            #expect(e.status == 201, "\(e.body)")
            #expect(try await Self.act(h, e.id, "pause").status == 200)
            _ = try await h.advance(seconds: 3 * Self.day)  // both steps would have been due by now
            #expect(try await h.events("message.sent").isEmpty, "a paused enrollment sent")

            let resumed = try await Self.act(h, e.id, "resume")
            #expect(resumed["next_due_at"]?.string == RFC3339.string(h.clock.now()))
            _ = try await h.advance(seconds: 1)
            #expect(try await h.events("message.sent").count == 1, "resume sent more than one step at once")
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")
            #expect(after["state"]?.string == "active")
            #expect(after["next_step"]?.number == 1)
            #expect(after["timeline"]?[0]?["outcome"]?.string == "sent")
            #expect(after["timeline"]?[1]?["outcome"]?.string == "scheduled")
            let nextDue = after["next_due_at"]?.string.flatMap(RFC3339.parse)
            #expect(
                nextDue.map { $0.timeIntervalSince(h.clock.now()) > Self.day - 5 } == true,
                "next step due a day after the resumed send: \(after.body)")

            _ = try await h.advance(seconds: Self.day - 10)
            #expect(try await h.events("message.sent").count == 1)
            _ = try await h.advance(seconds: 20)
            #expect(try await h.events("message.sent").count == 2)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")["state"]?.string == "completed")
        }
    }

    @Test func auditTrailNamesTheTokens() async throws {
        try await Harness.run { h in
            let creator = try await h.token(["sequences:write", "email:send"])
            let changer = try await h.token(["sequences:write"])
            let creatorID = try await h.tokenID(creator)
            let changerID = try await h.tokenID(changer)
            #expect(creatorID != changerID)
            let inbox = try await h.inbox()
            let e = try await h.enrollAdHoc(
                inbox: inbox, email: Fixture.address("audit"), steps: "[\(Fixture.step(days: 2, subject: "Hi"))]", token: creator)
            #expect(e.status == 201, "\(e.body)")
            #expect(e["created_by"]?.string == creatorID)
            #expect(e["updated_by"]?.string == creatorID)

            let paused = try await Self.act(h, e.id, "pause", token: changer)
            #expect(paused.status == 200, "\(paused.body)")
            #expect(paused["created_by"]?.string == creatorID)
            #expect(paused["updated_by"]?.string == changerID)
            let read = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")
            #expect(read["created_by"]?.string == creatorID)
            #expect(read["updated_by"]?.string == changerID)
            #expect(try await h.events("enrollment.paused").first?["data"]?["by"]?.string == changerID)
        }
    }

    // MARK: - Workflow rules

    static func ruleBody(inbox: String, label: String, sequence: String) -> String {
        #"{"inbox_id": "\#(inbox)", "trigger": {"type": "label_added", "label": "\#(label)"}, "action": {"type": "enroll", "sequence_id": "\#(sequence)"}}"#
    }

    static func addLabel(_ h: Harness, _ contact: String, _ label: String) async throws -> Reply {
        try await h.call(.post, "/v1/contacts/\(contact)/labels/", #"{"add": ["\#(label)"]}"#)
    }

    @Test func labelRuleEnrollsOnceHoweverOftenTheLabelIsAdded() async throws {
        try await Harness.run { h in
            let (inbox, seq, contact) = try await Self.basics(h)
            let rule = try await h.call(.post, "/v1/workflow-rules/", Self.ruleBody(inbox: inbox, label: "proposal-open", sequence: seq))
            #expect(rule.status == 201, "\(rule.body)")
            #expect(rule.id.hasPrefix("wfr_"))
            #expect(rule["trigger"]?["label"]?.string == "proposal-open")

            let labelled = try await Self.addLabel(h, contact, "proposal-open")
            #expect(labelled.status == 200, "\(labelled.body)")
            #expect(labelled["labels"]?.items.contains("proposal-open") == true)
            var enrolled = try await h.enrollments(ofContact: contact)
            #expect(enrolled.count == 1)
            #expect(enrolled.first?["trigger"]?.string == "workflow_rule")
            #expect(enrolled.first?["workflow_rule_id"]?.string == rule.id)
            #expect(enrolled.first?["sequence_id"]?.string == seq)
            #expect(enrolled.first?["state"]?.string == "active")

            // Again; and removed then re-added while the enrollment runs: still one.
            #expect(try await Self.addLabel(h, contact, "proposal-open").status == 200)
            #expect(try await h.call(.post, "/v1/contacts/\(contact)/labels/", #"{"remove": ["proposal-open"]}"#).status == 200)
            #expect(try await Self.addLabel(h, contact, "proposal-open").status == 200)
            enrolled = try await h.enrollments(ofContact: contact)
            #expect(enrolled.count == 1)

            // Five concurrent additions to a fresh contact: one enrollment.
            let racer = try await h.contact(Fixture.address("racer"), inbox: inbox)
            let replies = try await h.parallel(5) { _ in try await Self.addLabel(h, racer.id, "proposal-open") }
            for r in replies { #expect(r.status == 200, "\(r.status) \(r.body)") }
            #expect(try await h.enrollments(ofContact: racer.id).count == 1)

            // Labels given at creation fire too; other labels do not.
            let born = try await h.contact(Fixture.address("born"), inbox: inbox, extra: #", "labels": ["lead", "proposal-open"]"#)
            #expect(born.status == 201)
            let bornEnrollments = try await h.enrollments(ofContact: born.id)
            #expect(bornEnrollments.count == 1)
            #expect(bornEnrollments.first?["trigger"]?.string == "workflow_rule")
            let plain = try await h.contact(Fixture.address("plain"), inbox: inbox, extra: #", "labels": ["lead"]"#)
            #expect(try await h.enrollments(ofContact: plain.id).isEmpty)
            // A label added by create-or-update of an existing contact fires as well.
            let updated = try await h.call(
                .post, "/v1/contacts/",
                #"{"emails": [{"address": "\#(plain["emails"]?[0]?["address"]?.string ?? "")"}], "labels": ["proposal-open"]}"#)
            #expect(updated.status == 200)
            #expect(try await h.enrollments(ofContact: plain.id).count == 1)

            #expect(try await h.events("enrollment.created").count == 4)
        }
    }

    @Test func workflowRuleValidation() async throws {
        try await Harness.run { h in
            let (inbox, seq, _) = try await Self.basics(h)
            let cases: [(String, String)] = [
                (#"{"trigger": {"type": "label_added", "label": "x"}, "action": {"type": "enroll", "sequence_id": "\#(seq)"}}"#, "inbox_id"),
                (
                    #"{"inbox_id": "\#(inbox)", "trigger": {"type": "label_removed", "label": "x"}, "action": {"type": "enroll", "sequence_id": "\#(seq)"}}"#,
                    "trigger.type"
                ),
                (
                    #"{"inbox_id": "\#(inbox)", "trigger": {"type": "label_added", "label": ""}, "action": {"type": "enroll", "sequence_id": "\#(seq)"}}"#,
                    "trigger.label"
                ),
                (#"{"inbox_id": "\#(inbox)", "trigger": {"type": "label_added", "label": "x"}, "action": {"type": "email"}}"#, "action.type"),
                (Self.ruleBody(inbox: inbox, label: "x", sequence: Fixture.unknownID(.seq)), "action.sequence_id"),
                (Self.ruleBody(inbox: Fixture.unknownID(.inb), label: "x", sequence: seq), "inbox_id"),
            ]
            for (body, param) in cases {
                let r = try await h.call(.post, "/v1/workflow-rules/", body)
                #expect(r.status == 422, "\(param): \(r.body)")
                #expect(r.errorParam == param, "\(body): \(r.body)")
            }
            #expect(try await h.call(.get, "/v1/workflow-rules/").data.isEmpty)
        }
    }

    // MARK: - Events

    @Test func eventsFeedPagesOldestFirstAndStaysInTheOrganization() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            var enrollments: [String] = []
            for i in 0..<3 {
                let e = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address("evt\(i)"), steps: "[\(Fixture.step(days: 1, subject: "Hi"))]")
                #expect(e.status == 201)
                enrollments.append(e.id)
            }
            #expect(try await Self.act(h, enrollments[1], "pause").status == 200)

            let all = try await h.call(.get, "/v1/events/")
            #expect(all.status == 200, "\(all.body)")
            let ids = all.data.compactMap { $0["id"]?.string }
            #expect(ids.count >= 4)
            #expect(ids.allSatisfy { $0.hasPrefix("evt_") })
            let created = all.data.filter { $0["type"]?.string == "enrollment.created" }.compactMap { $0["data"]?["enrollment_id"]?.string }
            #expect(created == enrollments, "oldest first")
            #expect(all.data.last?["type"]?.string == "enrollment.paused")

            let after = try await h.call(.get, "/v1/events/?after=\(ids[0])")
            #expect(after.data.compactMap { $0["id"]?.string } == Array(ids.dropFirst()))
            let afterLast = try await h.call(.get, "/v1/events/?after=\(ids[ids.count - 1])")
            #expect(afterLast.status == 200)
            #expect(afterLast.data.isEmpty)

            let paused = try await h.call(.get, "/v1/events/?type=enrollment.paused")
            #expect(paused.data.count == 1)
            #expect(paused.data.first?["data"]?["enrollment_id"]?.string == enrollments[1])
            let createdAfterFirst = try await h.call(.get, "/v1/events/?type=enrollment.created&after=\(ids[0])")
            #expect(createdAfterFirst.data.compactMap { $0["data"]?["enrollment_id"]?.string } == Array(enrollments.dropFirst()))
            let badType = try await h.call(.get, "/v1/events/?type=enrollment.exploded")
            #expect(badType.status == 422)
            #expect(badType.errorParam == "type")

            // Pages of two, following next_cursor, give the same sequence.
            var paged: [String] = []
            var cursor: String? = nil
            var rounds = 0
            repeat {
                let page = try await h.call(.get, "/v1/events/?limit=2" + (cursor.map { "&after=\($0)" } ?? ""))
                #expect(page.data.count <= 2)
                paged += page.data.compactMap { $0["id"]?.string }
                cursor = page["next_cursor"]?.string
                rounds += 1
            } while cursor != nil && rounds < 20
            #expect(paged == ids)

            // Another organization sees none of it.
            let other = try await h.otherOrg()
            let theirs = try await h.call(.get, "/v1/events/", token: other.admin)
            #expect(theirs.status == 200)
            let theirIDs = Set(theirs.data.compactMap { $0["id"]?.string })
            #expect(theirIDs.isDisjoint(with: ids))
            #expect(!theirs.body.contains(enrollments[0]))
            let probing = try await h.call(.get, "/v1/events/?after=\(ids[0])", token: other.admin)
            #expect(probing.status == 422, "\(probing.body)")
            #expect(probing.errorParam == "after")
            #expect(!probing.body.contains(enrollments[0]))
        }
    }
}
