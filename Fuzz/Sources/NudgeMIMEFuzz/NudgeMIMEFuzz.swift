import Foundation
import NudgeMIME

/// libFuzzer entry: everything the inbound path does with a received message, on arbitrary bytes.
/// Parse, classify, run both the bounce and the ARF parser whatever the verdict, extract the reply text,
/// and read every decoded field and every part's text so that nothing lazily decoded is skipped.
/// Built with `-sanitize=fuzzer,address -parse-as-library` (libFuzzer supplies `main`); see ops/chaos.d/fuzz.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let raw = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    var sink = Sink()

    // What the server calls.
    let m = InboundMessage.analyze(raw)
    sink.add(m.messageID); sink.add(m.inReplyTo); sink.add(m.references)
    sink.add(m.from); sink.add(m.to); sink.add(m.cc); sink.add(m.replyTo)
    sink.add(m.subject); sink.add(m.date?.timeIntervalSince1970 ?? 0)
    sink.add(m.text); sink.add(m.replyText); sink.add(m.classification.rawValue)
    sink.add(m.bounce); sink.add(m.complaint)
    sink.add(m.header("Subject")); sink.add(SubjectNormalizer.normalize(m.subject))

    // The report parsers, whatever the verdict (analyze ran the one its classification asked for).
    let root = m.mime
    if m.classification != .bounce {
        let bounce = BounceParser.parse(root, text: m.text)
        sink.add(bounce); sink.add(bounce.isPermanent)
    } else {
        sink.add(m.bounce?.isPermanent ?? false)
    }
    if m.classification != .complaint { sink.add(ComplaintParser.parse(root, text: m.text)) }
    sink.add(ReplyText.extract(m.text, stripMobileSignatures: true))

    // Every part, every header, every decoder.
    for part in root.allParts(intoEmbedded: true) {
        sink.add(part.contentType); sink.add(part.contentTypeParameters.count)
        sink.add(part.charset); sink.add(part.isAttachment); sink.add(part.isMultipart)
        sink.add(part.embeddedMessage?.headers.count ?? -1)
        sink.add(part.body.count)
        let text = part.text
        sink.add(text)
        if part.contentType == "text/html" { sink.add(HTMLText.toText(text)) }
        for h in part.headers {
            sink.add(h.name); sink.add(h.value); sink.add(h.rawValue)
            sink.add(EncodedWords.decode(h.rawValue))
            sink.add(HeaderParameters(parsing: h.rawValue).parameters.count)
        }
        if let cte = part.header("Content-Transfer-Encoding") {
            sink.add(TransferEncoding.decode(part.body, encoding: cte).count)
        }
    }
    for h in root.headers {
        sink.add(MailAddress.parseList(h.rawValue)); sink.add(MessageID.parseList(h.rawValue))
        sink.add(MessageID.parse(h.rawValue)); sink.add(MailDate.parse(h.rawValue)?.timeIntervalSince1970 ?? 0)
    }
    // The decoders on the raw bytes themselves.
    sink.add(TransferEncoding.base64(raw).count)
    sink.add(TransferEncoding.quotedPrintable(raw, underscoreIsSpace: true).count)
    sink.add(Charsets.decode(raw, charset: root.charset))

    if sink.hash == 0x5EED { print("") }  // keeps the work observable
    return 0
}

/// Folds every value into a hash so that the optimizer cannot drop a computation and every
/// String is actually materialized (iterated), not just created.
struct Sink {
    var hash = 0

    mutating func add(_ s: String?) {
        guard let s else { hash &+= 1; return }
        for b in s.utf8 { hash = hash &* 31 &+ Int(b) }
        hash &+= s.count
    }
    mutating func add(_ v: Int) { hash = hash &* 31 &+ v }
    mutating func add(_ v: Double) { hash = hash &* 31 &+ (v.isFinite ? Int(v.truncatingRemainder(dividingBy: 1e15)) : 7) }
    mutating func add(_ v: Bool) { add(v ? 1 : 0) }
    mutating func add(_ v: [String]) { v.forEach { add($0) } }
    mutating func add(_ a: MailAddress?) { add(a?.name); add(a?.address) }
    mutating func add(_ v: [MailAddress]) { v.forEach { add($0) } }
    mutating func add(_ r: BounceReport?) {
        guard let r else { add(-1); return }
        for x in r.recipients { add(x.address); add(x.status); add(x.action); add(x.diagnostic); add(x.permanent) }
        add(r.originalMessageID); add(r.originalRecipients); add(r.originalSubject); add(r.reportingMTA)
    }
    mutating func add(_ c: ComplaintReport?) {
        guard let c else { add(-2); return }
        add(c.feedbackType); add(c.complainedAddresses); add(c.originalMessageID)
    }
}
