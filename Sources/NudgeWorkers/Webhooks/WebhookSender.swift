import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NudgeCore
import NudgeStore
import ServiceLifecycle
import Synchronization

/// Sends webhook deliveries (README, "Webhooks"): Standard Webhooks headers and signatures, at
/// least once, each endpoint's events in feed order, retries with exponential backoff and jitter.
/// A sender leases an endpoint and sends a run of its queue one after another over one keep-alive
/// connection, recording the outcomes in batches. Up to `config.webhookConcurrency` endpoints are
/// served at once, and free slots are filled every `claimGap`: an endpoint that takes its full
/// 10 s holds one slot and delays no other endpoint or organization.
public struct WebhookSender: Service {
    package let services: NudgeServices
    package var store: WebhookStore { WebhookStore(db: services.db) }
    package var logger: Logger { services.logger }
    private let clients: WebhookClients

    /// The policy, documented in the README.
    package static let timeout: TimeAmount = .seconds(10)
    package static let orderBound: TimeInterval = 24 * 3600
    package static let giveUpAfter: TimeInterval = 5 * 86_400
    package static let disableAfter: TimeInterval = 5 * 86_400
    /// How long an endpoint stays with a sender that stopped recording (it died): every recorded
    /// batch extends it, and a batch waits for at most one attempt (10 s).
    package static let lease: TimeInterval = 30
    package static let excerptBytes = 1_024
    /// A run: at most this many deliveries, started within `runTime` (well inside the lease, which
    /// every recorded batch extends), recorded every `recordEvery` attempts or `recordAfter`.
    package static let runLength = 100
    package static let runTime: Duration = .seconds(15)
    package static let recordEvery = 32
    package static let recordAfter: Duration = .milliseconds(50)
    package static let claimGap: Duration = .milliseconds(50)

    public init(services: NudgeServices) {
        self.services = services
        clients = WebhookClients(timeout: Self.timeout)
    }

    public func run() async throws {
        let slots = max(1, services.config.webhookConcurrency)
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let free = slots - inFlight.count.withLock { $0 }
                var claimed: [WebhookRun] = []
                if free > 0 {
                    do {
                        claimed = try await claim(endpoints: free)
                    } catch {
                        logger.warning("webhook claim failed", metadata: ["error": "\(error)"])
                    }
                }
                inFlight.count.withLock { $0 += claimed.count }
                for run in claimed {
                    group.addTask {
                        await send(run)
                        inFlight.count.withLock { $0 -= 1 }
                    }
                }
                // While runs are in flight, look again after a short gap: the endpoints that end
                // their runs meanwhile are taken together, so claims (each reads every endpoint's
                // queue head) stay a few per second however many runs end. Idle: the poll.
                let busy = inFlight.count.withLock { $0 } > 0
                try? await gracefulShutdownOrSleep(busy ? Self.claimGap : services.config.webhookPollInterval)
            }
            group.cancelAll()
        }
        await clients.shutdown()
    }

    /// Everything due now, to completion (the manual clock's `advance`).
    public func drain() async throws {
        do {
            for _ in 0..<100_000 {
                let claimed = try await claim(endpoints: max(1, services.config.webhookConcurrency))
                if claimed.isEmpty { break }
                await withTaskGroup(of: Void.self) { group in
                    for run in claimed { group.addTask { await send(run) } }
                }
            }
        } catch {
            await clients.shutdown()
            throw error
        }
        await clients.shutdown()
    }

    private func claim(endpoints: Int) async throws -> [WebhookRun] {
        _ = try await store.enqueue(limit: 500, now: services.clock.now())
        let now = services.clock.now()
        let slots = max(1, services.config.webhookConcurrency)
        return try await store.claim(
            now: now, lease: Self.lease, endpoints: endpoints, perOrg: max(1, slots / 4), runLength: Self.runLength)
    }

    /// The body: the event exactly as `GET /v1/events/` lists it.
    package struct Body: Encodable {
        let id: String
        let type: String
        let data: JSONValue
        let created_at: Date
    }

    /// Sends a run in order until it ends, one delivery is to be retried (what follows waits for
    /// it), the endpoint is gone, or the lease is lost. Never throws: a failure to record is
    /// logged, and the lease running out makes the rest due again.
    package func send(_ run: WebhookRun) async {
        let started = ContinuousClock.now
        var unrecorded: [WebhookAttempt] = []
        var recordedAt = started
        var target: Result<(WebhookAddress.Target, [String]), any Error>
        do {
            let secrets = services.webhookSecrets
            let keys = try ([run.sealedSecret] + run.sealedRetiredSecrets).map { try secrets.open($0, org: run.org, webhookID: run.webhookID) }
            let pinned = try await WebhookAddress.checked(
                run.url, allowHTTP: services.config.dev, allowPrivate: services.config.webhookAllowPrivate)
            target = .success((pinned, keys))
        } catch {
            target = .failure(error)
        }
        for d in run.deliveries {
            if ContinuousClock.now - started > Self.runTime || Task.isCancelled { break }
            let attempt = await attempt(d, of: run.webhookID, target: target)
            unrecorded.append(attempt)
            let goOn = attempt.verdict == .delivered || attempt.verdict == .failed
            guard goOn else { break }
            if unrecorded.count >= Self.recordEvery || ContinuousClock.now - recordedAt >= Self.recordAfter {
                guard await record(run, unrecorded, final: false) else { return }
                unrecorded = []
                recordedAt = ContinuousClock.now
            }
        }
        _ = await record(run, unrecorded, final: true)
    }

    /// Keeps a batch of attempts; false when the run must stop (lease lost, endpoint disabled, or
    /// the database failed).
    private func record(_ run: WebhookRun, _ attempts: [WebhookAttempt], final: Bool) async -> Bool {
        let now = services.clock.now()
        do {
            return try await store.record(
                run, attempts, final: final, lease: Self.lease, orderBound: Self.orderBound,
                disableAfter: Self.disableAfter, now: now)
        } catch {
            logger.warning("webhook attempts not recorded", metadata: ["webhook": "\(run.webhookID)", "error": "\(error)"])
            return false
        }
    }

    /// One attempt and its verdict. Besides the histograms over every endpoint, two gauges per
    /// endpoint (one series each, where a labelled histogram has one per bucket): the age of the
    /// event at the endpoint's latest attempt (events go in order: the queue's head) and that
    /// attempt's latency.
    private func attempt(
        _ d: ClaimedWebhookDelivery, of webhookID: String, target: Result<(WebhookAddress.Target, [String]), any Error>
    ) async -> WebhookAttempt {
        let now = services.clock.now()
        let age = max(0, now.timeIntervalSince(d.eventCreatedAt))
        Metrics.Timer(label: "nudge_webhook_queue_age_seconds").recordSeconds(age)
        Gauge(label: "nudge_webhook_endpoint_queue_age_seconds", dimensions: [("webhook_id", webhookID)]).record(age)
        let started = ContinuousClock.now
        var status: Int?
        var excerpt: String?
        var error: String?
        var retryAfter: TimeInterval?
        do {
            let (pinned, keys) = try target.get()
            (status, excerpt, retryAfter) = try await post(d, to: pinned, keys: keys)
        } catch let e {
            error = Self.describe(e)
        }
        let latency = Self.millis(since: started)
        Metrics.Timer(label: "nudge_webhook_latency_seconds").recordNanoseconds(Int64(latency) * 1_000_000)
        Gauge(label: "nudge_webhook_endpoint_latency_seconds", dimensions: [("webhook_id", webhookID)]).record(Double(latency) / 1_000)
        let verdict = Self.verdict(status: status, attempt: d.attempt, firstAttemptAt: d.firstAttemptAt, retryAfter: retryAfter, now: now)
        Counter(label: "nudge_webhook_deliveries_total", dimensions: [("outcome", Self.outcome(verdict))]).increment()
        return WebhookAttempt(
            deliveryID: d.id, statusCode: status, latencyMs: latency, responseBody: excerpt, error: error, verdict: verdict, at: now)
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

    /// Signs and posts the event to the address checked for this run (`WebhookAddress.pinned`):
    /// the client's `dnsOverride` maps the URL's host to that address, so TLS still verifies the
    /// name and sends it as SNI, and the Host header is the URL's. Redirects are not followed.
    private func post(_ d: ClaimedWebhookDelivery, to target: WebhookAddress.Target, keys: [String]) async throws -> (
        Int, String, TimeInterval?
    ) {
        let body = try JSONCoding.encoder.encode(
            Body(id: d.eventID, type: d.eventType, data: JSONValue.parse(d.eventData) ?? .object([:]), created_at: d.eventCreatedAt))
        // Standard Webhooks timestamps are the wall clock's (receivers compare them with theirs).
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Nudge-Webhooks/1")
        request.headers.add(name: "webhook-id", value: d.eventID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature", value: WebhookSecrets.signature(id: d.eventID, timestamp: timestamp, body: Array(body), secrets: keys))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await clients.client(for: target).execute(request, deadline: .now() + Self.timeout)
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

/// Runs in flight, counted by the loop that starts them and by the runs as they end.
private final class InFlight: Sendable {
    let count = Mutex(0)
}
