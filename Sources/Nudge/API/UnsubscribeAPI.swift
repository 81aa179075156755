import Crypto
import Foundation
import Hummingbird
import NIOCore

/// RFC 8058 one-click unsubscribe. `POST /u/{token}` with `List-Unsubscribe=One-Click` suppresses
/// the address (no cookie, no login); `GET` shows a confirmation page and changes nothing. A
/// forged or altered token is a plain 404.
struct UnsubscribeAPI {
    let db: Database
    let key: SymmetricKey
    let clock: any NudgeClock

    func register(_ router: Router<AppContext>, _ routes: RouteTable? = nil) {
        routes?.add(.get, "/u/:token")
        routes?.add(.post, "/u/:token")
        router.get("/u/:token") { _, ctx in
            guard let t = verify(ctx) else { throw APIError(.notFound, "not_found", "No such page.") }
            let address = Self.escape(t.address)
            return Self.page("""
                <h1>Unsubscribe</h1><p>Stop follow-up emails to <strong>\(address)</strong>?</p>
                <form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
                <button type="submit">Unsubscribe</button></form>
                """)
        }
        router.post("/u/:token") { req, ctx in
            guard let t = verify(ctx) else { throw APIError(.notFound, "not_found", "No such page.") }
            guard let buffer = try? await req.body.collect(upTo: 4_096) else { throw APIError.tooLarge(4_096) }
            let body = String(buffer: buffer)
            // RFC 8058 posts exactly this; the confirmation page's form posts the same field.
            guard body.contains("List-Unsubscribe=One-Click") else {
                throw APIError.validation("List-Unsubscribe", "The body must be List-Unsubscribe=One-Click.")
            }
            let now = clock.now()
            try await db.tenant(t.org) { conn in
                _ = try await SuppressionStore.suppress(org: t.org, address: t.address, reason: "unsubscribed",
                                                        detail: "one-click unsubscribe (enrollment \(t.enrollmentID))", now: now, conn, logger: db.logger)
            }
            return Self.page("<h1>Unsubscribed</h1><p>\(Self.escape(t.address)) will receive no more follow-up emails from us.</p>")
        }
    }

    func verify(_ ctx: AppContext) -> UnsubscribeToken? {
        ctx.parameters.get("token").flatMap { UnsubscribeToken.verify($0, key: key) }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func page(_ html: String) -> Response {
        let doc = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>\(html)</body></html>"
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: doc)))
    }
}
