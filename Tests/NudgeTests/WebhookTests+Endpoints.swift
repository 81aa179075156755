import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeCore
@testable import NudgeWorkers

/// An endpoint's controls and answers: metrics per endpoint, redirects, disabling, manual retries,
/// `Retry-After` as a date, rotations in quick succession.
extension WebhookTests {
    /// The delivery of `event` to endpoint `id`, as the deliveries endpoint lists it.
    static func delivery(_ h: Harness, _ id: String, event: String) async throws -> JSONValue? {
        let list = try await h.call(.get, "/v1/webhooks/\(id)/deliveries/?limit=200")
        return list["data"]?.items.first { $0["event_id"]?.string == event }
    }

    /// The value of the `/metrics` series `name{webhook_id="id"}`.
    static func endpointGauge(_ h: Harness, _ name: String, _ id: String) async throws -> Double? {
        let metrics = try await h.callWithoutAuth(.get, "/metrics")
        let prefix = #"\#(name){webhook_id="\#(id)"} "#
        return metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func metricsShowEachEndpointsQueueAgeAndLatency() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            let (other, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.5)
            #expect(try receiver.deliveries().count == 2)
            // Half an hour on the manual clock between the event and its first attempt.
            for webhook in [id, other] {
                #expect(try await Self.endpointGauge(h, "nudge_webhook_endpoint_queue_age_seconds", webhook) == 1_800)
                let latency = try #require(try await Self.endpointGauge(h, "nudge_webhook_endpoint_latency_seconds", webhook))
                #expect(latency >= 0 && latency < 10)
            }
        }
    }

    /// A 302 is an answer, not a way elsewhere: its target is never asked, and the delivery
    /// fails with the status recorded. Retried by hand, a failed delivery is sent again.
    @Test func redirectsAreNotFollowedAndAFailedDeliveryCanBeRetried() async throws {
        let receiver = try await TestWebhookReceiver()
        let elsewhere = try await TestWebhookReceiver()
        try receiver.setMode("302 \(elsewhere.url)")
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 1)
            let event = try #require(try await Self.feed(h).first)
            #expect(try receiver.deliveries().map(\.answered) == [302])
            #expect(try elsewhere.deliveries().isEmpty)
            let failed = try #require(try await Self.delivery(h, id, event: event))
            #expect(failed["state"]?.string == "failed" && failed["attempt_count"] == .number(1), "\(failed)")
            #expect(failed["attempts"]?.items.first?["status_code"] == .number(302) && failed["next_attempt_at"] == nil, "\(failed)")

            try receiver.setMode("ok")
            let retried = try await h.call(.post, "/v1/webhooks/\(id)/deliveries/\(failed["id"]?.string ?? "")/retry/")
            #expect(retried.status == 202 && retried["state"]?.string == "pending", "\(retried.body)")
            try await Self.advance(h, hours: 0.01)
            let got = try receiver.deliveries()
            #expect(got.map(\.id) == [event, event] && got.last?.answered == 200 && got.last?.verified == [0])
            #expect(try await Self.delivery(h, id, event: event)?["state"]?.string == "delivered")
            #expect(try elsewhere.deliveries().isEmpty)
        }
    }

    @Test func aDisabledEndpointGetsNothing() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            #expect(try receiver.deliveries().count == 1)
            // Events committed before and after the change, none sent yet.
            try await Self.events(h, 1)
            let disabled = try await h.call(.patch, "/v1/webhooks/\(id)/", #"{"disabled": true}"#)
            #expect(disabled.status == 200 && disabled["disabled"] == .bool(true), "\(disabled.body)")
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 1)
            let test = try await h.call(.post, "/v1/webhooks/\(id)/test/")
            #expect(test.status == 202)
            try await Self.advance(h, hours: 1)
            #expect(try receiver.deliveries().count == 1)
        }
    }

    /// `Retry-After` as an HTTP date (RFC 9110) is honoured like a number of seconds.
    @Test func retryAfterAsAnHTTPDateIsHonoured() async throws {
        let receiver = try await TestWebhookReceiver()
        try receiver.setMode("429 date 20000")
        try await Self.run { h in
            let (id, _) = try await Self.endpoint(h, receiver)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            let event = try #require(try await Self.feed(h).first)
            let d = try #require(try await Self.delivery(h, id, event: event))
            let last = try #require(d["attempts"]?.items.first)
            #expect(last["status_code"] == .number(429))
            let at = try #require(last["attempted_at"]?.string.flatMap(RFC3339.parse))
            let next = try #require(last["next_retry_at"]?.string.flatMap(RFC3339.parse))
            // The date has whole seconds, and the first backoff is 10 s at most 12.5.
            #expect(next.timeIntervalSince(at) >= 19_990, "\(last)")
            // Not before.
            try receiver.setMode("ok")
            try await Self.advance(h, hours: 5)
            #expect(try receiver.deliveries().count == 1)
            try await Self.advance(h, hours: 0.6)
            #expect(try receiver.deliveries().map(\.answered) == [429, 200])
        }
        #expect(WebhookSender.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0)
        #expect(WebhookSender.retryAfter("soon") == nil)
    }

    /// The latest delivery verifies with exactly the secrets at `indexes`, one signature each.
    static func expectLastSigned(by indexes: [Int], _ receiver: TestWebhookReceiver) throws {
        let last = try #require(try receiver.deliveries().last)
        #expect(last.verified == indexes && last.signatures == indexes.count, "\(last)")
    }

    /// A second rotation within 24 h of the first retires one more secret without dropping the
    /// first: a receiver mid-rotation, still on any of them, keeps verifying until each's 24 h end.
    @Test func everySecretARotationRetiresSignsForItsOwn24Hours() async throws {
        let receiver = try await TestWebhookReceiver()
        try await Self.run { h in
            let (id, first) = try await Self.endpoint(h, receiver)
            let r1 = try await h.call(.post, "/v1/webhooks/\(id)/rotate-secret/")
            try await Self.advance(h, hours: 1)
            let r2 = try await h.call(.post, "/v1/webhooks/\(id)/rotate-secret/")
            let second = try #require(r1["secret"]?.string)
            let third = try #require(r2["secret"]?.string)
            try receiver.setSecrets([first, second, third])
            let expires = try #require(r2["previous_secret_expires_at"]?.string.flatMap(RFC3339.parse))
            #expect(abs(expires.timeIntervalSince(h.clock.now()) - 24 * 3600) < 1, "\(r2.body)")
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            try Self.expectLastSigned(by: [0, 1, 2], receiver)
            // 24 h after the first rotation its secret stops; the second's goes on an hour more.
            try await Self.advance(h, hours: 23.5)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            try Self.expectLastSigned(by: [1, 2], receiver)
            try await Self.advance(h, hours: 1)
            try await Self.events(h, 1)
            try await Self.advance(h, hours: 0.01)
            try Self.expectLastSigned(by: [2], receiver)
            #expect(try receiver.deliveries().count == 3)
        }
    }
}
