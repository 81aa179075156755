import Foundation

/// What a person's reply wants, by rules. `.other` when no rule is confident: those replies
/// are for a model to label.
public enum ReplyIntent {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case interested
        case notInterested = "not_interested"
        case meetingRequest = "meeting_request"
        case question
        case referral
        case wrongPerson = "wrong_person"
        case unsubscribeRequest = "unsubscribe_request"
        case outOfOffice = "out_of_office"
        case other
    }

    public struct Result: Sendable, Hashable {
        public var kind: Kind
        /// 0...1: how sure the rule is; 0 for `.other`.
        public var confidence: Double
        /// For `.referral`: the people the reply points to.
        public var referrals: [Referral.Contact]
        public var language: ReplyLanguage
        /// The reply asks not to be contacted again, whatever its intent: "I'm away this week,
        /// please remove me" and "I've left, write to maria@..., and take me off your list" ask it too.
        public var unsubscribe: Bool
    }

    /// Classifies the new text of a reply.
    ///
    /// - Parameters:
    ///   - replyText: the reply without quoted history (`InboundMessage.replyText`).
    ///   - subject: the reply's subject, for absence markers.
    ///   - isAutoReply: the message was classified as an automatic reply.
    ///   - sender: the replying address, never reported as a referral.
    public static func classify(replyText: String, subject: String = "", isAutoReply: Bool = false, sender: String? = nil) -> Result {
        classify(Prepared(replyText), subject: subject, isAutoReply: isAutoReply, sender: sender)
    }

    /// The reply's text as the rules read it, computed once for all of them.
    struct Prepared {
        /// The start of the reply without its signature.
        let body: String
        /// `body` lowercased, with typographic apostrophes made plain.
        let lower: String

        init(body: String) {
            self.body = body
            lower = body.ruleText
        }

        /// The rules read the start of a reply; the cap bounds the work on pasted documents.
        static let cap = 20_000

        init(_ replyText: String) { self.init(body: Signature.split(String(replyText.prefix(Self.cap))).body) }
    }

    static func classify(_ reply: Prepared, subject: String, isAutoReply: Bool, sender: String?) -> Result {
        let (body, text) = (reply.body, reply.lower)
        let language = ReplyLanguage.detect(lowercased: text)
        let unsubscribe = Unsubscribe.isRequested(lowerBody: text)
        func result(_ kind: Kind, _ confidence: Double, _ referrals: [Referral.Contact] = []) -> Result {
            Result(kind: kind, confidence: confidence, referrals: referrals, language: language, unsubscribe: unsubscribe)
        }
        var found: [Referral.Contact]?
        func referrals() -> [Referral.Contact] {
            if let found { return found }
            found = Referral.contacts(in: body, lower: text, sender: sender)
            return found!
        }
        func referral(_ people: [Referral.Contact]) -> Result { result(.referral, people.contains { $0.email != nil } ? 0.9 : 0.7, people) }
        // "I have left the company, please write to maria@..." is often sent automatically: a hand-over, not an absence.
        if IntentRules.departed.matches(text) {
            let referrals = referrals()
            if !referrals.isEmpty { return result(.referral, 0.9, referrals) }
        }
        if isAutoReply { return result(.outOfOffice, 0.95) }
        // A person's request to be removed outranks the absence they mention ("I'm away this week,
        // please remove me"); the people a request hands over to stay a referral.
        if unsubscribe { return referrals().isEmpty ? result(.unsubscribeRequest, 0.95) : referral(referrals()) }
        if IntentRules.absence.matches(subject.lowercased() + "\n" + text) { return result(.outOfOffice, 0.8) }
        let referrals = referrals()
        if !referrals.isEmpty { return referral(referrals) }
        if IntentRules.wrongPerson.matches(text) { return result(.wrongPerson, 0.85) }
        if IntentRules.notInterested.matches(text) { return result(.notInterested, 0.85) }
        if IntentRules.meeting.matches(text) { return result(.meetingRequest, 0.8) }
        if IntentRules.interested.matches(text) { return result(.interested, 0.75) }
        if text.contains("?") { return result(.question, 0.6) }
        return result(.other, 0)
    }

    /// The same for a parsed message.
    public static func classify(_ message: InboundMessage) -> Result {
        classify(
            replyText: message.replyText, subject: message.subject, isAutoReply: message.classification == .autoReply,
            sender: message.from?.address)
    }
}
