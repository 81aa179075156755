import Foundation

/// What an absence notice does to the enrollments it concerns (sequence setting `on_out_of_office`).
public enum OutOfOfficeAction: String, Codable, Sendable, CaseIterable {
    /// Hold until the return date plus one send-window day, keeping the step's remaining wait.
    case hold
    /// Nothing: the sequence goes on as if no reply came.
    case ignore
    /// End the enrollment (`exited`, reason `out_of_office`).
    case exit

    /// Days a hold lasts when the notice names no return date, unless the sequence says otherwise.
    public static let defaultDays = 7

    /// The settings as a request gives them: a 422 naming the field when out of range.
    package static func validated(_ action: String?, days: Int?) throws -> (OutOfOfficeAction?, Int?) {
        let a = try action.map { raw in
            guard let a = OutOfOfficeAction(rawValue: raw) else {
                throw NudgeError.validation("on_out_of_office", "on_out_of_office must be hold, ignore or exit.")
            }
            return a
        }
        if let days, !(1...365).contains(days) {
            throw NudgeError.validation("ooo_default_days", "ooo_default_days must be a whole number of days from 1 to 365.")
        }
        return (a, days)
    }
}
