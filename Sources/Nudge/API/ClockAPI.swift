import Foundation
import Hummingbird

/// Time in tests (`--dev --clock manual` only): `advance` moves the clock and returns once all
/// work due by the new time is done (sends, judgements, retries).
struct ClockAPI {
    let services: NudgeServices
    let clock: ManualClock

    struct Body: Decodable { let seconds: Double? }
    struct Now: Encodable { let now: Date }

    func register(_ r: ScopedRouter) {
        r.get("/v1/_clock", .admin) { _, _ in try JSONCoding.response(Now(now: clock.now())) }
        r.post("/v1/_clock/advance", .admin) { req, _ in
            let b = try await JSONCoding.decode(Body.self, from: req)
            guard let s = b.seconds, s.isFinite, s >= 0, s <= 400 * 86_400 else {
                throw APIError.validation("seconds", "seconds must be a number from 0 to 34560000.")
            }
            clock.advance(seconds: s)
            try await services.drainWork()
            return try JSONCoding.response(Now(now: clock.now()))
        }
    }
}
