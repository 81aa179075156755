import Foundation

/// Everything reply intelligence reads from one inbound message, for the worker to store:
/// the intent, the return date of an absence notice, and the reply split from its signature.
public struct ReplyAnalysis: Sendable, Hashable {
    public var intent: ReplyIntent.Result
    /// Only for absence notices (automatic replies, or `out_of_office` text); nil when none is stated.
    public var returnDate: OutOfOffice.ReturnDate?
    /// The reply asks not to be contacted again, whatever its intent (`ReplyIntent.Result.unsubscribe`).
    public var unsubscribeRequested: Bool
    /// The new text without its signature, and the signature.
    public var body: String
    public var signature: String

    /// - Parameter timeZone: the zone the contact's dates are read in (the message day, "12/14").
    public static func analyze(_ message: InboundMessage, timeZone: TimeZone) -> ReplyAnalysis {
        let split = Signature.split(message.replyText)
        // The rules read at most `cap` bytes: a shorter reply's split is theirs too.
        let reply =
            message.replyText.utf8.count <= ReplyIntent.Prepared.cap
            ? ReplyIntent.Prepared(body: split.body) : ReplyIntent.Prepared(message.replyText)
        let intent = ReplyIntent.classify(
            reply, subject: message.subject, isAutoReply: message.classification == .autoReply, sender: message.from?.address)
        let absence = intent.kind == .outOfOffice
        return ReplyAnalysis(
            intent: intent, returnDate: absence ? OutOfOffice.returnDate(of: message, timeZone: timeZone) : nil,
            unsubscribeRequested: intent.unsubscribe, body: split.body, signature: split.signature)
    }
}
