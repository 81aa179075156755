import Foundation
import Logging
import NudgeCore
import NudgeMIME
import NudgeStore

/// What an absence notice does to the running enrollments it concerns, by their sequence's
/// `on_out_of_office`: hold them (keeping the step's remaining wait), end them, or nothing.
package enum OutOfOfficeHolds {
    /// Returns the enrollments held or ended; their events go to `events`.
    package static func apply(
        org: String, messageID: String, targets: [String], returnDate: OutOfOffice.ReturnDate?, now: Date,
        events: inout [PendingEvent], _ conn: StoreConnection, logger: Logger
    ) async throws -> [String] {
        let contexts = try await EnrollmentStore.holdContext(org: org, ids: targets, conn, logger: logger)
        var holds: [NewHold] = []
        var exits: [String] = []
        for c in contexts {
            switch c.action {
            case .ignore: continue
            case .exit: exits.append(c.id)
            case .hold:
                let until = HoldSchedule.heldUntil(
                    returnDay: returnDate?.date, received: now, defaultDays: c.defaultDays, window: c.sendWindow,
                    timeZone: TimeZone(identifier: c.sendingTimeZone) ?? .gmt)
                holds.append(
                    NewHold(
                        id: c.id, heldUntil: until,
                        nextDueAt: HoldSchedule.nextDue(heldUntil: until, dueAt: c.nextDueAt, received: now, previousHoldEnd: c.heldUntil),
                        returnDate: returnDate?.date.description, sentence: returnDate.map { String($0.sentence.prefix(1000)) }))
            }
        }
        let held = Set(try await EnrollmentStore.hold(org: org, holds, now: now, conn, logger: logger))
        let contactOf = Dictionary(contexts.map { ($0.id, $0.contactID) }, uniquingKeysWith: { a, _ in a })
        for h in holds where held.contains(h.id) {
            events.append(
                PendingEvent(
                    org: org, type: .enrollmentHeld,
                    [
                        "enrollment_id": .string(h.id), "contact_id": .str(contactOf[h.id]), "message_id": .string(messageID),
                        "hold_reason": .string("out_of_office"), "return_date": .str(h.returnDate), "sentence": .str(h.sentence),
                        "held_until": .string(RFC3339.string(h.heldUntil)), "next_due_at": .string(RFC3339.string(h.nextDueAt)),
                    ]))
        }
        let ended =
            exits.isEmpty
            ? []
            : try await EnrollmentStore.finish(
                org: org, enrollmentIDs: exits, state: .exited, reason: .out_of_office, detail: "out of office \(messageID)",
                now: now, events: &events, conn, logger: logger)
        return holds.map(\.id).filter(held.contains) + ended
    }
}
