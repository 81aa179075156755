import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Time in tests (`--dev --clock manual` only): `advance` moves the clock and returns once all
/// work due by the new time is done (sends, judgements, retries).
package struct ClockAPI {
    package let services: NudgeServices
    package let clock: ManualClock

    package struct Body: Decodable { let seconds: Double? }
    package struct Now: Encodable { let now: Date }

    package func register(_ r: ScopedRouter) {
        r.get("/v1/_clock", .admin) { _, _ in try JSONCoding.response(Now(now: clock.now())) }
        r.post("/v1/_clock/advance", .admin) { req, _ in
            let b = try await JSONCoding.decode(Body.self, from: req)
            guard let s = b.seconds, s.isFinite, s >= 0, s <= 400 * 86_400 else {
                throw NudgeError.validation("seconds", "seconds must be a number from 0 to 34560000.")
            }
            clock.advance(seconds: s)
            try await services.drainWork()
            return try JSONCoding.response(Now(now: clock.now()))
        }
    }

    package init(services: NudgeServices, clock: ManualClock) {
        self.services = services
        self.clock = clock
    }
}
