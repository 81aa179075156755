import Foundation
import NudgeTestSupport
import PostgresNIO
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// Push webhooks against a real receiver on 127.0.0.1 that verifies every delivery with the
/// Python `standardwebhooks` package (Tests/NudgeTestSupport/webhook_receiver.py), on the manual
/// clock: signatures (and during a rotation), order and completeness after an outage, retries and
/// disabling, address checks, tenant isolation.
@Suite(.serialized) struct WebhookTests {
    /// The harness with webhooks allowed to reach loopback (`NUDGE_WEBHOOK_ALLOW_PRIVATE=1`).
    static func run(allowPrivate: Bool = true, _ body: @Sendable (Harness) async throws -> Void) async throws {
        try await Harness.run(configure: { $0.webhookAllowPrivate = allowPrivate }, body)
    }

    /// Creates an endpoint for `receiver` and tells the receiver its secret.
    static func endpoint(_ h: Harness, _ receiver: TestWebhookReceiver, token: String? = nil, types: String = #"["*"]"#) async throws -> (
        id: String, secret: String
    ) {
        let r = try await h.call(.post, "/v1/webhooks/", token: token, #"{"url": "\#(receiver.url)", "event_types": \#(types)}"#)
        try #require(r.status == 201, "create: \(r.body)")
        let secret = try #require(r["secret"]?.string)
        #expect(secret.hasPrefix("whsec_") && (WebhookSecrets.keyBytes(secret)?.count ?? 0) >= 24)
        try receiver.setSecrets([secret])
        return (r.id, secret)
    }

    /// `n` events (`suppression.created`) in organization of `token`.
    static func events(_ h: Harness, _ n: Int, token: String? = nil) async throws {
        for _ in 0..<n {
            let r = try await h.call(.post, "/v1/suppressions/", token: token, #"{"email": "\#(Fixture.address())"}"#)
            try #require(r.status == 201, "suppression: \(r.body)")
        }
    }

    /// The feed's event ids of `type`, in feed order.
    static func feed(_ h: Harness, type: String = "suppression.created", token: String? = nil) async throws -> [String] {
        var ids: [String] = []
        var after = ""
        while true {
            let r = try await h.call(.get, "/v1/events/?type=\(type)&limit=200" + (after.isEmpty ? "" : "&after=\(after)"), token: token)
            let page = r["data"]?.items.compactMap { $0["id"]?.string } ?? []
            ids += page
            guard let next = r["next_cursor"]?.string, !page.isEmpty else { return ids }
            after = next
        }
    }

    static func advance(_ h: Harness, hours: Double) async throws {
        let r = try await h.advance(seconds: hours * 3600)
        try #require(r.status == 200, "advance: \(r.body)")
    }

    @Test func deliveriesAreSignedAsStandardWebhooksIncludingDuringARotation() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, secret) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.001)
            var got = try receiver.deliveries()
            try #require(got.count == 1, "\(got)")
            #expect(got[0].verified == [0] && got[0].signatures == 1 && got[0].answered == 200)
            // webhook-id is the event's id, the timestamp the wall clock's, the body the feed's item.
            let feed = try await h.call(.get, "/v1/events/?type=suppression.created")
            let item = try #require(feed["data"]?.items.first)
            #expect(got[0].id == item["id"]?.string)
            #expect(abs(got[0].timestamp - Int(Date().timeIntervalSince1970)) < 60)
            #expect(JSONValue.parse(got[0].body) == item)

            // The test event.
            let test = try await h.call(.post, "/v1/webhooks/\(id)/test/")
            #expect(test.status == 202, "\(test.body)")
            try await Self.advance(h, hours: 0.001)
            got = try receiver.deliveries()
            #expect(got.count == 2 && got.last?.type == "webhook.test" && got.last?.verified == [0])

            // Rotation: both secrets sign for 24 h, then only the new one.
            let rotated = try await h.call(.post, "/v1/webhooks/\(id)/rotate-secret/")
            try #require(rotated.status == 200, "\(rotated.body)")
            let fresh = try #require(rotated["secret"]?.string)
            #expect(fresh != secret && rotated["previous_secret_expires_at"]?.string != nil)
            try receiver.setSecrets([secret, fresh])
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 1)
            got = try receiver.deliveries()
            #expect(got.count == 3 && got.last?.verified == [0, 1] && got.last?.signatures == 2, "\(String(describing: got.last))")
            try await Self.advance(h, hours: 24)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.001)
            got = try receiver.deliveries()
            #expect(got.count == 4 && got.last?.verified == [1] && got.last?.signatures == 1, "\(String(describing: got.last))")
            // The secret is never shown again.
            let shown = try await h.call(.get, "/v1/webhooks/\(id)/")
            #expect(shown.status == 200 && shown["secret"] == nil && !shown.body.contains(fresh))
            // Deliveries list their attempts.
            let deliveries = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            let first = try #require(deliveries["data"]?.items.first)
            #expect(first["state"]?.string == "delivered" && first["attempts"]?.items.first?["status_code"] == .number(200))
            #expect(first["attempts"]?.items.first?["response_body"]?.string == #"{"received": true}"#)
        }
    }

    @Test func aReceiverDownForSixHoursGetsEveryEventOnceInOrder() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            receiver.stop()
            // 1,000 events over six hours while it is down.
            for i in 0..<12 {
                try await Self.events(h, i < 4 ? 84 : 83)
                try await Self.advance(h, hours: 0.5)
            }
            #expect(try receiver.deliveries().isEmpty)
            // The first event has been retried (connection refused), the others wait behind it.
            var waiting: [JSONValue] = []
            var cursor = ""
            repeat {
                let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/?limit=200" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"))
                waiting += list["data"]?.items ?? []
                cursor = list["next_cursor"]?.string ?? ""
            } while !cursor.isEmpty
            #expect(waiting.count == 1_000 && waiting.allSatisfy { $0["state"]?.string == "pending" })
            let tried = waiting.filter { ($0["attempt_count"]?.number ?? 0) > 0 }
            try #require(tried.count == 1, "\(tried)")
            let head = tried[0]
            #expect(head["event_id"]?.string == (try await Self.feed(h)).first)
            #expect((head["attempt_count"]?.number ?? 0) >= 5, "\(head)")
            let last = head["attempts"]?.items.first
            #expect(last?["status_code"] == nil && last?["error"]?.string != nil, "\(head)")

            try await receiver.start()
            try await Self.advance(h, hours: 2)
            let got = try receiver.deliveries()
            let feed = try await Self.feed(h)
            #expect(feed.count == 1_000)
            #expect(got.map(\.id) == feed, "delivered \(got.count), in order: \(got.map(\.id) == feed)")
            #expect(Set(got.map(\.id)).count == got.count)
            #expect(got.allSatisfy { $0.verified == [0] })
        }
    }

    /// Endpoints that hang (each attempt runs into the 10 s timeout), four of them in one
    /// organization (twice what it may hold at once), delay neither that organization's other endpoints nor another organization's:
    /// those are delivered while the hanging attempts are still waiting.
    @Test(.timeLimit(.minutes(5))) func hangingEndpointsDelayNoOtherEndpointOrOrganization() async throws {
        let slow = try await TestWebhookReceiver()
        let ok = try await TestWebhookReceiver()
        let okOther = try await TestWebhookReceiver()
        try slow.setMode("slow 12")
        try await Harness.run(configure: {
            $0.webhookAllowPrivate = true
            $0.webhookConcurrency = 8
        }) { h in
            let (_, crowded) = try await h.otherOrg()
            let (_, other) = try await h.otherOrg()
            for _ in 0..<4 { _ = try await Self.endpoint(h, slow, token: crowded) }
            _ = try await Self.endpoint(h, slow)
            _ = try await Self.endpoint(h, ok)
            _ = try await Self.endpoint(h, okOther, token: other)
            try await Self.events(h, 1, token: crowded)
            try await Self.events(h, 3)
            try await Self.events(h, 2, token: other)
            let started = ContinuousClock.now
            let advancing = Task { try await Self.advance(h, hours: 0.01) }
            while try ok.deliveries().count < 3 || okOther.deliveries().count < 2 {
                try #require(ContinuousClock.now - started < .seconds(8), "healthy endpoints waited for the hanging ones")
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try ok.deliveries().map(\.id) == (try await Self.feed(h)))
            #expect(try okOther.deliveries().map(\.id) == (try await Self.feed(h, token: other)))
            try await advancing.value
            #expect(ContinuousClock.now - started >= .seconds(9), "the hanging attempts ran into their timeout")
        }
    }

    /// A manual retry of a delivery whose attempt is in flight, with a second sender looking for
    /// work meanwhile: the endpoint stays with the first sender, and the event goes out once.
    @Test(.timeLimit(.minutes(5))) func aRetryDuringAnAttemptInFlightNeverSendsTwice() async throws {
        let receiver = try await TestWebhookReceiver()
        try receiver.setMode("slow 6")
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            let db = h.services.db
            @Sendable func leased() async throws -> Bool {
                try await db.system { conn in
                    try await conn.query("SELECT lease IS NOT NULL FROM webhooks WHERE id = \(id)", logger: db.logger).decode(Bool.self).collect()
                        .first ?? false
                }
            }
            let first = Task { try await Self.advance(h, hours: 0.01) }
            while try await !leased() { try await Task.sleep(for: .milliseconds(20)) }
            let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            let delivery = try #require(list["data"]?.items.first)
            let retried = try await h.call(.post, "/v1/webhooks/\(id)/deliveries/\(delivery["id"]?.string ?? "")/retry/")
            #expect(retried.status == 202, "\(retried.body)")
            // The attempt was still in flight when the retry was asked for.
            try #require(try await leased() && receiver.deliveries().isEmpty, "the first attempt ended before the retry")
            try await Self.advance(h, hours: 0.01)
            try await first.value
            try await Self.advance(h, hours: 0.01)
            let got = try receiver.deliveries()
            #expect(got.count == 1, "\(got.map(\.id))")
            let after = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            #expect(after["data"]?.items.first?["state"]?.string == "delivered", "\(after.body)")
        }
    }

    @Test func fiveHundredForeverIsRetriedWithBackoffThenDisabled() async throws {
        let receiver = try await TestWebhookReceiver()
        try receiver.setMode("500")
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            for _ in 0..<8 { try await Self.advance(h, hours: 0.1) }
            let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            let d = try #require(list["data"]?.items.first)
            let attempts = d["attempts"]?.items ?? []
            #expect(attempts.count >= 5 && attempts.allSatisfy { $0["status_code"] == .number(500) }, "\(d)")
            #expect(attempts.first?["response_body"]?.string?.utf8.count == 1_024)
            // Newest first: the waits grow.
            let waits = attempts.compactMap { a -> Double? in
                guard let at = a["attempted_at"]?.string.flatMap(RFC3339.parse), let next = a["next_retry_at"]?.string.flatMap(RFC3339.parse)
                else { return nil }
                return next.timeIntervalSince(at)
            }
            #expect(waits.count == attempts.count && waits.last! < waits.first!, "\(waits)")

            // 429 with Retry-After: the next attempt is no sooner than asked.
            try receiver.setMode("429 20000")
            try await Self.advance(h, hours: 2)
            let after429 = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            let last = try #require(after429["data"]?.items.first?["attempts"]?.items.first)
            #expect(last["status_code"] == .number(429))
            if let at = last["attempted_at"]?.string.flatMap(RFC3339.parse), let next = last["next_retry_at"]?.string.flatMap(RFC3339.parse) {
                #expect(next.timeIntervalSince(at) >= 20_000)
            } else {
                Issue.record("no next retry: \(last)")
            }

            try receiver.setMode("500")
            for _ in 0..<4 { try await Self.advance(h, hours: 24) }
            #expect(try await h.call(.get, "/v1/webhooks/\(id)/")["disabled"] == .bool(false))
            for _ in 0..<2 { try await Self.advance(h, hours: 24) }
            let w = try await h.call(.get, "/v1/webhooks/\(id)/")
            #expect(w["disabled"] == .bool(true) && w["disabled_reason"]?.string?.contains("5 days") == true, "\(w.body)")
            let disabled = try await h.call(.get, "/v1/events/?type=webhook.disabled")
            #expect(disabled["data"]?.items.first?["data"]?["webhook_id"]?.string == id, "\(disabled.body)")
            // Nothing more goes to a disabled endpoint.
            let count = try receiver.deliveries().count
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 1)
            #expect(try receiver.deliveries().count == count)
        }
    }

    @Test func goneDisablesTheEndpointAtOnce() async throws {
        let receiver = try await TestWebhookReceiver()
        try receiver.setMode("410")
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 2)
            try await Self.advance(h, hours: 1)
            #expect(try receiver.deliveries().count == 1)
            let w = try await h.call(.get, "/v1/webhooks/\(id)/")
            #expect(w["disabled"] == .bool(true) && w["disabled_reason"]?.string?.contains("410") == true, "\(w.body)")
            let disabled = try await h.call(.get, "/v1/events/?type=webhook.disabled")
            #expect(disabled["data"]?.items.count == 1)
            // Enabled again, it receives what happens from then on.
            try receiver.setMode("ok")
            let enabled = try await h.call(.patch, "/v1/webhooks/\(id)/", #"{"disabled": false}"#)
            #expect(enabled.status == 200 && enabled["disabled"] == .bool(false), "\(enabled.body)")
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 1)
            #expect(try receiver.deliveries().last?.answered == 200)
        }
    }

    @Test func privateAndMetadataAddressesAreRefusedWithoutTheFlag() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run(allowPrivate: false) { h in
            for url in [
                receiver.url, "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/hook", "http://localhost/x",
                "http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/", "http://192.168.1.10/", "http://224.0.0.1/",
            ] {
                let r = try await h.call(.post, "/v1/webhooks/", #"{"url": "\#(url)"}"#)
                #expect(r.status == 422 && r.errorParam == "url", "\(url): \(r.status) \(r.body)")
            }
            // Checked again at connect time: an endpoint stored with a loopback URL is never reached.
            let id = ID.make(.whk)
            _ = try await h.services.webhooks.create(
                org: h.org, id: id, url: receiver.url, description: nil, types: ["suppression.created"],
                sealedSecret: try h.services.webhookSecrets.seal(WebhookSecrets.generate(), org: h.org, webhookID: id), now: h.clock.now())
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            #expect(try receiver.deliveries().isEmpty)
            let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/")
            let error = list["data"]?.items.first?["attempts"]?.items.first?["error"]?.string ?? ""
            #expect(error.contains("127.0.0.1"), "\(list.body)")
        }
        #expect(throws: NudgeError.self) { try WebhookAddress.parse("http://hooks.example.com/", allowHTTP: false) }
        #expect(throws: NudgeError.self) { try WebhookAddress.parse("ftp://hooks.example.com/", allowHTTP: true) }
        #expect(WebhookAddress.isForbidden("100.64.0.1") && WebhookAddress.isForbidden("fe80::1") && !WebhookAddress.isForbidden("93.184.215.14"))
        #expect(!WebhookAddress.isForbidden("2606:4700::1111"))
    }

    @Test func anOrganizationNeverReceivesAnotherOrganizationsEvents() async throws {
        let a = try await TestWebhookReceiver()
        let b = try await TestWebhookReceiver()
        try await Self.run { h in
            let (other, otherAdmin) = try await h.otherOrg()
            _ = other
            let (idA, _) = try await Self.endpoint(h, a)
            let (idB, _) = try await Self.endpoint(h, b, token: otherAdmin)
            try await Self.events(h, 3)
            try await Self.events(h, 2, token: otherAdmin)
            try await Self.advance(h, hours: 0.01)
            #expect(try a.deliveries().map(\.id) == (try await Self.feed(h)))
            #expect(try b.deliveries().map(\.id) == (try await Self.feed(h, token: otherAdmin)))
            #expect(try a.deliveries().count == 3 && b.deliveries().count == 2)
            // Another organization's endpoint is not found, whatever the operation.
            #expect(try await h.call(.get, "/v1/webhooks/\(idB)/").status == 404)
            #expect(try await h.call(.delete, "/v1/webhooks/\(idB)/").status == 404)
            #expect(try await h.call(.get, "/v1/webhooks/\(idA)/deliveries/", token: otherAdmin).status == 404)
            let list = try await h.call(.get, "/v1/webhooks/", token: otherAdmin)
            #expect(list["data"]?.items.map { $0["id"]?.string } == [idB])
        }
    }

    @Test func badInputIsA422NamingTheFieldAndTypesFollowTheTokensScopes() async throws {
        try await Self.run { h in
            for (body, param) in [
                (#"{}"#, "url"), (#"{"url": "not a url"}"#, "url"), (#"{"url": "http://127.0.0.1:9/", "event_types": ["nope"]}"#, "event_types[0]"),
                (#"{"url": "http://127.0.0.1:9/", "event_types": []}"#, "event_types"),
                (#"{"url": "http://127.0.0.1:9/", "description": "a\u0000b"}"#, "description"),
            ] {
                let r = try await h.call(.post, "/v1/webhooks/", body)
                #expect(r.status == 422 && r.errorParam == param, "\(body): \(r.body)")
            }
            // A token that cannot read enrollments cannot subscribe to them; "all" is what it can read.
            let t = try await h.token(["webhooks:write", "webhooks:read", "suppressions:read"])
            let refused = try await h.call(
                .post, "/v1/webhooks/", token: t, #"{"url": "http://127.0.0.1:9/", "event_types": ["enrollment.created"]}"#)
            #expect(refused.status == 422 && refused.errorParam == "event_types[0]", "\(refused.body)")
            let all = try await h.call(.post, "/v1/webhooks/", token: t, #"{"url": "http://127.0.0.1:9/"}"#)
            #expect(
                all.status == 201 && all["event_types"] == .array(["suppression.created", "suppression.deleted", "webhook.disabled"]), "\(all.body)")
            let patched = try await h.call(.patch, "/v1/webhooks/\(all.id)/", token: t, #"{"event_types": ["message.sent"]}"#)
            #expect(patched.status == 422 && patched.errorParam == "event_types[0]")
            // A change of some fields leaves the others (and a null description clears it).
            let changed = try await h.call(.patch, "/v1/webhooks/\(all.id)/", token: t, #"{"url": "http://127.0.0.1:10/", "description": "CRM"}"#)
            #expect(
                changed.status == 200 && changed["url"]?.string == "http://127.0.0.1:10/" && changed["description"]?.string == "CRM",
                "\(changed.body)")
            #expect(changed["event_types"] == all["event_types"] && changed["disabled"] == .bool(false))
            let cleared = try await h.call(.patch, "/v1/webhooks/\(all.id)/", token: t, #"{"description": null}"#)
            #expect(cleared.status == 200 && cleared["description"] == nil && cleared["url"]?.string == "http://127.0.0.1:10/", "\(cleared.body)")
            let deleted = try await h.call(.delete, "/v1/webhooks/\(all.id)/", token: t)
            #expect(deleted.status == 200)
            #expect(try await h.call(.get, "/v1/webhooks/\(all.id)/", token: t).status == 404)
        }
    }
}
