import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// The dispatcher against a real SMTP server (aiosmtpd), driven by the manual clock.
@Suite struct DispatchTests {
    static let day: Double = 86_400

    /// Creates inbox, contact, a source message (its thread) and the brief's sequence; enrolls.
    static func setUp(_ h: Harness, recipient: String = "buyer@example.com", inboxExtra: String = "", sequence: String? = nil) async throws -> (
        inbox: String, enrollment: String, thread: String
    ) {
        let inbox = try await h.inbox("sales-\(Int.random(in: 0..<1_000_000_000))@acme.test", extra: inboxExtra)
        let contact = try await h.call(
            .post, "/v1/contacts/",
            #"{"inbox_id": "\#(inbox)", "full_name": "Avery Chen", "emails": [{"label": "work", "address": "\#(recipient)"}]}"#
        ).id
        let source = try await h.call(
            .post, "/v1/inboxes/\(inbox)/messages/inbound/",
            raw: Array(
                "From: Avery Chen <\(recipient)>\r\nTo: sales@acme.test\r\nSubject: Proposal for review\r\nMessage-ID: <orig-\(UUID().uuidString)@example.com>\r\n\r\nPlease send the proposal.\r\n"
                    .utf8))
        let seq = try await h.call(.post, "/v1/sequences/", sequence ?? BriefBodies.sequence(inbox)).id
        let e = try await h.call(
            .post, "/v1/sequences/enrollments/",
            """
            {"inbox_id": "\(inbox)", "sequence_id": "\(seq)", "recipient": {"contact_id": "\(contact)"},
             "source": {"type": "email", "message_id": "\(source["message_id"]!.string!)", "thread_id": "\(source["thread_id"]!.string!)", "subject": "Proposal for review", "from_address": "\(recipient)"}}
            """)
        try #require(e.status == 201, "\(e.body)")
        return (inbox, e.id, source["thread_id"]!.string!)
    }

    @Test func briefSequenceSendsBothStepsOnTimeThreadedThenCompletes() async throws {
        try await Harness.withSMTP(lanes: 2) { h, smtp in
            let (_, enrollment, thread) = try await Self.setUp(h)
            _ = try await h.advance(seconds: 2 * Self.day - 60)
            #expect(try smtp.received().isEmpty)
            _ = try await h.advance(seconds: 60)
            var got = try smtp.received()
            #expect(got.count == 1)
            let first = try await PythonEmail.parse(file: got[0].path)
            #expect(first["subject"] as? String == "Following up on the proposal")
            #expect((first["in_reply_to"] as? String)?.hasPrefix("<orig-") == true)
            #expect((first["list_unsubscribe"] as? String)?.contains("/u/") == true)
            #expect(first["list_unsubscribe_post"] as? String == "List-Unsubscribe=One-Click")
            #expect(got[0].rcptTos == ["buyer@example.com"])

            _ = try await h.advance(seconds: 5 * Self.day - 1)
            #expect(try smtp.received().count == 1)
            _ = try await h.advance(seconds: 1)
            got = try smtp.received()
            #expect(got.count == 2)
            let second = try await PythonEmail.parse(file: got[1].path)
            #expect((second["references"] as? String)?.contains(first["message_id"] as! String) == true)
            #expect(second["in_reply_to"] as? String == first["message_id"] as? String)

            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["state"]?.string == "completed")
            let t = try await h.call(.get, "/v1/threads/\(thread)/")
            guard case .array(let messages)? = t["messages"] else {
                Issue.record("no messages")
                return
            }
            #expect(messages.map { $0["direction"]?.string } == ["inbound", "outbound", "outbound"])
            #expect(t["messages_next_cursor"] == nil, "a small thread carries every message")
            // The thread's counters follow each appended message (one upsert per batch).
            #expect(t["message_count"]?.number == 3)
            #expect(t["last_message_at"]?.string == messages.last?["at"]?.string)
            #expect(t["contact_id"]?.string != nil)
            _ = try await h.advance(seconds: 30 * Self.day)
            #expect(try smtp.received().count == 2)
        }
    }

    /// The rows a plan node actually produced: `rows=N` of `(actual ...)` on the first line of an
    /// EXPLAIN ANALYZE text that mentions `node`.
    static func actualRows(_ plan: String, node: String) -> Int? {
        guard let line = plan.split(separator: "\n").first(where: { $0.contains(node) }),
            let actual = line.range(of: "(actual")
        else { return nil }
        return line[actual.upperBound...].split(separator: " ").first { $0.hasPrefix("rows=") }.flatMap { Int($0.dropFirst(5)) }
    }

    /// `nudge explain claim` runs the dispatcher's own claim with its parameters: the step due in
    /// two days is locked by the claim at that time and not before, and the rolled-back claim
    /// leaves it to be sent once when due.
    @Test func explainClaimRunsTheRealClaimAndRollsBack() async throws {
        try await Harness.withSMTP(lanes: 1) { h, smtp in
            _ = try await Self.setUp(h)
            let early = try await h.services.explainClaim(now: h.clock.now().addingTimeInterval(Self.day))
            let due = try await h.services.explainClaim(now: h.clock.now().addingTimeInterval(2 * Self.day))
            #expect(Self.actualRows(early, node: "LockRows") == 0, "\(early)")
            #expect(Self.actualRows(due, node: "LockRows") == 1, "\(due)")
            #expect(due.contains("Execution Time"))
            _ = try await h.advance(seconds: 2 * Self.day)
            #expect(try smtp.received().count == 1)
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().count == 1)
        }
    }

    /// A burst the statistics do not know of yet (20,000 steps due at once, added after the last
    /// ANALYZE): the claim still walks the due index in order and stops after its batch, instead
    /// of reading and sorting every due row (what a bitmap scan chose here before).
    @Test func claimAfterAnUnanalysedBurstReadsOnlyItsBatch() async throws {
        try await Harness.withSMTP(lanes: 1) { h, _ in
            let (_, template, _) = try await Self.setUp(h)
            // Copies of the template's enrollment (one contact, no sequence: ad-hoc copies of its
            // version's steps), due `later` after it, spread at random over `spread` seconds.
            func copies(_ n: Int, _ prefix: String, later: Double, spread: Double = 0) async throws {
                try await h.services.db.system { conn in
                    try await conn.query(
                        """
                        INSERT INTO enrollments (org_id, id, inbox_id, contact_id, recipient, recipient_key, steps, exit_on_reply, state,
                          next_step, next_due_at, attempts, held, trigger, created_by, updated_by, created_at, updated_at)
                        SELECT org_id, \(prefix) || lpad(i::text, 17, '0'), inbox_id, contact_id, recipient, recipient_key,
                          (SELECT v.definition -> 'steps' FROM sequence_versions v
                           WHERE v.org_id = e.org_id AND v.sequence_id = e.sequence_id AND v.version = e.sequence_version), exit_on_reply,
                          'active', 0, next_due_at + (\(later) + random() * \(spread)) * interval '1 second', 0, false, trigger, created_by, updated_by, created_at, updated_at
                        FROM enrollments e, generate_series(1, \(n)) AS i WHERE org_id = \(h.org) AND id = \(template)
                        """, logger: h.services.db.logger)
                }
            }
            // What the statistics know: 20,000 running enrollments due over the days after the
            // template's, a few of them at its time.
            try await copies(20_000, "enr_later", later: 1, spread: 30 * Self.day)
            try await copies(40, "enr_early", later: 0)
            try await h.services.db.client.withConnection { conn in  // as the tables' owner
                try await conn.query("ALTER TABLE enrollments SET (autovacuum_enabled = false)", logger: h.services.db.logger)
                try await conn.query("ANALYZE enrollments", logger: h.services.db.logger)
            }
            try await copies(20_000, "enr_burst", later: 0)
            let plan = try await h.services.explainClaim(now: h.clock.now().addingTimeInterval(2 * Self.day))
            let scan = plan.split(separator: "\n").first { $0.contains("enrollments_due") } ?? ""
            #expect(scan.contains("Index Scan using enrollments_due"), "\(plan)")
            #expect((Self.actualRows(plan, node: "enrollments_due") ?? .max) <= 2 * h.services.config.dispatchBatchSize, "\(plan)")
        }
    }

    @Test func cancelStopsFurtherSteps() async throws {
        try await Harness.withSMTP { h, smtp in
            let (_, enrollment, _) = try await Self.setUp(h)
            _ = try await h.advance(seconds: 2 * Self.day)
            #expect(try smtp.received().count == 1)
            #expect(try await h.call(.patch, "/v1/sequences/enrollments/\(enrollment)/", #"{"action": "cancel"}"#).status == 200)
            _ = try await h.advance(seconds: 10 * Self.day)
            #expect(try smtp.received().count == 1)
        }
    }

    @Test func oneClickUnsubscribeStopsAndSuppresses() async throws {
        try await Harness.withSMTP { h, smtp in
            let (_, enrollment, _) = try await Self.setUp(h)
            _ = try await h.advance(seconds: 2 * Self.day)
            let parsed = try await PythonEmail.parse(file: try smtp.received()[0].path)
            let header = parsed["list_unsubscribe"] as! String
            let path = String(header.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" }.dropLast())  // strip <scheme://host and >
            let page = try await h.call(.get, path, token: "")
            #expect(page.status == 200)
            #expect(page.body.contains("buyer@example.com"))
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")["state"]?.string == "active")
            let forged = try await h.call(
                .post, path.replacingOccurrences(of: ".", with: "x"), token: "", raw: Array("List-Unsubscribe=One-Click".utf8))
            #expect(forged.status == 404)
            let done = try await h.call(.post, path, token: "", raw: Array("List-Unsubscribe=One-Click".utf8))
            #expect(done.status == 200)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(e["state"]?.string == "exited")
            #expect(e["exit_reason"]?.string == "unsubscribed")
            let s = try await h.call(.get, "/v1/suppressions/?email=buyer@example.com")
            #expect(s["data"]?[0]?["reason"]?.string == "unsubscribed")
            _ = try await h.advance(seconds: 10 * Self.day)
            #expect(try smtp.received().count == 1)
        }
    }

    @Test func hardBounceSuppressesAndExits() async throws {
        try await Harness.withSMTP { h, smtp in
            let (_, enrollment, _) = try await Self.setUp(h, recipient: "fail5xx+nobody@example.com")
            _ = try await h.advance(seconds: 2 * Self.day)
            #expect(try smtp.received().isEmpty)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(e["state"]?.string == "exited")
            #expect(e["exit_reason"]?.string == "bounced")
            let s = try await h.call(.get, "/v1/suppressions/?email=fail5xx%2Bnobody@example.com")
            #expect(s["data"]?[0]?["reason"]?.string == "bounced")
            // The server's own reply line, as read by libcurl's header callback.
            #expect(s["data"]?[0]?["detail"]?.string?.contains("(server: 550 5.1.1") == true, "\(s.body)")
        }
    }

    @Test func serverDownThenBackLosesNothingAndSendsOnce() async throws {
        try await Harness.withSMTP { h, smtp in
            let (_, enrollment, _) = try await Self.setUp(h)
            try smtp.setDown(true)  // 421 to every MAIL FROM
            _ = try await h.advance(seconds: 2 * Self.day)
            #expect(try smtp.received().isEmpty)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(e["state"]?.string == "active")
            #expect(e["timeline"]?[0]?["outcome"]?.string == "retrying")
            _ = try await h.advance(seconds: 120)  // still down: another retry, still nothing
            #expect(try smtp.received().isEmpty)
            try smtp.setDown(false)
            _ = try await h.advance(seconds: 3_600)
            #expect(try smtp.received().count == 1)
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(after["timeline"]?[0]?["outcome"]?.string == "sent")
            #expect(after["next_step"]?.number == 1)
        }
    }

    @Test func replyCommittedBeforeTheSendWins() async throws {
        try await Harness.withSMTP { h, smtp in
            let (inbox, enrollment, _) = try await Self.setUp(h)
            _ = try await h.advance(seconds: 2 * Self.day - 1)
            let reply = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    "From: Avery Chen <buyer@example.com>\r\nTo: sales@acme.test\r\nSubject: Re: Proposal for review\r\nMessage-ID: <reply-1@example.com>\r\n\r\nThanks, we will review it this week.\r\n"
                        .utf8))
            #expect(reply["classification"]?.string == "human_reply")
            #expect(reply["enrollments"] == .array([.string(enrollment)]))
            _ = try await h.advance(seconds: 10 * Self.day)
            #expect(try smtp.received().isEmpty)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(e["exit_reason"]?.string == "replied")
        }
    }

    /// A reply that arrives while its enrollment's step is being sent waits for the batch (the
    /// claim's row lock), then stops the enrollment in the same statement that found it: the step
    /// in flight is recorded as sent, nothing after it goes out, and the reply is not refused.
    /// Two ad-hoc steps (now, then a day later) to a recipient whose RCPT TO the test SMTP server
    /// holds for 2 s ("slow2+"), so a batch is mid-send for that long.
    static func enrollSlowRecipient(_ h: Harness, _ tag: String) async throws -> (inbox: String, address: String, enrolled: Reply) {
        let inbox = try await h.inbox()
        let address = "slow2+\(tag)-\(Int.random(in: 0..<1_000_000))@example.com"
        let enrolled = try await h.call(
            .post, "/v1/sequences/enrollments/",
            """
            {"inbox_id": "\(inbox)", "recipient": {"email": "\(address)"},
             "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello"}, {"delay_days": 1, "subject": "Again", "body": "Hello again"}]}
            """)
        #expect(enrolled.status == 201, "\(enrolled.body)")
        return (inbox, address, enrolled)
    }

    @Test func replyArrivingMidSendWaitsThenStopsTheRest() async throws {
        try await Harness.withSMTP { h, smtp in
            let (inbox, address, enrolled) = try await Self.enrollSlowRecipient(h, "buyer")
            let services = h.services
            let batch = Task { try await Dispatcher(services: services).runOnce() }
            // Once the batch has connected, it holds the claim while the server keeps RCPT TO
            // waiting for 2 s.
            for _ in 0..<200 where try smtp.connectionCount() == 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try smtp.connectionCount() == 1)
            let reply = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    "From: Avery Chen <\(address)>\r\nTo: sales@acme.test\r\nSubject: Re: Hi\r\nMessage-ID: <mid-send-\(UUID().uuidString)@example.com>\r\n\r\nThanks, no need to follow up.\r\n"
                        .utf8))
            // The reply waited for the batch: by its answer the step had been accepted.
            #expect(try smtp.received().count == 1)
            #expect(try await batch.value == 1)
            #expect(reply.status == 202, "\(reply.body)")
            #expect(reply["classification"]?.string == "human_reply")
            #expect(reply["enrollments"] == .array([.string(enrolled.id)]))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)")
            #expect(e["state"]?.string == "exited")
            #expect(e["exit_reason"]?.string == "replied")
            #expect(e["timeline"]?[0]?["outcome"]?.string == "sent", "\(e.body)")
            #expect(e["next_due_at"] == nil || e["next_due_at"] == .null)
            _ = try await h.advance(seconds: 3 * Self.day)
            #expect(try smtp.received().count == 1)
        }
    }

    /// A worker that dies after the SMTP server's 250 but before its batch commits: the claim's
    /// connection is ended while RCPT TO is held, so the batch rolls back after the send. The
    /// acceptance mark (autocommit, its own connection) survives, and the next claim records the
    /// step as sent without sending it again; the sequence then goes on as usual.
    @Test(.timeLimit(.minutes(5))) func acceptedStepOfADeadBatchIsRecordedNotSentAgain() async throws {
        try await Harness.withSMTP { h, smtp in
            let (inbox, address, enrolled) = try await Self.enrollSlowRecipient(h, "dead")
            let services = h.services
            let logger = h.services.db.logger
            let batch = Task { try await Dispatcher(services: services).runOnce() }
            for _ in 0..<200 where try smtp.connectionCount() == 0 { try await Task.sleep(for: .milliseconds(50)) }
            // The batch's session is the one whose transaction locked the enrollment (other tests
            // share the cluster and have sessions idle in transaction too).
            let locker = try await services.db.system { conn in
                try await conn.query("SELECT xmax::text FROM enrollments WHERE org_id = \(h.org) AND id = \(enrolled.id)", logger: logger).decode(
                    String.self
                ).collect()
            }
            let ended = try await services.db.client.withConnection { conn in  // as the login role, which owns the sessions
                try await conn.query(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE backend_xid::text = \(locker.first ?? "") AND pid <> pg_backend_pid()
                    """, logger: logger
                ).decode(Int.self).collect()
            }
            #expect(ended == [1])
            await #expect(throws: (any Error).self) { try await batch.value }
            #expect(try smtp.received().count == 1)
            let marked = try await services.db.system { conn in
                try await conn.query("SELECT status FROM deliveries WHERE org_id = \(h.org) AND enrollment_id = \(enrolled.id)", logger: logger)
                    .decode(String.self).collect()
            }
            #expect(marked == ["accepted"])

            #expect(try await Dispatcher(services: services).runOnce() == 1)
            #expect(try smtp.received().count == 1)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)")
            #expect(e["timeline"]?[0]?["outcome"]?.string == "sent", "\(e.body)")
            #expect(e["next_step"]?.number == 1, "\(e.body)")
            let threads = try await h.call(.get, "/v1/inboxes/\(inbox)/threads/")
            #expect(threads["data"]?[0]?["message_count"]?.number == 1, "\(threads.body)")
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 2)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)")["state"]?.string == "completed")
        }
    }

    @Test func twoDispatchersNeverSendAStepTwice() async throws {
        try await Harness.withSMTP(lanes: 4, configure: { $0.dispatchBatchSize = 7 }) { h, smtp in
            let inbox = try await h.inbox()
            let n = 60
            for i in 0..<n {
                let r = try await h.call(
                    .post, "/v1/sequences/enrollments/",
                    """
                    {"inbox_id": "\(inbox)", "recipient": {"email": "p\(i)@example.com"}, "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello {{contact.email}}"}]}
                    """)
                #expect(r.status == 201)
            }
            // Two independent workers race over the same due rows.
            async let a: Void = Dispatcher(services: h.services).drain()
            async let b: Void = Dispatcher(services: h.services).drain()
            _ = try await (a, b)
            let got = try smtp.received()
            var ids: [String] = []
            for mail in got { ids.append(try await PythonEmail.parse(file: mail.path)["message_id"] as! String) }
            #expect(got.count == n)
            #expect(Set(ids).count == n)
        }
    }

    /// Steps with no delay become due again the moment a batch records the previous one, while
    /// other dispatchers are claiming: each step still goes once, in order, into one thread.
    @Test func concurrentDispatchersSendBackToBackStepsOnceEachInOrder() async throws {
        try await Harness.withSMTP(lanes: 4, configure: { $0.dispatchBatchSize = 5 }) { h, smtp in
            let inbox = try await h.inbox()
            let n = 20
            for i in 0..<n {
                let r = try await h.call(
                    .post, "/v1/sequences/enrollments/",
                    """
                    {"inbox_id": "\(inbox)", "recipient": {"email": "b2b\(i)@example.com"}, "emails": [
                      {"delay_days": 0, "subject": "One", "body": "1"}, {"delay_days": 0, "subject": "Two", "body": "2"}, {"delay_days": 0, "subject": "Three", "body": "3"}]}
                    """)
                #expect(r.status == 201, "\(r.body)")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { try await Dispatcher(services: h.services).drain() } }
                try await group.waitForAll()
            }
            let got = try smtp.received()
            #expect(got.count == 3 * n)
            var parsed: [[String: Any]] = []
            for mail in got { parsed.append(try await PythonEmail.parse(file: mail.path)) }
            #expect(Set(parsed.map { $0["message_id"] as! String }).count == 3 * n, "no step twice")
            for (recipient, mails) in Dictionary(grouping: zip(got, parsed), by: { $0.0.rcptTos.first ?? "" }) {
                #expect(mails.count == 3, "\(recipient)")
                let bodies = mails.map { ($0.1["body"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
                #expect(Set(bodies) == ["1", "2", "3"], "\(recipient): \(bodies)")
            }
            let threads = try await h.call(.get, "/v1/inboxes/\(inbox)/threads/?limit=100")
            #expect(threads.data.count == n, "each enrollment's steps in one thread")
            // Created by the first step's batch, counted on by the next two.
            #expect(threads.data.map { $0["message_count"]?.number } == Array(repeating: 3, count: n))
            #expect(threads.data.allSatisfy { $0["contact_id"]?.string?.hasPrefix("ctc_") == true })
            for t in threads.data {
                let full = try await h.call(.get, "/v1/threads/\(t["id"]!.string!)/")
                guard case .array(let messages)? = full["messages"] else {
                    Issue.record("no messages")
                    continue
                }
                #expect(messages.count == 3)
                #expect(t["last_message_at"]?.string == messages.compactMap { $0["at"]?.string }.max())
            }
        }
    }

    /// Four dispatchers with small batches race over one inbox with a daily limit and an
    /// organization quota: together they send exactly what the limits allow, and the counters end
    /// at what was sent (each batch gives back the part of its reservation it could not use).
    @Test func concurrentBatchesNeverExceedTheDailyLimits() async throws {
        try await Harness.withSMTP(
            lanes: 2,
            configure: {
                $0.dispatchBatchSize = 3
                $0.orgDailySendQuota = 9
            }
        ) { h, smtp in
            let limited = try await h.inbox(extra: #", "daily_send_limit": 5"#)
            let open = try await h.inbox()
            for i in 0..<12 {
                for inbox in [limited, open] {
                    let r = try await h.call(
                        .post, "/v1/sequences/enrollments/",
                        """
                        {"inbox_id": "\(inbox)", "recipient": {"email": "lim\(i)-\(inbox.suffix(6))@example.com"}, "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello"}]}
                        """)
                    #expect(r.status == 201, "\(r.body)")
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await Dispatcher(services: h.services).drain() } }
                try await group.waitForAll()
            }
            let got = try smtp.received()
            #expect(got.count == 9, "the organization's quota")
            let fromLimited = got.filter { $0.rcptTos.contains { $0.hasSuffix("\(limited.suffix(6))@example.com") } }
            #expect(fromLimited.count <= 5, "the inbox's limit")
            let counters = try await h.services.db.system { conn in
                try await conn.query(
                    """
                    SELECT (SELECT coalesce(sum(sent), 0) FROM inbox_daily_sends WHERE org_id = \(h.org))::int,
                           (SELECT coalesce(sum(sent), 0) FROM inbox_daily_sends WHERE org_id = \(h.org) AND inbox_id = \(limited))::int,
                           (SELECT coalesce(sum(sent), 0) FROM org_daily_sends WHERE org_id = \(h.org))::int
                    """, logger: h.services.logger
                ).decode((Int, Int, Int).self).collect().first
            }
            #expect(counters?.0 == 9)
            #expect(counters?.1 == fromLimited.count)
            #expect(counters?.2 == 9)
            // Nothing was dropped: the rest wait for the next day.
            let active = try await h.call(.get, "/v1/sequences/enrollments/?state=active&limit=100")
            #expect(active.data.count == 24 - 9)
        }
    }

    /// A slow SMTP server cannot keep a claim open past its budget: what was not started stays due
    /// and goes out, once, in the next batch.
    @Test func slowServerBatchStopsAtItsBudgetAndLosesNothing() async throws {
        // Each recipient takes the server 5 s and the budget is 2 s: the first message starts
        // (even when a loaded machine starts its task a second late) and the others cannot.
        try await Harness.withSMTP(configure: {
            $0.dispatchSendBudget = .seconds(2)
            $0.smtpLanes = 1
        }) { h, smtp in
            let inbox = try await h.inbox()
            for i in 0..<3 {
                _ = try await h.call(
                    .post, "/v1/sequences/enrollments/",
                    """
                    {"inbox_id": "\(inbox)", "recipient": {"email": "slow5+\(i)@example.com"}, "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello"}]}
                    """)
            }
            let claimed = try await Dispatcher(services: h.services).runOnce()
            #expect(claimed == 3)
            #expect(try smtp.received().count == 1)  // the other two were never started
            try await Dispatcher(services: h.services).drain()
            let got = try smtp.received()
            #expect(got.count == 3)
            #expect(Set(got.flatMap(\.rcptTos)).count == 3)
        }
    }

    @Test func dailyLimitDefersTheOverflowToTheNextDay() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox(extra: #", "daily_send_limit": 2"#)
            for i in 0..<5 {
                _ = try await h.call(
                    .post, "/v1/sequences/enrollments/",
                    """
                    {"inbox_id": "\(inbox)", "recipient": {"email": "cap\(i)@example.com"}, "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello"}]}
                    """)
            }
            _ = try await h.advance(seconds: 1)
            let sent = try await h.call(.get, "/v1/events/?type=message.sent")
            #expect(sent["data"].map { if case .array(let a) = $0 { return a.count } else { return -1 } } == 2)
            _ = try await h.advance(seconds: Self.day)
            let later = try await h.call(.get, "/v1/events/?type=message.sent")
            #expect(later["data"].map { if case .array(let a) = $0 { return a.count } else { return -1 } } == 4)
        }
    }

    @Test func remindersFireAsEventsEvenForSuppressedAddresses() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            #expect(try await h.call(.post, "/v1/suppressions/", #"{"email": "gone@example.com", "reason": "manual"}"#).status == 201)
            let e = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "recipient": {"email": "gone@example.com"},
                 "emails": [{"type": "reminder", "delay_days": 1, "note": "Call them"}, {"delay_days": 1, "subject": "Hi", "body": "Hello"}]}
                """)
            #expect(e.status == 201)
            _ = try await h.advance(seconds: Self.day)
            let reminders = try await h.call(.get, "/v1/events/?type=reminder.due")
            #expect(reminders["data"]?[0]?["data"]?["note"]?.string == "Call them")
            _ = try await h.advance(seconds: Self.day)
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")
            #expect(after["state"]?.string == "exited")
            #expect(after["exit_reason"]?.string == "suppressed")
            let sent = try await h.call(.get, "/v1/events/?type=message.sent")
            #expect(sent["data"] == .array([]))
        }
    }
}

extension JSONValue {
    subscript(_ i: Int) -> JSONValue? {
        if case .array(let a) = self, i < a.count { return a[i] }
        return nil
    }
}
