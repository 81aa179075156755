import Foundation
import NudgeCore
import PostgresNIO
import Synchronization

/// "The SMTP server took this step's email", committed the moment it happens, outside the batch's
/// transaction. It narrows the window in which a crash causes a second send from a whole batch to
/// the one statement between the server's 250 and this commit.
package struct AcceptanceMark: Sendable {
    package let due: DueStep
    package let rfcID: String

    /// One statement for the marks gathered while the previous one committed. On failure it raises
    /// `trouble` at once (the batch starts nothing more) and tries again for up to 5 s, so a quick
    /// database restart does not turn these messages into duplicates.
    package static func write(_ marks: [AcceptanceMark], db: Database, trouble: MarkTrouble) async {
        let giveUp = ContinuousClock.now + .seconds(5)
        while true {
            do {
                try await DeliveryStore.markAccepted(marks, db: db)
                return
            } catch {
                trouble.raise()
                guard ContinuousClock.now < giveUp, !Task.isCancelled else {
                    db.logger.error(
                        "could not mark accepted emails; they may be sent again", metadata: ["error": "\(error)", "count": "\(marks.count)"])
                    return
                }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    package init(due: DueStep, rfcID: String) {
        self.due = due
        self.rfcID = rfcID
    }
}

/// Raised by the first failed mark: the batch's remaining messages are not started.
package final class MarkTrouble: Sendable {
    private let flag = Atomic<Bool>(false)

    package init() {}
    package var isSet: Bool { flag.load(ordering: .relaxed) }
    package func raise() { flag.store(true, ordering: .relaxed) }
}
