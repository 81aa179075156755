/// Where one event's delivery to one endpoint stands (`webhook_deliveries.state`).
public enum WebhookDeliveryState: String, Sendable, CaseIterable, Codable {
    /// Not yet answered with a 2xx: waiting its turn, in flight, or waiting for its next retry.
    case pending
    case delivered
    /// No more attempts: a non-retryable answer, retried for too long, or the endpoint answered 410.
    case failed
}
