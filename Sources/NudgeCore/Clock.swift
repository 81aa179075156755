import Foundation
import Synchronization

/// The product's notion of "now". Production uses the system clock; `--dev --clock manual`
/// swaps in `ManualClock` so tests can move time forward deterministically.
public protocol NudgeClock: Sendable {
    func now() -> Date
}

public struct SystemClock: NudgeClock {
    public init() {}
    public func now() -> Date { Date() }
}

public final class ManualClock: NudgeClock {
    private let current: Mutex<Date>
    public init(start: Date = Date()) {
        // Whole seconds keep timestamps round-trippable through RFC 3339 and PostgreSQL.
        current = Mutex(Date(timeIntervalSince1970: start.timeIntervalSince1970.rounded(.down)))
    }
    public func now() -> Date { current.withLock { $0 } }
    @discardableResult
    public func advance(seconds: Double) -> Date {
        current.withLock {
            $0 = $0.addingTimeInterval(seconds)
            return $0
        }
    }
}
