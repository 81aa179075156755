import Foundation

/// Token scopes from the contract. `admin` implies every scope and manages tokens.
public enum Scope: String, CaseIterable, Codable, Sendable {
    case contactsRead = "contacts:read"
    case contactsWrite = "contacts:write"
    case sequencesRead = "sequences:read"
    case sequencesWrite = "sequences:write"
    case emailSend = "email:send"
    case inboxesRead = "inboxes:read"
    case inboxesWrite = "inboxes:write"
    case suppressionsRead = "suppressions:read"
    case suppressionsWrite = "suppressions:write"
    case inboundWrite = "inbound:write"
    case webhooksRead = "webhooks:read"
    case webhooksWrite = "webhooks:write"
    /// Approval drafts: read them; decide them (approve, edit, reject).
    case draftsRead = "drafts:read"
    case draftsWrite = "drafts:write"
    case admin
}

public struct ScopeSet: Sendable, Equatable {
    public let scopes: Set<Scope>
    public init(_ scopes: some Sequence<Scope>) { self.scopes = Set(scopes) }
    public func allows(_ scope: Scope) -> Bool { scopes.contains(.admin) || scopes.contains(scope) }
    /// Stable, documented order for responses.
    public var sorted: [String] { Scope.allCases.filter(scopes.contains).map(\.rawValue) }
}

/// What authentication establishes: the organization and the token's scopes.
public struct AuthenticatedToken: Sendable {
    public let orgID: String
    public let tokenID: String
    public let name: String
    public let scopes: ScopeSet
    public let expiresAt: Date?
    /// The send policy in force (the organization's defaults under the token's own) and its version.
    public let policy: SendPolicy
    public let policyVersion: Int

    public init(
        orgID: String, tokenID: String, name: String, scopes: ScopeSet, expiresAt: Date?, policy: SendPolicy = SendPolicy(), policyVersion: Int = 1
    ) {
        self.orgID = orgID
        self.tokenID = tokenID
        self.name = name
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.policy = policy
        self.policyVersion = policyVersion
    }
}
