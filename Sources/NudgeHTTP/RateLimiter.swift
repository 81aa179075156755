import Foundation
import HTTPTypes
import NudgeCore
import NudgeStore
import NudgeWorkers
import Synchronization

/// Per-token token bucket: `perSecond` sustained, `burst` at once. Over the limit: 429 with
/// `Retry-After`; every answer carries `RateLimit-Limit` and `RateLimit-Remaining`.
public final class RateLimiter: Sendable {
    package struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
    }
    package let perSecond: Double
    package let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// Takes one request from the token's bucket; returns what is left or throws a 429.
    package func take(_ key: String) throws -> Int {
        let now = ContinuousClock.now
        let (allowed, left, wait): (Bool, Double, Double) = buckets.withLock { b in
            var bucket = b[key] ?? Bucket(tokens: burst, at: now)
            let elapsed = Double((now - bucket.at).nanoseconds) / 1e9
            bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
            bucket.at = now
            defer { b[key] = bucket }
            if b.count > 100_000 { b.removeAll(keepingCapacity: true) }  // bound memory; refills are cheap
            guard bucket.tokens >= 1 else { return (false, 0, (1 - bucket.tokens) / perSecond) }
            bucket.tokens -= 1
            return (true, bucket.tokens, 0)
        }
        guard allowed else {
            var e = APIError(.tooManyRequests, "rate_limited", "Too many requests for this token; retry after the time in Retry-After.")
            e.headers[.retryAfter] = String(max(1, Int(wait.rounded(.up))))
            e.headers[HTTPField.Name("RateLimit-Limit")!] = String(Int(burst))
            e.headers[HTTPField.Name("RateLimit-Remaining")!] = "0"
            throw e
        }
        return Int(left)
    }
}
