import NudgeCore
import PostgresNIO

/// Composes one statement from prepared statements' fragments: each fragment numbers its
/// parameters from $1, so a fragment placed after another's parameters is renumbered here. Only
/// the static SQL text changes; values stay bound parameters.
package enum SQLParameters {
    /// `$n` becomes `$(n + offset)`. The fragments hold no string literals or dollar quotes with
    /// a `$` followed by a digit.
    package static func shifted(_ sql: String, by offset: Int) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 32)
        var digits = ""
        var afterDollar = false
        func flush() {
            if afterDollar { out += digits.isEmpty ? "$" : "$\(Int(digits)! + offset)" }
            afterDollar = false
            digits = ""
        }
        for ch in sql {
            if afterDollar, ch.isASCII, ch.isNumber {
                digits.append(ch)
                continue
            }
            flush()
            if ch == "$" { afterDollar = true } else { out.append(ch) }
        }
        flush()
        return out
    }
}

/// A prepared statement whose parameters can also be appended to a larger statement's (see
/// `SQLParameters.shifted`): it binds into given bindings, and binds alone through this default.
package protocol ComposableStatement: PostgresPreparedStatement {
    static var parameterCount: Int { get }
    func bind(into b: inout PostgresBindings)
}

extension ComposableStatement {
    package func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: Self.parameterCount)
        bind(into: &b)
        return b
    }
}
