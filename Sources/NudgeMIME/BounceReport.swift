/// One failed (or delayed) recipient of a delivery status notification.
public struct BounceRecipient: Sendable, Hashable {
    public var address: String
    /// RFC 3463 enhanced status code such as "5.1.1", when known.
    public var status: String?
    /// RFC 3464 action ("failed", "delayed", ...), when known.
    public var action: String?
    /// The remote server's explanation (e.g. "550 5.1.1 user unknown").
    public var diagnostic: String?
    /// True for a permanent failure (5.x.x or clear permanent wording); false for delays/4.x.x.
    public var permanent: Bool

    public init(address: String, status: String? = nil, action: String? = nil, diagnostic: String? = nil, permanent: Bool) {
        self.address = address
        self.status = status
        self.action = action
        self.diagnostic = diagnostic
        self.permanent = permanent
    }
}

/// What a bounce says about the message we sent.
public struct BounceReport: Sendable {
    public var recipients: [BounceRecipient]
    /// Message-ID (without brackets) of the message that bounced, when the bounce names it.
    public var originalMessageID: String?
    /// Recipients named in the returned original message's To header.
    public var originalRecipients: [String]
    public var originalSubject: String?
    public var reportingMTA: String?

    public init(
        recipients: [BounceRecipient] = [], originalMessageID: String? = nil, originalRecipients: [String] = [],
        originalSubject: String? = nil, reportingMTA: String? = nil
    ) {
        self.recipients = recipients
        self.originalMessageID = originalMessageID
        self.originalRecipients = originalRecipients
        self.originalSubject = originalSubject
        self.reportingMTA = reportingMTA
    }

    /// True when at least one recipient failed permanently (the address should be suppressed).
    public var isPermanent: Bool { recipients.contains { $0.permanent } }
}

/// What an abuse/feedback report says.
public struct ComplaintReport: Sendable {
    /// ARF Feedback-Type ("abuse", "fraud", ...), or a vendor equivalent.
    public var feedbackType: String?
    public var complainedAddresses: [String]
    public var originalMessageID: String?

    public init(feedbackType: String? = nil, complainedAddresses: [String] = [], originalMessageID: String? = nil) {
        self.feedbackType = feedbackType
        self.complainedAddresses = complainedAddresses
        self.originalMessageID = originalMessageID
    }
}
