import Foundation

/// Where an enrollment stands. The allowed changes are `transitions`; every statement that sets
/// an enrollment's state guards itself with `sources(of:)`, so no feature can move an enrollment
/// along an edge this table does not have.
public enum EnrollmentState: String, Sendable, CaseIterable, Codable {
    case active, paused, completed, exited, cancelled, failed

    /// active -> paused (by a token, or for review when a step or a judgement cannot be made),
    /// completed (last step sent), exited (a reply, the exit condition, a suppression), cancelled,
    /// failed (a step that cannot be delivered); paused -> active (resumed), exited, cancelled,
    /// failed. The other four states are final.
    public static let transitions: [EnrollmentState: Set<EnrollmentState>] = [
        .active: [.paused, .completed, .exited, .cancelled, .failed],
        .paused: [.active, .exited, .cancelled, .failed],
        .completed: [],
        .exited: [],
        .cancelled: [],
        .failed: [],
    ]

    public func canMove(to target: EnrollmentState) -> Bool {
        Self.transitions[self, default: []].contains(target)
    }

    /// The states an enrollment may be in to move to `target`, in declaration order.
    public static func sources(of target: EnrollmentState) -> [EnrollmentState] {
        allCases.filter { $0.canMove(to: target) }
    }

    /// Running: steps may still be sent (after a resume, for a paused one).
    public var isRunning: Bool { self == .active || self == .paused }
}

/// Why an enrollment exited (`enrollments.exit_reason` with state `exited`).
public enum ExitReason: String, Sendable, CaseIterable, Codable {
    case replied, exit_condition, bounced, unsubscribed, suppressed, complained, out_of_office
    /// The recipient's domain became blocked by the send policy of the token that enrolled it.
    case policy_blocked
    /// A person rejected a step's draft with `exit`.
    case draft_rejected
    /// Another contact at the same registrable domain replied (`stop_on_company_reply`).
    case company_replied
}

/// Where a judgement of a reply against an exit condition stands (`judgements.state`).
public enum JudgementState: String, Sendable, CaseIterable, Codable {
    case pending, done, failed
}
