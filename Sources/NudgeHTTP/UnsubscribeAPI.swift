import Crypto
import Foundation
import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// RFC 8058 one-click unsubscribe. `POST /u/{token}` with the form field
/// `List-Unsubscribe=One-Click` suppresses the address (no cookie, no login); `GET` shows a
/// confirmation page and changes nothing. A forged, altered, non-canonical or expired token is a
/// plain 404. A link already used before an admin removed the suppression does not suppress again
/// when posted again; the page's button (a confirmation made after the removal) does.
package struct UnsubscribeAPI {
    package let store: SuppressionStore
    package let key: SymmetricKey
    package let clock: any NudgeClock
    /// How long the confirmation on a page stays usable.
    package static let confirmationLifetime: TimeInterval = 86_400

    package func register(_ router: Router<AppContext>, _ routes: RouteTable? = nil) {
        routes?.add(.get, "/u/:token")
        routes?.add(.post, "/u/:token")
        router.get("/u/:token") { _, ctx in
            guard let (raw, t) = verify(ctx) else { throw APIError(.notFound, "not_found", "No such page.") }
            let confirm = Self.escape(confirmation(raw, at: clock.now()))
            return Self.page(
                """
                <h1>Unsubscribe</h1><p>Stop follow-up emails to <strong>\(Self.escape(t.address))</strong>?</p>
                <form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
                <input type="hidden" name="confirm" value="\(confirm)">
                <button type="submit">Unsubscribe</button></form>
                """)
        }
        router.post("/u/:token") { req, ctx in
            guard let (raw, t) = verify(ctx) else { throw APIError(.notFound, "not_found", "No such page.") }
            guard let buffer = try? await req.body.collect(upTo: 4_096) else { throw NudgeError.tooLarge(4_096) }
            let form = Self.formFields(String(buffer: buffer))
            // RFC 8058: the body is the form field List-Unsubscribe with the value One-Click.
            guard form.contains(where: { $0.name == "List-Unsubscribe" && $0.value == "One-Click" }) else {
                throw NudgeError.validation("List-Unsubscribe", "The body must be the form field List-Unsubscribe=One-Click.")
            }
            let now = clock.now()
            let confirmedAt = form.first { $0.name == "confirm" }.flatMap { confirmed($0.value, token: raw, now: now) }
            let outcome = try await store.unsubscribe(
                org: t.org, address: t.address, digest: Array(SHA256.hash(data: Data(raw.utf8))),
                confirmedAt: confirmedAt, detail: "one-click unsubscribe (enrollment \(t.enrollmentID))", now: now)
            switch outcome {
            case .suppressed:
                return Self.page("<h1>Unsubscribed</h1><p>\(Self.escape(t.address)) will receive no more follow-up emails from us.</p>")
            case .liftedByAdmin:
                let confirm = Self.escape(confirmation(raw, at: now))
                return Self.page(
                    """
                    <h1>Unsubscribe again?</h1><p>This link was used before, and the sender has since allowed emails to
                    <strong>\(Self.escape(t.address))</strong> again. To stop them, confirm:</p>
                    <form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
                    <input type="hidden" name="confirm" value="\(confirm)">
                    <button type="submit">Unsubscribe</button></form>
                    """)
            }
        }
    }

    package func verify(_ ctx: AppContext) -> (String, UnsubscribeToken)? {
        guard let raw = ctx.parameters.get("token"), let t = UnsubscribeToken.verify(raw, key: key, now: clock.now()) else { return nil }
        return (raw, t)
    }

    /// A value for the page's form that shows the person asked on this page at `at`.
    package func confirmation(_ token: String, at: Date) -> String {
        let millis = Int((at.timeIntervalSince1970 * 1_000).rounded(.up))
        return "\(millis).\(UnsubscribeToken.b64(Data(mac(token, millis))))"
    }

    /// When the person confirmed, if `value` is a valid, recent confirmation for this link.
    package func confirmed(_ value: String, token: String, now: Date) -> Date? {
        let parts = value.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let millis = Int(parts[0]), let sent = UnsubscribeToken.unb64(String(parts[1])),
            HMAC<SHA256>.isValidAuthenticationCode(sent, authenticating: Self.confirmationPayload(token, millis), using: key)
        else { return nil }
        let at = Date(timeIntervalSince1970: Double(millis) / 1_000)
        return at.timeIntervalSince(now) < 1 && now.timeIntervalSince(at) < Self.confirmationLifetime ? at : nil
    }

    private func mac(_ token: String, _ millis: Int) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Self.confirmationPayload(token, millis), using: key)
    }

    private static func confirmationPayload(_ token: String, _ millis: Int) -> Data { Data("confirm\n\(token)\n\(millis)".utf8) }

    /// `application/x-www-form-urlencoded` fields, decoded.
    package static func formFields(_ body: String) -> [(name: String, value: String)] {
        body.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    package static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    package static func page(_ html: String) -> Response {
        let doc = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>\(html)</body></html>"
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: doc)))
    }

    package init(store: SuppressionStore, key: SymmetricKey, clock: any NudgeClock) {
        self.store = store
        self.key = key
        self.clock = clock
    }
}
