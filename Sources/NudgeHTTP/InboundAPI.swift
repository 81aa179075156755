import Foundation
import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// `POST /v1/inboxes/{id}/messages/inbound/`: one raw RFC 5322 message, as an MTA pipe or a
/// provider's inbound webhook delivers it. The same Message-ID again (a webhook retry) returns
/// the first result with 200 and changes nothing.
package struct InboundAPI {
    package let processor: InboundProcessor

    package func register(_ r: ScopedRouter) {
        r.post("/v1/inboxes/:id/messages/inbound", .inboundWrite) { req, ctx in
            let inbox = try ctx.id("id", .inb, what: "inbox")
            let buffer: ByteBuffer
            do { buffer = try await req.body.collect(upTo: InboundLimits.maxBytes) } catch is NIOTooManyBytesError {
                throw NudgeError.tooLarge(InboundLimits.maxBytes)
            }
            guard buffer.readableBytes > 0 else {
                throw NudgeError.validation("body", "The request body must be one raw RFC 5322 message (Content-Type: message/rfc822).")
            }
            let bytes = Array(buffer.readableBytesView)
            guard bytes.contains(UInt8(ascii: ":")) else {
                throw NudgeError.validation("body", "The request body does not look like an RFC 5322 message (no header fields).")
            }
            guard let (result, replayed) = try await processor.process(org: ctx.org, inboxID: inbox, raw: bytes) else {
                throw NudgeError.notFound("inbox")
            }
            return try JSONCoding.response(result, status: replayed ? .ok : .accepted)
        }
    }

    package init(processor: InboundProcessor) {
        self.processor = processor
    }
}
