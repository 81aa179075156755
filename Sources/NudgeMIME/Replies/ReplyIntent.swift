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
    }

    /// Classifies the new text of a reply.
    ///
    /// - Parameters:
    ///   - replyText: the reply without quoted history (`InboundMessage.replyText`).
    ///   - subject: the reply's subject, for absence markers.
    ///   - isAutoReply: the message was classified as an automatic reply.
    ///   - sender: the replying address, never reported as a referral.
    public static func classify(replyText: String, subject: String = "", isAutoReply: Bool = false, sender: String? = nil) -> Result {
        // The rules read the start of a reply; the cap bounds the work on pasted documents.
        let replyText = String(replyText.prefix(20_000))
        let body = Signature.split(replyText).body
        let text = body.lowercased().replacingOccurrences(of: "’", with: "'")
        let language = ReplyLanguage.detect(body)
        func result(_ kind: Kind, _ confidence: Double, _ referrals: [Referral.Contact] = []) -> Result {
            Result(kind: kind, confidence: confidence, referrals: referrals, language: language)
        }
        // "I have left the company, please write to maria@..." is often sent automatically: a hand-over, not an absence.
        if IntentRules.any(IntentRules.departed, in: text) {
            let referrals = Referral.contacts(in: body, sender: sender)
            if !referrals.isEmpty { return result(.referral, 0.9, referrals) }
        }
        if isAutoReply || IntentRules.any(IntentRules.absence, in: subject.lowercased() + "\n" + text) {
            return result(.outOfOffice, isAutoReply ? 0.95 : 0.8)
        }
        if Unsubscribe.isRequested(replyText) { return result(.unsubscribeRequest, 0.95) }
        let referrals = Referral.contacts(in: body, sender: sender)
        if !referrals.isEmpty { return result(.referral, referrals.contains { $0.email != nil } ? 0.9 : 0.7, referrals) }
        if IntentRules.any(IntentRules.wrongPerson, in: text) { return result(.wrongPerson, 0.85) }
        if IntentRules.any(IntentRules.notInterested, in: text) { return result(.notInterested, 0.85) }
        if IntentRules.any(IntentRules.meeting, in: text) { return result(.meetingRequest, 0.8) }
        if IntentRules.any(IntentRules.interested, in: text) { return result(.interested, 0.75) }
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
