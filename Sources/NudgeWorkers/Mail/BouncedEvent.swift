import NudgeCore
import NudgeMIME
import NudgeStore

/// What a `message.bounced` event lists of its bounce report's recipients. A report may name any
/// number (it is only bounded by the 25 MiB inbound limit), and an events page holds up to 200
/// events: each lists the first `listed`, with its address and status cut short, and
/// `recipients_total` says how many the report named. The message's `details` keep them all.
package enum BouncedEvent {
    package static let listed = 50

    /// `matched`: whether the report matches mail Nudge sent to that address.
    package static func recipients(_ all: [BounceRecipient], matched: (String) -> Bool) -> JSONValue {
        .array(
            all.prefix(listed).map {
                .object([
                    "email": .string(cut($0.address, 320)), "status": .str($0.status.map { cut($0, 64) }), "permanent": .bool($0.permanent),
                    "matched": .bool(matched($0.address)),
                ])
            })
    }

    /// The first `n` code points (a `Character` may hold any number of combining marks).
    package static func cut(_ s: String, _ n: Int) -> String {
        s.unicodeScalars.count <= n ? s : String(String.UnicodeScalarView(s.unicodeScalars.prefix(n)))
    }

    package static func total(_ all: [BounceRecipient]) -> JSONValue { .number(Double(all.count)) }
}
