import AsyncHTTPClient
import NIOCore

/// HTTP clients for webhook attempts, kept so that a run of deliveries to one endpoint reuses one
/// keep-alive connection. A client is made per checked address of a name (its `dnsOverride` pins
/// the name to that address, so TLS still verifies the name); numeric hosts share one client.
/// Redirects are never followed. The least recently used client beyond `capacity` is shut down.
actor WebhookClients {
    private var clients: [String: (client: HTTPClient, used: UInt64)] = [:]
    private var tick: UInt64 = 0
    private let capacity: Int
    private let timeout: TimeAmount

    init(capacity: Int = 256, timeout: TimeAmount) {
        self.capacity = capacity
        self.timeout = timeout
    }

    func client(for target: WebhookAddress.Target) -> HTTPClient {
        let key = WebhookAddress.isNumeric(target.host) ? "" : "\(target.host)\u{0}\(target.address)"
        tick += 1
        if let found = clients[key] {
            clients[key] = (found.client, tick)
            return found.client
        }
        var config = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout))
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 4)
        // A refused connection fails the attempt at once (the delivery's own backoff retries it)
        // instead of holding a sender for the whole connect timeout.
        config.connectionPool.retryConnectionEstablishment = false
        if !key.isEmpty { config.dnsOverride = [target.host: target.address] }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        clients[key] = (client, tick)
        if clients.count > capacity, let oldest = clients.min(by: { $0.value.used < $1.value.used }) {
            clients[oldest.key] = nil
            // A run may still be using it: it ends within a run's time bound.
            let evicted = oldest.value.client
            Task {
                try? await Task.sleep(for: .seconds(60))
                try? await evicted.shutdown()
            }
        }
        return client
    }

    func shutdown() async {
        let all = clients.values.map(\.client)
        clients = [:]
        for c in all { try? await c.shutdown() }
    }
}
