import Foundation
import Synchronization

/// A circuit breaker around one transport (the relay of `NUDGE_SMTP_URL`, or the outbox): a
/// burst of server errors pauses sending through it, so a relay that answers "500 internal error"
/// to everything fails a few steps, not every step due. While paused, `send` throws
/// `SMTPError.paused` without contacting the server (the caller keeps the message due until then).
/// When the pause ends, one message is let through as a probe: if the server takes it, or refuses
/// it for its recipient alone, sending resumes; if not, the pause starts again, twice as long.
///
/// Server errors are 5xx replies not about a recipient: `SMTPError.rejected`, and the transient
/// 5xx before RCPT TO (authentication, MAIL FROM). 4xx replies and connection failures have their
/// own per-message backoff and do not count. The state is this process's.
public final class SendCircuit: MailTransport {
    public struct Policy: Sendable, Equatable {
        /// Server errors within `window`, with no message accepted meanwhile, that open the circuit.
        public var burst: Int
        public var window: TimeInterval
        /// The first pause; each failed probe doubles it, up to `maxPause`.
        public var pause: TimeInterval
        public var maxPause: TimeInterval
        /// While the probe is out, other messages wait this long.
        public var probeWait: TimeInterval
        /// 4xx replies and connection failures count too. An inbox's own account uses it: its
        /// waiting steps then follow one probe instead of each waiting out its own backoff.
        public var countsTransient = false

        /// 3 server errors within a minute pause sending for 5 minutes (then 10, 20, 40, 60).
        public static let standard = Policy(burst: 3, window: 60, pause: 300, maxPause: 3_600, probeWait: 30)

        public init(burst: Int, window: TimeInterval, pause: TimeInterval, maxPause: TimeInterval, probeWait: TimeInterval) {
            self.burst = burst
            self.window = window
            self.pause = pause
            self.maxPause = maxPause
            self.probeWait = probeWait
        }
    }

    struct State {
        var errors: [Date] = []
        var openUntil: Date?
        var nextPause: TimeInterval
        var probing = false
    }

    private let base: any MailTransport
    private let policy: Policy
    private let now: @Sendable () -> Date
    private let state: Mutex<State>
    /// As many as the transport has lanes: a message passes the circuit only when it can go out
    /// at once, so a burst fails at most `lanes - 1` messages more than `burst`, not every
    /// message queued behind the lanes.
    private let slots: LanePool<Int>

    /// `lanes`: the transport's parallel connections. `now` is the caller's clock (the server's
    /// manual clock in tests).
    public init(_ base: any MailTransport, lanes: Int = 1, policy: Policy = .standard, now: @escaping @Sendable () -> Date = { Date() }) {
        self.base = base
        self.policy = policy
        self.now = now
        state = Mutex(State(nextPause: policy.pause))
        slots = LanePool(Array(0..<max(1, lanes)))
    }

    /// When sending resumes, while the circuit is open.
    public var pausedUntil: Date? { state.withLock { $0.openUntil } }

    public func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
        let slot = await slots.acquire()
        do {
            let outcome = try await attempt(envelopeFrom: envelopeFrom, recipients: recipients, message: message)
            await slots.release(slot)
            return outcome
        } catch {
            await slots.release(slot)
            throw error
        }
    }

    private func attempt(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
        let start = now()
        let probe: Bool = try state.withLock { s in
            guard let until = s.openUntil else { return false }
            if start < until { throw SMTPError.paused(until: until) }
            if s.probing { throw SMTPError.paused(until: start.addingTimeInterval(policy.probeWait)) }
            s.probing = true
            return true
        }
        do {
            let outcome = try await base.send(envelopeFrom: envelopeFrom, recipients: recipients, message: message)
            record(serverError: false, answered: true, probe: probe)
            return outcome
        } catch let error as SMTPError {
            switch error {
            case .permanent: record(serverError: false, answered: true, probe: probe)
            case .rejected: record(serverError: true, answered: true, probe: probe)
            case .transient(let code?, _) where code >= 500: record(serverError: true, answered: true, probe: probe)
            case .transient: record(serverError: policy.countsTransient, answered: false, probe: probe)
            case .paused: record(serverError: false, answered: false, probe: probe)
            }
            throw error
        } catch {
            record(serverError: policy.countsTransient, answered: false, probe: probe)
            throw error
        }
    }

    /// `answered`: the server dealt with the message (took it, or refused it for its recipient).
    private func record(serverError: Bool, answered: Bool, probe: Bool) {
        let t = now()
        state.withLock { s in
            if probe { s.probing = false }
            if answered && !serverError {
                s.errors = []
                s.openUntil = nil
                s.nextPause = policy.pause
                return
            }
            if probe {
                // The server still fails (or is unreachable): pause again, longer.
                s.openUntil = t.addingTimeInterval(s.nextPause)
                s.nextPause = min(s.nextPause * 2, policy.maxPause)
                return
            }
            guard serverError else { return }
            s.errors = s.errors.filter { t.timeIntervalSince($0) < policy.window } + [t]
            if s.errors.count >= policy.burst, s.openUntil == nil {
                s.errors = []
                s.openUntil = t.addingTimeInterval(s.nextPause)
                s.nextPause = min(s.nextPause * 2, policy.maxPause)
            }
        }
    }
}
