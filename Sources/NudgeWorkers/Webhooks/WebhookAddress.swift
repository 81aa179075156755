import Foundation
import NIOPosix
import NudgeCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a webhook may point (server-side request forgery): https only (http too in --dev), and
/// never to an address inside the network the server runs in: loopback, private, shared (CGNAT),
/// link-local, multicast, reserved, unspecified, or the clouds' metadata services
/// (169.254.169.254, fd00:ec2::254). A name is checked for every address it resolves to, when the
/// endpoint is saved and again before each attempt, and the attempt connects to the address that
/// was checked (`pinned`), so a name that resolves elsewhere a moment later (DNS rebinding) gains
/// nothing. `NUDGE_WEBHOOK_ALLOW_PRIVATE=1` lets an operator (and the tests) allow such addresses.
package enum WebhookAddress {
    package struct Target: Sendable {
        package let url: String
        package let host: String
        package let port: Int
        /// The numeric address the attempt connects to.
        package let address: String
    }

    /// The URL's host and port, once its form is allowed (not yet resolved). 422s name `url`.
    package static func parse(_ url: String, allowHTTP: Bool) throws -> (host: String, port: Int) {
        guard Validate.length(url) <= 2_000, let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
            var host = c.host, !host.isEmpty
        else { throw NudgeError.validation("url", "url must be an absolute https URL.") }
        guard scheme == "https" || (scheme == "http" && allowHTTP) else {
            throw NudgeError.validation("url", allowHTTP ? "url must be an http or https URL." : "url must be an https URL.")
        }
        guard c.user == nil, c.password == nil, c.fragment == nil else {
            throw NudgeError.validation("url", "url must not carry credentials or a fragment.")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, c.port ?? (scheme == "https" ? 443 : 80))
    }

    /// Resolves the URL's host and checks every address; the first is the one to connect to.
    package static func pinned(_ url: String, allowHTTP: Bool, allowPrivate: Bool) throws -> Target {
        let (host, port) = try parse(url, allowHTTP: allowHTTP)
        let addresses = try resolve(host)
        guard let first = addresses.first else { throw NudgeError.validation("url", "url's host \(host) does not resolve.") }
        if !allowPrivate, let bad = addresses.first(where: isForbidden) {
            throw NudgeError.validation(
                "url", "url's host resolves to \(bad), a loopback, private, link-local, multicast or metadata address, which webhooks may not reach.")
        }
        return Target(url: url, host: host, port: port, address: first)
    }

    /// `pinned`, on NIO's thread pool: getaddrinfo blocks, and neither a request's event loop nor
    /// the sender's tasks may wait on a slow resolver.
    package static func checked(_ url: String, allowHTTP: Bool, allowPrivate: Bool) async throws -> Target {
        try await NIOThreadPool.singleton.runIfActive { try pinned(url, allowHTTP: allowHTTP, allowPrivate: allowPrivate) }
    }

    /// Every address `host` resolves to, numeric (getaddrinfo: literals come back as they are).
    package static func resolve(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let head = list else {
            throw NudgeError.validation("url", "url's host \(host.prefix(200)) does not resolve.")
        }
        defer { freeaddrinfo(head) }
        var out: [String] = []
        var p: UnsafeMutablePointer<addrinfo>? = head
        while let a = p {
            var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(a.pointee.ai_addr, a.pointee.ai_addrlen, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) == 0 {
                let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !out.contains(s) { out.append(s) }
            }
            p = a.pointee.ai_next
        }
        return out
    }

    /// A numeric IPv4 or IPv6 address (no name to resolve).
    package static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// True for an address a webhook may not reach (numeric IPv4 or IPv6; a scope suffix is ignored).
    package static func isForbidden(_ address: String) -> Bool {
        let numeric = String(address.split(separator: "%", maxSplits: 1).first ?? "")
        var v4 = in_addr()
        if inet_pton(AF_INET, numeric, &v4) == 1 {
            return isForbidden(v4: withUnsafeBytes(of: &v4) { Array($0) })
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, numeric, &v6) == 1 else { return true }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) carry
        // an IPv4 address that is what is reached.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return isForbidden(v4: Array(b[12..<16])) }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return true }  // ::, ::1 and the deprecated compatible form
        if b[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0][...] { return isForbidden(v4: Array(b[12..<16])) }
        if b[0] == 0xff { return true }  // multicast
        if b[0] & 0xfe == 0xfc { return true }  // unique local fc00::/7, including fd00:ec2::254
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return true }  // link-local fe80::/10
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return true }  // site-local fec0::/10 (deprecated)
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return true }  // documentation
        return false
    }

    private static func isForbidden(v4 b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return true  // "this network", private, loopback
        case (100, 64...127): return true  // shared address space (CGNAT)
        case (169, 254): return true  // link-local, including 169.254.169.254 (metadata)
        case (172, 16...31), (192, 168): return true  // private
        case (192, 0) where b[2] == 0 || b[2] == 2: return true  // IETF protocol assignments, documentation
        case (198, 18...19): return true  // benchmarking
        case (198, 51) where b[2] == 100, (203, 0) where b[2] == 113: return true  // documentation
        case (224...255, _): return true  // multicast, reserved, broadcast
        default: return false
        }
    }
}
