import Foundation

/// What reply intelligence read from one received reply, as `messages` stores it.
public struct ReplyFacts: Sendable, Equatable {
    /// The signature cut from `reply_text`.
    package var signature: String
    /// A `ReplyIntent.Kind` raw value.
    package var intent: String
    /// `rules` or `llm`.
    package var source: String
    package var confidence: Double
    /// JSON array of `{"email", "name"}` (empty unless a referral).
    package var referrals: String
    /// The first working day back, `YYYY-MM-DD`, for an absence notice that names one.
    package var returnDate: String?
    package var returnSentence: String?
    /// When the LLM is to give its second opinion on the intent (nil: no review).
    package var reviewAt: Date?

    /// The intents a reply may have (`messages.intent`, a `reply_intent` rule's trigger).
    public static let intents = [
        "interested", "not_interested", "meeting_request", "question", "referral", "wrong_person", "unsubscribe_request", "out_of_office", "other",
    ]

    package init(
        signature: String, intent: String, source: String, confidence: Double, referrals: String, returnDate: String?, returnSentence: String?
    ) {
        self.signature = signature
        self.intent = intent
        self.source = source
        self.confidence = confidence
        self.referrals = referrals
        self.returnDate = returnDate
        self.returnSentence = returnSentence
        self.reviewAt = nil
    }
}
