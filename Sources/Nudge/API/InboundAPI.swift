import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/inboxes/{id}/messages/inbound/`: one raw RFC 5322 message, as an MTA pipe or a
/// provider's inbound webhook delivers it. The same Message-ID again (a webhook retry) returns
/// the first result with 200 and changes nothing.
struct InboundAPI {
    let processor: InboundProcessor

    func register(_ r: ScopedRouter) {
        r.post("/v1/inboxes/:id/messages/inbound", .inboundWrite) { req, ctx in
            let inbox = try ctx.id("id", .inb, what: "inbox")
            let buffer: ByteBuffer
            do { buffer = try await req.body.collect(upTo: InboundLimits.maxBytes) } catch is NIOTooManyBytesError { throw APIError.tooLarge(InboundLimits.maxBytes) }
            guard buffer.readableBytes > 0 else { throw APIError.validation("body", "The request body must be one raw RFC 5322 message (Content-Type: message/rfc822).") }
            let bytes = Array(buffer.readableBytesView)
            guard bytes.contains(UInt8(ascii: ":")) else {
                throw APIError.validation("body", "The request body does not look like an RFC 5322 message (no header fields).")
            }
            guard let (result, replayed) = try await processor.process(org: ctx.org, inboxID: inbox, raw: bytes) else { throw APIError.notFound("inbox") }
            return try JSONCoding.response(result, status: replayed ? .ok : .accepted)
        }
    }
}
