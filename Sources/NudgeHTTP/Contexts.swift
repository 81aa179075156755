import Foundation
import Hummingbird
import Logging
import NudgeCore
import NudgeStore
import NudgeWorkers

/// The context every request starts with.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: AuthenticatedToken?
    /// Set only for a request dispatched in process by the MCP endpoint whose body is derived from
    /// the tool's arguments and the time (`send_one` with `send_at`): `Idempotency-Key` then
    /// matches on these arguments instead of the body, so that a retry later replays.
    package var idempotencyFingerprint: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
    public var requestDecoder: JSONDecoder { JSONCoding.decoder }
    public var responseEncoder: JSONEncoder { JSONCoding.encoder }
}

/// The context of every `/v1` handler. It can only be built from an authenticated request, so a
/// handler cannot run without an organization and scopes; stores take `org` from here.
public struct TenantContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let token: AuthenticatedToken
    package let idempotencyFingerprint: String?
    public var org: String { token.orgID }

    public init(context: AppContext) throws {
        guard let token = context.token else { throw NudgeError.unauthorized }
        self.coreContext = context.coreContext
        self.token = token
        self.idempotencyFingerprint = context.idempotencyFingerprint
        self.logger[metadataKey: "org_id"] = .string(token.orgID)
    }

    public func require(_ scope: Scope) throws {
        guard token.scopes.allows(scope) else { throw NudgeError.forbidden(scope) }
    }
    public var requestDecoder: JSONDecoder { JSONCoding.decoder }
    public var responseEncoder: JSONEncoder { JSONCoding.encoder }
}
