import Dispatch

/// One SMTP lane: a serial DispatchQueue that owns a `CurlEasy`. libcurl's blocking calls run
/// on that queue, never on Swift's cooperative pool, and the handle (with its open connection)
/// is only ever touched from it; that confinement is why `@unchecked Sendable` is sound.
final class Lane: @unchecked Sendable {
    private let queue: DispatchQueue
    private let easy: CurlEasy

    init(index: Int, config: CurlEasy.Config) {
        queue = DispatchQueue(label: "nudge.smtp.lane.\(index)")
        easy = CurlEasy(config: config)
    }

    func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async -> Result<SMTPOutcome, SMTPError> {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: self.easy.send(envelopeFrom: envelopeFrom, recipients: recipients, message: message))
            }
        }
    }
}

/// Hands out idle lanes; callers beyond the lane count wait (asynchronously, FIFO) for a release.
public actor LanePool<Element: Sendable> {
    private var idle: [Element]
    private var waiters: [CheckedContinuation<Element, Never>] = []

    public init(_ elements: [Element]) { idle = elements }

    public func acquire() async -> Element {
        if let element = idle.popLast() { return element }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func release(_ element: Element) {
        if waiters.isEmpty {
            idle.append(element)
        } else {
            waiters.removeFirst().resume(returning: element)
        }
    }
}
