import Foundation
import NudgeCore
import PostgresNIO

public struct EnrollmentSource: Codable, Sendable, Equatable {
    public var type: String
    public var message_id: String?
    public var thread_id: String?
    public var subject: String?
    public var from_address: String?

    package init(type: String, message_id: String? = nil, thread_id: String? = nil, subject: String? = nil, from_address: String? = nil) {
        self.type = type
        self.message_id = message_id
        self.thread_id = thread_id
        self.subject = subject
        self.from_address = from_address
    }
}

/// How a step of an enrollment went, or is expected to go.
public enum TimelineOutcome: String, Encodable, Sendable {
    case sent, reminded, failed, retrying, bounced, scheduled, paused, pending, not_sent

    /// The outcome a delivery row records; nil for a step only written so far (`rendered`).
    init?(_ status: DeliveryStatus) {
        switch status {
        case .accepted, .sent: self = .sent
        case .reminded: self = .reminded
        case .retrying: self = .retrying
        case .failed: self = .failed
        case .bounced: self = .bounced
        case .rendered: return nil
        }
    }
}

public struct TimelineEntry: Encodable, Sendable {
    public let step_index: Int
    public let type: String
    public let subject: String?
    public let scheduled_at: Date?
    public let sent_at: Date?
    public let message_id: String?
    public let rfc822_message_id: String?
    public let outcome: TimelineOutcome
    public let attempts: Int?
    public let error: String?
}

/// An out-of-office hold on a running enrollment.
public struct EnrollmentHold: Encodable, Sendable {
    public let held_until: Date
    public let hold_reason: String
    /// The first working day back (`YYYY-MM-DD`), nil when the notice named none.
    public let return_date: String?
    /// The sentence of the notice the date was read from.
    public let sentence: String?
}

public struct PolicyInForce: Encodable, Sendable {
    public let token_id: String
    public let version: Int
}

public struct EnrollmentRecord: Encodable, Sendable {
    public let id: String
    public let inbox_id: String
    public let contact_id: String
    public let recipient: String
    public let sequence_id: String?
    public let sequence_version: Int?
    public let state: EnrollmentState
    public let exit_reason: ExitReason?
    public let exit_detail: String?
    public let exit_on_reply: Bool
    public let exit_condition_prompt: String?
    public let source: EnrollmentSource?
    public let thread_id: String?
    public let next_step: Int?
    public let next_due_at: Date?
    public let awaiting_judgement: Bool
    /// An out-of-office hold (README, "Reply intelligence"): no step is sent before `held_until`.
    public let hold: EnrollmentHold?
    public let trigger: String
    public let workflow_rule_id: String?
    public let created_by: String?
    public let updated_by: String?
    public let created_at: Date
    public let updated_at: Date
    /// The send policy it was made under: the token and its policy version (README, "Send policies").
    public let send_policy: PolicyInForce?
    /// Only in single-enrollment answers (POST, GET, PATCH): a list that embedded every
    /// enrollment's steps could answer hundreds of megabytes.
    public var steps: [Step]?
    public var timeline: [TimelineEntry]?

    /// Everything but the steps (lists read only these).
    package static let columns = """
        id, inbox_id, contact_id, recipient, sequence_id, sequence_version, state, exit_reason, exit_detail, exit_on_reply,
        exit_condition_prompt, source::text, thread_id, next_step, next_due_at, held, trigger, workflow_rule_id,
        created_by, updated_by, created_at, updated_at, held_until, hold_reason, to_char(hold_return_date, 'YYYY-MM-DD') AS hold_return_date,
        hold_sentence, policy_token_id, policy_version
        """

    /// The steps of a row of `enrollments` (not aliased): its own (ad-hoc, or an older copy that
    /// matched no version), else those of the sequence version it names (migration 0014).
    package static let stepsColumn = """
        coalesce(steps, (SELECT v.definition -> 'steps' FROM sequence_versions v
          WHERE v.org_id = enrollments.org_id AND v.sequence_id = enrollments.sequence_id AND v.version = enrollments.sequence_version))::text AS steps
        """

    /// Decodes `columns`, and the steps when the row has `stepsColumn`.
    package static func decode(_ row: PostgresRow) throws -> EnrollmentRecord {
        let r = row.makeRandomAccess()
        let steps = try r.contains("steps") ? JSONCoding.decoder.decode([Step].self, from: Data(try r["steps"].decode(String.self).utf8)) : nil
        let state = try EnrollmentState.stored(r["state"].decode(String.self), column: "enrollments.state")
        let running = state.isRunning
        let source = try r["source"].decode(String?.self).map { try JSONCoding.decoder.decode(EnrollmentSource.self, from: Data($0.utf8)) }
        return EnrollmentRecord(
            id: try r["id"].decode(String.self), inbox_id: try r["inbox_id"].decode(String.self),
            contact_id: try r["contact_id"].decode(String.self), recipient: try r["recipient"].decode(String.self),
            sequence_id: try r["sequence_id"].decode(String?.self), sequence_version: try r["sequence_version"].decode(Int?.self),
            state: state, exit_reason: try r["exit_reason"].decode(String?.self).map { try ExitReason.stored($0, column: "enrollments.exit_reason") },
            exit_detail: try r["exit_detail"].decode(String?.self),
            exit_on_reply: try r["exit_on_reply"].decode(Bool.self), exit_condition_prompt: try r["exit_condition_prompt"].decode(String?.self),
            source: source, thread_id: try r["thread_id"].decode(String?.self),
            next_step: running ? try r["next_step"].decode(Int.self) : nil,
            next_due_at: running ? try r["next_due_at"].decode(Date?.self) : nil,
            awaiting_judgement: try r["held"].decode(Bool.self),
            hold: running
                ? try r["held_until"].decode(Date?.self).map {
                    EnrollmentHold(
                        held_until: $0, hold_reason: try r["hold_reason"].decode(String?.self) ?? "out_of_office",
                        return_date: try r["hold_return_date"].decode(String?.self), sentence: try r["hold_sentence"].decode(String?.self))
                } : nil,
            trigger: try r["trigger"].decode(String.self), workflow_rule_id: try r["workflow_rule_id"].decode(String?.self),
            created_by: try r["created_by"].decode(String?.self), updated_by: try r["updated_by"].decode(String?.self),
            created_at: try r["created_at"].decode(Date.self), updated_at: try r["updated_at"].decode(Date.self),
            send_policy: try r["policy_token_id"].decode(String?.self).map {
                PolicyInForce(token_id: $0, version: try r["policy_version"].decode(Int?.self) ?? 1)
            },
            steps: steps, timeline: nil)
    }
}
