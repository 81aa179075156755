import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeCore
@testable import NudgeWorkers

/// An endpoint's controls and answers: metrics per endpoint.
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
}
