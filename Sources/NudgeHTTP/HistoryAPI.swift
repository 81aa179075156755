import Foundation
import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// The inbox's history: threads, messages and their raw source.
package struct HistoryAPI {
    package let store: HistoryStore

    package func register(_ r: ScopedRouter) {
        r.get("/v1/inboxes/:id/threads", .inboxesRead) { req, ctx in
            let inbox = try ctx.id("id", .inb, what: "inbox")
            guard let page = try await store.threads(org: ctx.org, inboxID: inbox, page: PageRequest(req)) else { throw NudgeError.notFound("inbox") }
            return page.response()
        }
        r.get("/v1/threads", .inboxesRead) { req, ctx in
            let (inbox, before) = try Self.awaitingFilter(req)
            guard let page = try await store.awaitingReply(org: ctx.org, inboxID: inbox, sentBefore: before, page: PageRequest(req)) else {
                throw NudgeError.notFound("inbox")
            }
            return page.response()
        }
        r.get("/v1/threads/:id", .inboxesRead) { _, ctx in
            guard let (t, newest) = try await store.thread(org: ctx.org, id: try ctx.id("id", .thr, what: "thread")) else {
                throw NudgeError.notFound("thread")
            }
            return try Self.thread(t, newest)
        }
        r.get("/v1/threads/:id/messages", .inboxesRead) { req, ctx in
            let id = try ctx.id("id", .thr, what: "thread")
            guard let page = try await store.messages(org: ctx.org, threadID: id, page: PageRequest(req)) else { throw NudgeError.notFound("thread") }
            return page.response()
        }
        r.get("/v1/messages/:id", .inboxesRead) { _, ctx in
            guard let m = try await store.message(org: ctx.org, id: try ctx.id("id", .msg, what: "message")) else {
                throw NudgeError.notFound("message")
            }
            return try JSONCoding.response(m)
        }
        r.get("/v1/messages/:id/raw", .inboxesRead) { _, ctx in
            guard let raw = try await store.raw(org: ctx.org, id: try ctx.id("id", .msg, what: "message")) else {
                throw NudgeError.notFound("message")
            }
            return Response(status: .ok, headers: [.contentType: "message/rfc822"], body: .init(byteBuffer: raw))
        }
    }

    /// `awaiting_reply=true` (required: the list across inboxes is that of threads awaiting a
    /// reply), `inbox_id` and `last_sent_before`, each checked with a 422 naming it.
    static func awaitingFilter(_ req: Request) throws -> (inbox: String?, before: Date?) {
        guard try req.query("awaiting_reply") == "true" else {
            throw NudgeError.validation(
                "awaiting_reply", "awaiting_reply must be true: this list is of threads awaiting a reply (GET /v1/inboxes/{id}/threads lists all).")
        }
        let inbox = try req.query("inbox_id")
        if let inbox, !ID.isValid(inbox, .inb) { throw NudgeError.validation("inbox_id", "No inbox \(inbox.prefix(64)) in this organization.") }
        let before = try req.query("last_sent_before").map { raw in
            guard let d = RFC3339.parse(raw) else {
                throw NudgeError.validation("last_sent_before", "last_sent_before must be an RFC 3339 timestamp such as 2026-12-01T09:00:00Z.")
            }
            return d
        }
        return (inbox, before)
    }

    /// The thread with `messages`, oldest first: its newest messages (`HistoryStore.thread`), and
    /// `messages_next_cursor`, the `cursor` of `GET /v1/threads/{id}/messages` for the older
    /// ones, when some were left out. Each message is encoded once, as the page took it.
    package static func thread(_ t: ThreadRecord, _ newest: EncodedPage) throws -> Response {
        var object = try JSONCoding.encoder.encode(t)
        object.removeLast()  // the closing brace: a thread always has fields before it
        var body = ByteBuffer()
        body.reserveCapacity(object.count + newest.bytes + 128)
        body.writeBytes(object)
        body.writeString(#","messages":["#)
        for (i, item) in newest.items.reversed().enumerated() {
            if i > 0 { body.writeString(",") }
            body.writeBytes(item)
        }
        body.writeString("]")
        // The cursor is base64url: nothing in it needs escaping.
        if let cursor = newest.nextCursor { body.writeString(#","messages_next_cursor":""# + cursor + "\"") }
        body.writeString("}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }

    package init(store: HistoryStore) {
        self.store = store
    }
}
