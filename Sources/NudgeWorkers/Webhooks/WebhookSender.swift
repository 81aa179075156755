import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NudgeCore
import NudgeStore
import ServiceLifecycle

/// Sends webhook deliveries (README, "Webhooks"): Standard Webhooks headers and signatures, at
/// least once, each endpoint's events in feed order, retries with exponential backoff and jitter.
/// Up to `config.webhookConcurrency` attempts run at once, at most one per endpoint, and a new one
/// starts as soon as a slot is free: an endpoint that takes its full 10 s holds one slot and delays
/// no other endpoint or organization.
public struct WebhookSender: Service {
    package let services: NudgeServices
    package var store: WebhookStore { WebhookStore(db: services.db) }
    package var logger: Logger { services.logger }

    /// The policy, documented in the README.
    package static let timeout: TimeAmount = .seconds(10)
    package static let orderBound: TimeInterval = 24 * 3600
    package static let giveUpAfter: TimeInterval = 5 * 86_400
    package static let disableAfter: TimeInterval = 5 * 86_400
    package static let lease: TimeInterval = 60
    package static let excerptBytes = 1_024

    public init(services: NudgeServices) { self.services = services }

    public func run() async throws {
        let slots = max(1, services.config.webhookConcurrency)
        // `true`: an attempt ended (a slot is free); `false`: the poll tick, so new work is looked
        // for while every slot is busy with slow endpoints.
        await withTaskGroup(of: Bool.self) { group in
            var busy = 0
            var ticking = false
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                var claimed: [ClaimedWebhookDelivery] = []
                if busy < slots {
                    do {
                        _ = try await store.enqueue(limit: 500, now: services.clock.now())
                        let now = services.clock.now()
                        claimed = try await store.claim(
                            now: now, leaseUntil: now.addingTimeInterval(Self.lease), limit: slots - busy, orderBound: Self.orderBound)
                    } catch {
                        logger.warning("webhook claim failed", metadata: ["error": "\(error)"])
                    }
                }
                for d in claimed {
                    busy += 1
                    group.addTask {
                        await attempt(d)
                        return true
                    }
                }
                if !ticking {
                    ticking = true
                    let poll = services.config.pollInterval
                    group.addTask {
                        try? await gracefulShutdownOrSleep(poll)
                        return false
                    }
                }
                if claimed.isEmpty || busy == slots {
                    guard let freed = await group.next() else { continue }
                    if freed { busy -= 1 } else { ticking = false }
                }
            }
            group.cancelAll()
        }
    }

    /// Everything due now, to completion (the manual clock's `advance`).
    public func drain() async throws {
        for _ in 0..<100_000 {
            _ = try await store.enqueue(limit: 500, now: services.clock.now())
            let now = services.clock.now()
            let claimed = try await store.claim(
                now: now, leaseUntil: now.addingTimeInterval(Self.lease), limit: max(1, services.config.webhookConcurrency),
                orderBound: Self.orderBound)
            if claimed.isEmpty { return }
            await withTaskGroup(of: Void.self) { group in
                for d in claimed { group.addTask { await attempt(d) } }
            }
        }
    }

    /// The body: the event exactly as `GET /v1/events/` lists it.
    package struct Body: Encodable {
        let id: String
        let type: String
        let data: JSONValue
        let created_at: Date
    }

    /// One attempt, its outcome kept. Never throws: a failure to record is logged, and the lease
    /// running out makes the delivery due again.
    package func attempt(_ d: ClaimedWebhookDelivery) async {
        let now = services.clock.now()
        Metrics.Timer(label: "nudge_webhook_queue_age_seconds").recordSeconds(max(0, now.timeIntervalSince(d.eventCreatedAt)))
        let started = ContinuousClock.now
        let result: WebhookAttempt
        var retryAfter: TimeInterval?
        do {
            let (status, excerpt, after) = try await send(d)
            retryAfter = after
            result = WebhookAttempt(statusCode: status, latencyMs: Self.millis(since: started), responseBody: excerpt, error: nil)
        } catch {
            result = WebhookAttempt(statusCode: nil, latencyMs: Self.millis(since: started), responseBody: nil, error: Self.describe(error))
        }
        Metrics.Timer(label: "nudge_webhook_latency_seconds").recordNanoseconds(Int64(result.latencyMs) * 1_000_000)
        let verdict = Self.verdict(status: result.statusCode, attempt: d.attempt, firstAttemptAt: d.firstAttemptAt, retryAfter: retryAfter, now: now)
        Counter(label: "nudge_webhook_deliveries_total", dimensions: [("outcome", Self.outcome(verdict))]).increment()
        do {
            try await store.record(d, result, verdict: verdict, disableAfter: Self.disableAfter, now: services.clock.now())
        } catch {
            logger.warning("webhook attempt not recorded", metadata: ["delivery": "\(d.id)", "error": "\(error)"])
        }
    }

    /// 2xx ends it; 410 disables the endpoint; no answer (timeout, connection error, an address
    /// refused at connect time), 429 and 5xx are retried for 5 days since the first attempt; any
    /// other answer (3xx: redirects are not followed, other 4xx) fails the delivery at once.
    package static func verdict(status: Int?, attempt: Int, firstAttemptAt: Date, retryAfter: TimeInterval?, now: Date) -> WebhookVerdict {
        switch status {
        case (200..<300)?: return .delivered
        case 410?: return .gone
        case nil, 429?, (500..<600)?:
            let at = now.addingTimeInterval(max(backoff(attempt: attempt), min(retryAfter ?? 0, 86_400)))
            return at.timeIntervalSince(firstAttemptAt) >= giveUpAfter ? .failed : .retry(at: at)
        default: return .failed
        }
    }

    /// 10 s doubling per attempt up to 1 h, times a random factor in [0.75, 1.25] so that endpoints
    /// that failed together do not come back together.
    package static func backoff(attempt: Int) -> TimeInterval {
        min(10 * pow(2, Double(min(attempt, 20) - 1)), 3_600) * Double.random(in: 0.75...1.25)
    }

    private static func outcome(_ v: WebhookVerdict) -> String {
        switch v {
        case .delivered: "delivered"
        case .retry: "retry"
        case .failed: "failed"
        case .gone: "gone"
        }
    }

    private static func millis(since started: ContinuousClock.Instant) -> Int {
        let d = ContinuousClock.now - started
        return Int(d.components.seconds * 1_000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    private static func describe(_ error: any Error) -> String {
        if let e = error as? NudgeError { return String(e.message.prefix(300)) }
        if let e = error as? HTTPClientError, e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            return "timed out after 10 s"
        }
        return String("\(error)".prefix(300))
    }

    /// Signs and posts the event to the address checked just now (`WebhookAddress.pinned`): the
    /// client's `dnsOverride` maps the URL's host to that address, so TLS still verifies the name
    /// and sends it as SNI, and the Host header is the URL's. Redirects are not followed.
    private func send(_ d: ClaimedWebhookDelivery) async throws -> (Int, String, TimeInterval?) {
        let secrets = WebhookSecrets(secret: services.config.secret)
        var keys = [try secrets.open(d.sealedSecret, org: d.org, webhookID: d.webhookID)]
        if let previous = d.sealedPreviousSecret { keys.append(try secrets.open(previous, org: d.org, webhookID: d.webhookID)) }
        let body = try JSONCoding.encoder.encode(
            Body(id: d.eventID, type: d.eventType, data: JSONValue.parse(d.eventData) ?? .object([:]), created_at: d.eventCreatedAt))
        // Standard Webhooks timestamps are the wall clock's (receivers compare them with theirs).
        let timestamp = Int(Date().timeIntervalSince1970)
        let target = try WebhookAddress.pinned(d.url, allowHTTP: services.config.dev, allowPrivate: services.config.webhookAllowPrivate)

        var config = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: Self.timeout, read: Self.timeout))
        config.connectionPool = .init(idleTimeout: .seconds(1), concurrentHTTP1ConnectionsPerHostSoftLimit: 1)
        if WebhookAddress.isNumeric(target.host) == false { config.dnsOverride = [target.host: target.address] }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        do {
            let out = try await post(d, body: body, keys: keys, timestamp: timestamp, client: client)
            try? await client.shutdown()
            return out
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func post(_ d: ClaimedWebhookDelivery, body: Data, keys: [String], timestamp: Int, client: HTTPClient) async throws -> (
        Int, String, TimeInterval?
    ) {

        var request = HTTPClientRequest(url: d.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Nudge-Webhooks/1")
        request.headers.add(name: "webhook-id", value: d.eventID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature", value: WebhookSecrets.signature(id: d.eventID, timestamp: timestamp, body: Array(body), secrets: keys))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, deadline: .now() + Self.timeout)
        var excerpt = ByteBuffer()
        var read = 0
        // The first 1 KiB is kept; the rest is read (up to 64 KiB, within the deadline) and dropped.
        for try await var chunk in response.body {
            read += chunk.readableBytes
            if excerpt.readableBytes < Self.excerptBytes,
                let part = chunk.readSlice(length: min(chunk.readableBytes, Self.excerptBytes - excerpt.readableBytes))
            {
                excerpt.writeImmutableBuffer(part)
            }
            if read > 65_536 { break }
        }
        let retryAfter = response.headers.first(name: "retry-after").flatMap(Self.retryAfter)
        return (Int(response.status.code), String(decoding: excerpt.readableBytesView, as: UTF8.self), retryAfter)
    }

    /// `Retry-After`: seconds, or an HTTP date.
    package static func retryAfter(_ value: String) -> TimeInterval? {
        if let s = Int(value.trimmingCharacters(in: .whitespaces)), s >= 0 { return TimeInterval(s) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
    }
}
