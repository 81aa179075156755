import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

public struct TokenRecord: Encodable, Sendable {
    public let id: String
    public let name: String
    public let scopes: [String]
    public let expires_at: Date?
    public let created_at: Date
    public let last_used_at: Date?
    public let revoked_at: Date?
    /// The token's own policy (keys it overrides); the defaults are the organization's.
    public let send_policy: JSONValue
    public let policy_version: Int
}

/// A new token: the record plus the secret, shown this once.
public struct IssuedToken: Encodable, Sendable {
    public let id: String
    public let name: String
    public let scopes: [String]
    public let expires_at: Date?
    public let created_at: Date
    public let send_policy: JSONValue
    public let policy_version: Int
    public let token: String
}

/// Organizations and their tokens.
public struct TokenStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    public init(db: Database) { self.db = db }

    package static let columns = "id, name, scopes, expires_at, created_at, last_used_at, revoked_at, send_policy::text, policy_version"

    package static func record(_ row: PostgresRow) throws -> TokenRecord {
        let (id, name, scopes, exp, created, used, revoked, policy, version) = try row.decode(
            (String, String, [String], Date?, Date, Date?, Date?, String, Int).self)
        return TokenRecord(
            id: id, name: name, scopes: scopes, expires_at: exp, created_at: created, last_used_at: used, revoked_at: revoked,
            send_policy: JSONValue.parse(policy) ?? .object([:]), policy_version: version)
    }

    /// Operators create organizations from the command line, each with its first admin token.
    public func createOrg(name: String, now: Date) async throws -> (orgID: String, token: IssuedToken) {
        let org = ID.make(.org)
        let token = try await db.system { conn in
            try await conn.query("INSERT INTO orgs (id, name, created_at) VALUES (\(org), \(name), \(now))", logger: logger)
            return try await insert(
                org: org, name: "admin", scopes: [Scope.admin.rawValue], expiresAt: nil, createdBy: nil, policy: [:], now: now, conn)
        }
        return (org, token)
    }

    /// Sets (or with nil clears, falling back to the server default) an organization's daily send quota.
    public func setDailySendQuota(org: String, quota: Int?) async throws -> Bool {
        try await db.system { conn in
            try await conn.query("UPDATE orgs SET daily_send_quota = \(quota) WHERE id = \(org) RETURNING 1", logger: logger)
                .decode(Int.self).first { _ in true } != nil
        }
    }

    /// The organization's settings: its name and default send policy.
    public struct Organization: Encodable, Sendable {
        public let id: String
        public let name: String
        public let send_policy: JSONValue
        public let created_at: Date
    }

    public func organization(_ org: String) async throws -> Organization? {
        try await db.system { conn in
            try await conn.query("SELECT id, name, send_policy::text, created_at FROM orgs WHERE id = \(org)", logger: logger)
                .decode((String, String, String, Date).self).first { _ in true }
                .map { Organization(id: $0.0, name: $0.1, send_policy: JSONValue.parse($0.2) ?? .object([:]), created_at: $0.3) }
        }
    }

    /// Replaces the organization's default send policy. Every token's effective policy changes
    /// with it, so every token's policy version goes up in the same transaction.
    public func setOrganizationPolicy(_ org: String, policy: [String: JSONValue]) async throws -> Organization? {
        let text = JSONValue.object(policy).serialized
        let updated = try await db.system { conn in
            let found =
                try await conn.query("UPDATE orgs SET send_policy = \(text)::jsonb WHERE id = \(org) RETURNING 1", logger: logger)
                .decode(Int.self).first { _ in true } != nil
            if found {
                try await conn.query("UPDATE tokens SET policy_version = policy_version + 1 WHERE org_id = \(org)", logger: logger)
            }
            return found
        }
        return updated ? try await organization(org) : nil
    }

    /// The send policy in force for token `t` of organization `o`: the organization's defaults with
    /// the token's own keys over them. Every query that reads a token's policy uses this one rule.
    package static let effectivePolicy = "(o.send_policy || t.send_policy)"

    /// The send policies in force for these tokens, by token id: the organization's defaults
    /// with the token's own keys over them; a token whose policy sets nothing is absent.
    package static func currentPolicies(_ tokens: [(org: String, id: String)], _ conn: PostgresConnection, logger: Logger) async throws
        -> [String: SendPolicy]
    {
        var seen = Set<String>()
        let unique = tokens.filter { seen.insert($0.id).inserted }
        guard !unique.isEmpty else { return [:] }
        var out: [String: SendPolicy] = [:]
        for try await (id, text) in try await conn.query(
            """
            SELECT t.id, nullif(\(unescaped: Self.effectivePolicy), '{}'::jsonb)::text
            FROM unnest(\(unique.map(\.org))::text[], \(unique.map(\.id))::text[]) AS u(org, id)
            JOIN tokens t ON t.org_id = u.org AND t.id = u.id JOIN orgs o ON o.id = t.org_id
            """, logger: logger
        ).decode((String, String?).self) {
            if let text { out[id] = SendPolicy.decode(text) }
        }
        return out
    }

    public func orgExists(_ org: String) async throws -> Bool {
        try await db.system { conn in
            try await conn.query("SELECT 1 FROM orgs WHERE id = \(org)", logger: logger).decode(Int.self).first { _ in true } != nil
        }
    }

    public func issue(
        org: String, name: String, scopes: [String], expiresAt: Date?, createdBy: String?, policy: [String: JSONValue] = [:], now: Date
    ) async throws -> IssuedToken {
        try await db.tenant(org) { conn in
            try await insert(org: org, name: name, scopes: scopes, expiresAt: expiresAt, createdBy: createdBy, policy: policy, now: now, conn)
        }
    }

    package func insert(
        org: String, name: String, scopes: [String], expiresAt: Date?, createdBy: String?, policy: [String: JSONValue], now: Date,
        _ conn: PostgresConnection
    ) async throws -> IssuedToken {
        let id = ID.make(.tok)
        let secret = TokenSecret.generate()
        let policyText = JSONValue.object(policy).serialized
        try await conn.query(
            """
            INSERT INTO tokens (org_id, id, name, scopes, secret_hash, created_at, expires_at, created_by, send_policy)
            VALUES (\(org), \(id), \(name), \(scopes), \(ByteBuffer(bytes: TokenSecret.hash(secret))), \(now), \(expiresAt), \(createdBy),
                    \(policyText)::jsonb)
            """, logger: logger)
        return IssuedToken(
            id: id, name: name, scopes: scopes, expires_at: expiresAt, created_at: now, send_policy: .object(policy), policy_version: 1, token: secret
        )
    }

    public func list(org: String, page: PageRequest) async throws -> Page<TokenRecord> {
        let rows = try await db.tenant(org) { conn in
            var out: [TokenRecord] = []
            for try await row in try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM tokens WHERE org_id = \(org)
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID))
                ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger)
            { out.append(try Self.record(row)) }
            return out
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    public func get(org: String, id: String) async throws -> TokenRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT \(unescaped: Self.columns) FROM tokens WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .first { _ in true }.map(Self.record)
        }
    }

    /// Updates name, scopes and expiry; refuses to leave the organization without an admin.
    /// `policy` replaces the token's own send policy (and raises its version) when given.
    public func update(
        org: String, id: String, name: String?, scopes: [String]?, expiresAt: Date??, policy: [String: JSONValue]? = nil, now: Date
    ) async throws -> TokenRecord? {
        try await db.tenant(org) { conn in
            if let scopes, !scopes.contains(Scope.admin.rawValue) {
                try await keepAdminCoverage(org: org, changing: id, to: .removed, now: now, conn)
            } else if let expiresAt {
                try await keepAdminCoverage(org: org, changing: id, to: .expiring(expiresAt), now: now, conn)
            }
            let setExpiry = expiresAt != nil
            let expiry: Date? = expiresAt ?? nil
            let policyText = policy.map { JSONValue.object($0).serialized }
            return try await conn.query(
                """
                UPDATE tokens SET name = coalesce(\(name), name), scopes = coalesce(\(scopes), scopes),
                  expires_at = CASE WHEN \(setExpiry) THEN \(expiry) ELSE expires_at END,
                  send_policy = coalesce(\(policyText)::jsonb, send_policy),
                  policy_version = policy_version + CASE WHEN \(policyText)::text IS NULL THEN 0 ELSE 1 END
                WHERE org_id = \(org) AND id = \(id) AND revoked_at IS NULL
                RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).first { _ in true }.map(Self.record)
        }
    }

    public func revoke(org: String, id: String, now: Date) async throws -> TokenRecord? {
        try await db.tenant(org) { conn in
            try await keepAdminCoverage(org: org, changing: id, to: .removed, now: now, conn)
            return try await conn.query(
                """
                UPDATE tokens SET revoked_at = coalesce(revoked_at, \(now))
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).first { _ in true }.map(Self.record)
        }
    }

    package enum AdminChange {
        case removed
        case expiring(Date?)
    }

    /// An organization must not lose its last admin earlier than it would have: a revoke, a
    /// demotion or a new expiry is refused when it brings forward the moment at which no admin
    /// token is left (the latest expiry among the active admin tokens; none means never).
    private func keepAdminCoverage(org: String, changing id: String, to change: AdminChange, now: Date, _ conn: PostgresConnection) async throws {
        // Lock the organization's admin tokens so two concurrent changes cannot both pass.
        let admins = try await conn.query(
            """
            SELECT id, expires_at FROM tokens WHERE org_id = \(org) AND 'admin' = ANY(scopes) AND revoked_at IS NULL
            AND (expires_at IS NULL OR expires_at > \(now)) FOR UPDATE
            """, logger: logger
        ).decode((String, Date?).self).collect()
        guard admins.contains(where: { $0.0 == id }) else { return }
        func lastsUntil(_ expiries: [Date?]) -> Date { expiries.map { $0 ?? .distantFuture }.max() ?? .distantPast }
        let before = lastsUntil(admins.map(\.1))
        let others = admins.filter { $0.0 != id }.map(\.1)
        let after: Date
        switch change {
        case .removed: after = lastsUntil(others)
        case .expiring(let e): after = lastsUntil(others + [e])
        }
        guard after >= before else {
            throw NudgeError.conflict(
                others.isEmpty
                    ? "This is the organization's last admin token; create another admin token first."
                    : "This change would leave the organization without an admin token sooner than now planned; create another admin token (without an expiry) first."
            )
        }
    }
}

extension TokenStore {
    /// The token with this secret hash, unless revoked (expiry is the caller's check: it uses the
    /// clock of the request).
    package static func lookup(secretHash hash: [UInt8], _ db: Database) async throws -> AuthenticatedToken? {
        let row = try await db.system { conn in
            try await conn.query(
                """
                SELECT t.org_id, t.id, t.name, t.scopes, t.expires_at, t.revoked_at, \(unescaped: Self.effectivePolicy)::text, t.policy_version
                FROM tokens t JOIN orgs o ON o.id = t.org_id WHERE t.secret_hash = \(ByteBuffer(bytes: hash))
                """, logger: db.logger
            ).decode((String, String, String, [String], Date?, Date?, String, Int).self).first { _ in true }
        }
        guard let (org, id, name, scopes, expires, revoked, policy, version) = row, revoked == nil else { return nil }
        return AuthenticatedToken(
            orgID: org, tokenID: id, name: name, scopes: ScopeSet(scopes.compactMap(Scope.init(rawValue:))), expiresAt: expires,
            policy: SendPolicy.decode(policy), policyVersion: version)
    }

    /// Writes collected `last_used_at` values (token id to its organization and time) in one statement.
    package static func recordUsage(_ batch: [String: (org: String, at: Date)], _ db: Database) async throws {
        let ids = Array(batch.keys)
        let orgs = ids.map { batch[$0]!.org }
        let times = ids.map { batch[$0]!.at }
        try await db.system { conn in
            try await conn.query(
                """
                UPDATE tokens t SET last_used_at = GREATEST(t.last_used_at, u.at)
                FROM unnest(\(orgs)::text[], \(ids)::text[], \(times)::timestamptz[]) AS u(org_id, id, at)
                WHERE t.org_id = u.org_id AND t.id = u.id
                """, logger: db.logger)
        }
    }
}

extension AsyncSequence {
    package func collect() async throws -> [Element] {
        var out: [Element] = []
        for try await e in self { out.append(e) }
        return out
    }
}
