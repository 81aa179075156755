import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeCore
@testable import NudgeWorkers

/// An endpoint's controls and answers: metrics per endpoint, rotations in quick succession.
extension WebhookTests {
    /// The value of the `/metrics` series `name{webhook_id="id"}`.
    static func endpointGauge(_ h: Harness, _ name: String, _ id: String) async throws -> Double? {
        let metrics = try await h.callWithoutAuth(.get, "/metrics")
        let prefix = #"\#(name){webhook_id="\#(id)"} "#
        return metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func metricsShowEachEndpointsQueueAgeAndLatency() async throws {
        let receiver = try TestWebhookReceiver()
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

    /// The latest delivery verifies with exactly the secrets at `indexes`, one signature each.
    static func expectLastSigned(by indexes: [Int], _ receiver: TestWebhookReceiver) throws {
        let last = try #require(try receiver.deliveries().last)
        #expect(last.verified == indexes && last.signatures == indexes.count, "\(last)")
    }

    /// A second rotation within 24 h of the first retires one more secret without dropping the
    /// first: a receiver mid-rotation, still on any of them, keeps verifying until each's 24 h end.
    @Test func everySecretARotationRetiresSignsForItsOwn24Hours() async throws {
        let receiver = try TestWebhookReceiver()
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
