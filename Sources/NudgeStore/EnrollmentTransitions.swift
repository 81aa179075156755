import Foundation
import NudgeCore

/// The guard every statement that sets `enrollments.state` carries: the row must be in one of
/// the states `EnrollmentState.transitions` allows the new state to be entered from. Raw values
/// of a closed enum, so the list is static SQL text, not a bound parameter, and plans stay as
/// they were with literal lists.
extension EnrollmentState {
    /// `'active', 'paused'` for `.exited`: the SQL list of the states `target` may follow.
    package static func sqlSources(of target: EnrollmentState) -> String {
        sources(of: target).map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }
}

/// A column held a value its enum does not know: a newer writer, or a damaged row. Reported,
/// never read as a default.
package struct UnknownStoredValue: Error, CustomStringConvertible {
    package let column: String
    package let value: String
    package var description: String { "\(column) holds an unknown value \"\(value.prefix(64))\"" }
}

extension RawRepresentable where RawValue == String {
    /// The enum case a column stores.
    package static func stored(_ raw: String, column: String) throws -> Self {
        guard let v = Self(rawValue: raw) else { throw UnknownStoredValue(column: column, value: raw) }
        return v
    }
}
