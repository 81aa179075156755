import Foundation
import Hummingbird

/// The inbox's history: threads, messages and their raw source.
struct HistoryAPI {
    let store: HistoryStore

    func register(_ r: ScopedRouter) {
        r.get("/v1/inboxes/:id/threads", .inboxesRead) { req, ctx in
            let inbox = try ctx.id("id", .inb, what: "inbox")
            guard let page = try await store.threads(org: ctx.org, inboxID: inbox, page: PageRequest(req)) else { throw APIError.notFound("inbox") }
            return try JSONCoding.response(page)
        }
        r.get("/v1/threads/:id", .inboxesRead) { _, ctx in
            guard let t = try await store.thread(org: ctx.org, id: try ctx.id("id", .thr, what: "thread")) else { throw APIError.notFound("thread") }
            return try JSONCoding.response(t)
        }
        r.get("/v1/messages/:id", .inboxesRead) { _, ctx in
            guard let m = try await store.message(org: ctx.org, id: try ctx.id("id", .msg, what: "message")) else { throw APIError.notFound("message") }
            return try JSONCoding.response(m)
        }
        r.get("/v1/messages/:id/raw", .inboxesRead) { _, ctx in
            guard let raw = try await store.raw(org: ctx.org, id: try ctx.id("id", .msg, what: "message")) else { throw APIError.notFound("message") }
            return Response(status: .ok, headers: [.contentType: "message/rfc822"], body: .init(byteBuffer: raw))
        }
    }
}
