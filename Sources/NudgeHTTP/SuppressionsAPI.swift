import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct SuppressionsAPI {
    package let store: SuppressionStore
    package let clock: any NudgeClock

    package struct Body: Decodable {
        let email: String?
        let reason: String?
        let detail: String?
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/suppressions", .suppressionsWrite) { req, ctx in
            let b = try await JSONCoding.decode(Body.self, from: req)
            let address = try Mailbox.require(b.email, "email")
            let reason = b.reason ?? "manual"
            guard SuppressionStore.reasons.contains(reason) else {
                throw NudgeError.validation("reason", "reason must be one of \(SuppressionStore.reasons.joined(separator: ", ")).")
            }
            if let d = b.detail { try Validate.text(d, "detail", max: 1_000) }
            let (record, created) = try await store.create(org: ctx.org, address: address, reason: reason, detail: b.detail, now: clock.now())
            return try JSONCoding.response(record, status: created ? .created : .ok)
        }
        r.get("/v1/suppressions", .suppressionsRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, email: try req.query("email"), page: PageRequest(req)))
        }
        r.get("/v1/suppressions/:id", .suppressionsRead) { _, ctx in
            guard let s = try await store.get(org: ctx.org, id: try ctx.id("id", .sup, what: "suppression")) else {
                throw NudgeError.notFound("suppression")
            }
            return try JSONCoding.response(s)
        }
        r.delete("/v1/suppressions/:id", .suppressionsWrite) { _, ctx in
            guard let s = try await store.delete(org: ctx.org, id: try ctx.id("id", .sup, what: "suppression"), now: clock.now()) else {
                throw NudgeError.notFound("suppression")
            }
            return try JSONCoding.response(s)
        }
    }

    package init(store: SuppressionStore, clock: any NudgeClock) {
        self.store = store
        self.clock = clock
    }
}
