import Foundation

/// One step of a sequence or an ad-hoc enrollment, as stored (JSON) and as given in requests.
public struct Step: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case email, reminder }
    public var type: Kind
    public var delay_days: Double
    public var delay_hours: Double?
    public var delay_minutes: Double?
    public var subject: String?
    public var body: String?
    public var prompt: String?
    public var note: String?

    public var delaySeconds: TimeInterval {
        delay_days * 86_400 + (delay_hours ?? 0) * 3_600 + (delay_minutes ?? 0) * 60
    }
}

/// What a request may send as a step; validated into `Step` with field-naming errors.
package struct StepInput: Decodable {
    package let type: String?
    package let delay_days: Double?
    package let delay_hours: Double?
    package let delay_minutes: Double?
    package let subject: String?
    package let body: String?
    package let prompt: String?
    package let note: String?
}

/// A sequence version's steps and settings (an enrollment may override the settings).
public struct SequenceDefinition: Codable, Sendable, Equatable {
    public var steps: [Step]
    public var exit_on_reply: Bool
    public var exit_condition_prompt: String?
    /// What an out-of-office reply does (nil: `hold`), and how long a hold lasts when the notice
    /// names no return date (nil: 7 days). Absent from versions saved before they existed.
    public var on_out_of_office: OutOfOfficeAction?
    public var ooo_default_days: Int?
    /// A human reply from any contact at the same registrable domain stops the sequence's other
    /// running enrollments there (README, "Pacing"). Nil (older versions): false.
    public var stop_on_company_reply: Bool?

    package init(
        steps: [Step], exit_on_reply: Bool, exit_condition_prompt: String?, on_out_of_office: OutOfOfficeAction? = nil,
        ooo_default_days: Int? = nil, stop_on_company_reply: Bool? = nil
    ) {
        self.stop_on_company_reply = stop_on_company_reply
        self.steps = steps
        self.exit_on_reply = exit_on_reply
        self.exit_condition_prompt = exit_condition_prompt
        self.on_out_of_office = on_out_of_office
        self.ooo_default_days = ooo_default_days
    }
}
