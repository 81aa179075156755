import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NudgeCore
import NudgeHTTP

/// The headers of every console answer: nothing inline runs, nothing loads from elsewhere, no
/// framing, no caching of pages that show tokens and mail.
struct ConsoleHeaders<Context: RequestContext>: RouterMiddleware {
    static var fields: [(HTTPField.Name, String)] {
        [
            (
                HTTPField.Name("Content-Security-Policy")!,
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            (HTTPField.Name("X-Frame-Options")!, "DENY"),
            (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
            (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
            (.cacheControl, "no-store"),
        ]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for (name, value) in Self.fields { response.headers[name] = value }
        return response
    }
}

/// A page or an error the console answers with.
struct Page: Error {
    var status: HTTPResponse.Status
    var html: String
    var headers: HTTPFields = [:]

    var response: Response {
        var h = headers
        h[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.location] = location
        return Response(status: .seeOther, headers: h)
    }
}

enum Form {
    static let maxBody = 64 * 1024

    /// An `application/x-www-form-urlencoded` body; a name given more than once keeps every value.
    static func parse(_ request: Request) async throws -> [String: [String]] {
        let buffer = try await request.body.collect(upTo: maxBody)
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        var out: [String: [String]] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            out[decode(kv[0]), default: []].append(kv.count > 1 ? decode(kv[1]) : "")
        }
        return out
    }

    /// A cross-site request (another origin's page posting a form here) is refused before any
    /// session or form is read. A browser's `Sec-Fetch-Site` decides when present (pages sent
    /// with `Referrer-Policy: no-referrer` post with `Origin: null`); otherwise `Origin`, when
    /// given, must name this host.
    static func sameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] { return site == "same-origin" || site == "none" }
        guard let origin = request.headers[.origin] else { return true }
        guard origin != "null", let url = URL(string: origin), let host = url.host?.lowercased() else { return false }
        let authority = (request.head.authority ?? "").lowercased()
        let port = url.port.map { ":\($0)" } ?? ""
        return authority == host + port
    }

    /// Constant-time comparison of a submitted CSRF token with the session's.
    static func tokenMatches(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

enum Cookie {
    static let name = "nudge_console"

    static func value(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == name { return String(kv[1]) }
            }
        }
        return nil
    }

    static func set(_ id: String, maxAge: Int, dev: Bool) -> String {
        "\(name)=\(id); Path=/console; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (dev ? "" : "; Secure")
    }

    static func clear(dev: Bool) -> String {
        "\(name)=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict" + (dev ? "" : "; Secure")
    }
}
