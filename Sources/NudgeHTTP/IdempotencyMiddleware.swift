import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import NudgeCore
import NudgeStore
import NudgeWorkers

/// `Idempotency-Key` on POST, PATCH and DELETE: the first request's response (status and body) is
/// kept for 24 h per token and replayed for the same key, method, path and body; the same key with
/// another request is a 422; while the first is still running, 409. The key row is claimed with an
/// insert, so two concurrent requests with one key cannot both run. (PATCH and DELETE take it too
/// so that a retried change answers as the first did: a retried DELETE gets its 200, not a 404.)
///
/// Keys belong to the token that sent them (organization + token): an answer, including one that
/// carries a secret (`POST /v1/tokens/`), is replayed only to its creator, and another token's
/// request with the same key is a request of its own, so a key reveals nothing about other
/// callers. `ScopedRouter` runs this inside each route after the route's scope check. Kept answers
/// are sealed (AES-GCM, with a key derived from the server's secret, the organization, the token
/// and the Idempotency-Key), so they are not readable in the database.
package struct IdempotencyMiddleware: Sendable {
    package let db: Database
    package let clock: any NudgeClock
    package let secret: [UInt8]
    /// A first attempt that crashed without finishing is taken over after this long.
    package let staleAfter: TimeInterval = 300
    /// The methods that change something; GET is answered afresh.
    package static let methods: Set<HTTPRequest.Method> = [.post, .patch, .delete]

    package func handle(_ request: Request, context: TenantContext, next: (Request, TenantContext) async throws -> Response) async throws -> Response
    {
        guard Self.methods.contains(request.method), let key = request.headers[.init("Idempotency-Key")!] else {
            return try await next(request, context)
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw NudgeError.validation("Idempotency-Key", "Idempotency-Key must be 1 to 255 visible ASCII characters.")
        }
        var request = request
        let limit =
            request.uri.path.hasSuffix("/messages/inbound") || request.uri.path.hasSuffix("/messages/inbound/")
            ? InboundLimits.maxBytes : JSONCoding.maxJSONBody
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: limit) } catch is NIOTooManyBytesError { throw NudgeError.tooLarge(limit) }
        var hasher = SHA256()
        hasher.update(data: Data(request.method.rawValue.utf8))
        hasher.update(data: Data([0]))
        hasher.update(data: Data(request.uri.path.utf8))
        hasher.update(data: Data([0]))
        if let fingerprint = context.idempotencyFingerprint {
            hasher.update(data: Data("fingerprint\u{0}\(fingerprint)".utf8))
        } else {
            hasher.update(data: Data(buffer: body))
        }
        let hash = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let org = context.org
        let token = context.token.tokenID
        let now = clock.now()

        let claimed = try await IdempotencyStore(db: db).claim(org: org, token: token, key: key, requestHash: hash, now: now, staleAfter: staleAfter)
        if !claimed {
            guard let existing = try await IdempotencyStore(db: db).find(org: org, token: token, key: key) else {
                throw NudgeError.conflict("A request with this Idempotency-Key is in progress; retry shortly.")
            }
            guard existing.requestHash == hash else {
                throw NudgeError.validation("Idempotency-Key", "This Idempotency-Key was used with a different request (method, path or body).")
            }
            guard let status = existing.status else {
                throw NudgeError.conflict("A request with this Idempotency-Key is still in progress; retry shortly.")
            }
            guard let opened = try? open(existing.sealedResponse ?? ByteBuffer(), org: org, token: token, key: key) else {
                throw NudgeError.conflict("The answer kept for this Idempotency-Key cannot be replayed (the server's secret changed); use a new key.")
            }
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
            headers[.init("Idempotent-Replayed")!] = "true"
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: opened))
        }

        let response: Response
        do {
            response = try await next(request, context)
        } catch let error where APIError.known(error).map({ $0.status.code < 500 && ![401, 403, 409, 429].contains($0.status.code) }) == true {
            // Deterministic refusals of the request itself are part of the key's answer too; a
            // missing scope, a conflict or a rate limit is not, so a retry can still succeed.
            let refusal = APIError.known(error)!
            let r = refusal.response(requestID: nil)
            try await store(org: org, token: token, key: key, status: refusal.status.code, response: r)
            throw error
        } catch {
            try? await release(org: org, token: token, key: key)
            throw error
        }
        if response.status.code >= 500 {
            try? await release(org: org, token: token, key: key)
            return response
        }
        // Buffer the body so it can be both stored and sent.
        var copy = response
        let collected = try await Self.buffer(response)
        try await store(org: org, token: token, key: key, status: response.status.code, body: collected)
        copy.body = .init(byteBuffer: collected)
        return copy
    }

    private func store(org: String, token: String, key: String, status: Int, response: Response) async throws {
        try await store(org: org, token: token, key: key, status: status, body: try await Self.buffer(response))
    }

    package static func buffer(_ response: Response) async throws -> ByteBuffer {
        let writer = CollectingWriter()
        try await response.body.write(writer)
        return await writer.buffer
    }

    private func store(org: String, token: String, key: String, status: Int, body: ByteBuffer) async throws {
        let sealed = try seal(body, org: org, token: token, key: key)
        try await IdempotencyStore(db: db).keep(org: org, token: token, key: key, status: status, sealedResponse: sealed)
    }

    private func sealingKey(org: String, token: String, key: String) -> SymmetricKey {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Data("idempotency\u{0}\(org)\u{0}\(token)\u{0}\(key)".utf8))
        return SymmetricKey(data: Data(mac.finalize()))
    }

    private func seal(_ body: ByteBuffer, org: String, token: String, key: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try AES.GCM.seal(Data(buffer: body), using: sealingKey(org: org, token: token, key: key)).combined!)
    }

    private func open(_ stored: ByteBuffer, org: String, token: String, key: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try AES.GCM.open(AES.GCM.SealedBox(combined: Data(buffer: stored)), using: sealingKey(org: org, token: token, key: key)))
    }

    private func release(org: String, token: String, key: String) async throws {
        try await IdempotencyStore(db: db).release(org: org, token: token, key: key)
    }

    package init(db: Database, clock: any NudgeClock, secret: [UInt8]) {
        self.db = db
        self.clock = clock
        self.secret = secret
    }
}

/// Collects a response body written by Hummingbird into one buffer.
package actor CollectingWriter: ResponseBodyWriter {
    package var buffer = ByteBuffer()
    package func write(_ buffer: ByteBuffer) async throws {
        var b = buffer
        self.buffer.writeBuffer(&b)
    }
    package func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

package enum InboundLimits {
    package static let maxBytes = 25 << 20
}
