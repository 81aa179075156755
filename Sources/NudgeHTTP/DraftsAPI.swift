import Foundation
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import NudgeCore
import NudgeStore

/// `/v1/drafts`: steps waiting for a person's approval (README, "Approval drafts").
package struct DraftsAPI {
    package let store: DraftStore
    package let clock: any NudgeClock

    package struct ApproveBody: Decodable {
        package var subject: String? = nil
        package var body: String? = nil
    }
    package struct RejectBody: Decodable {
        package let action: String?
    }

    package func register(_ r: ScopedRouter) {
        r.get("/v1/drafts", .draftsRead) { req, ctx in
            let state = try req.query("state").map { raw in
                guard DraftStore.states.contains(raw) else {
                    throw NudgeError.validation("state", "state must be one of \(DraftStore.states.joined(separator: ", ")).")
                }
                return raw
            }
            let enrollment = try req.query("enrollment_id")
            if let e = enrollment, !ID.isValid(e, .enr) { throw NudgeError.validation("enrollment_id", "enrollment_id must be an enrollment id.") }
            return try JSONCoding.response(try await store.list(org: ctx.org, state: state, enrollmentID: enrollment, page: PageRequest(req)))
        }
        r.get("/v1/drafts/:id", .draftsRead) { _, ctx in
            guard let d = try await store.get(org: ctx.org, id: try ctx.id("id", .drf, what: "draft")) else { throw NudgeError.notFound("draft") }
            return try JSONCoding.response(d)
        }
        r.post("/v1/drafts/:id/approve", .draftsWrite) { req, ctx in
            let id = try ctx.id("id", .drf, what: "draft")
            // The body is optional: without one the draft goes out as rendered.
            let buffer: ByteBuffer
            do {
                buffer = try await req.body.collect(upTo: JSONCoding.maxJSONBody)
            } catch is NIOTooManyBytesError {
                throw NudgeError.tooLarge(JSONCoding.maxJSONBody)
            }
            let b = buffer.readableBytes == 0 ? ApproveBody() : try JSONCoding.decode(ApproveBody.self, from: Data(buffer: buffer))
            if let s = b.subject {
                try Validate.text(s, "subject", max: 998, singleLine: true)
                guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw NudgeError.validation("subject", "subject must not be empty.") }
            }
            if let body = b.body {
                try Validate.text(body, "body", max: 100_000)
                guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw NudgeError.validation("body", "body must not be empty.")
                }
            }
            guard
                let d = try await store.decide(
                    org: ctx.org, id: id, .approve(subject: b.subject, body: b.body), tokenID: ctx.token.tokenID, now: clock.now())
            else { throw NudgeError.notFound("draft") }
            return try JSONCoding.response(d)
        }
        r.post("/v1/drafts/:id/reject", .draftsWrite) { req, ctx in
            let id = try ctx.id("id", .drf, what: "draft")
            let b = try await JSONCoding.decode(RejectBody.self, from: req)
            guard let action = b.action else { throw NudgeError.validation("action", "action is required: skip_step or exit.") }
            guard action == "skip_step" || action == "exit" else { throw NudgeError.validation("action", "action must be skip_step or exit.") }
            guard
                let d = try await store.decide(org: ctx.org, id: id, .reject(exit: action == "exit"), tokenID: ctx.token.tokenID, now: clock.now())
            else { throw NudgeError.notFound("draft") }
            return try JSONCoding.response(d)
        }
    }

    package init(store: DraftStore, clock: any NudgeClock) {
        self.store = store
        self.clock = clock
    }
}
