import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the one configured DNS server listens. Only IP literals: resolving the resolver's
/// own name would need DNS.
public struct DNSServerAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16 = 53) {
        self.host = host
        self.port = port
    }

    /// Parses "127.0.0.1:5353", "127.0.0.1" (port 53), "[::1]:5353" or "::1".
    public init?(_ text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                self.init(host: host)
                return
            }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            self.init(host: host, port: port)
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            guard let port = UInt16(text[text.index(after: colon)...]) else { return nil }
            self.init(host: String(text[..<colon]), port: port)
        } else {
            self.init(host: text)
        }
        guard SocketAddress(host: host, port: port) != nil else { return nil }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Looks up TXT records (DKIM keys, SPF, DMARC) by asking one configured server: UDP first with
/// a per-try timeout, TCP when the UDP answer comes back truncated (RFC 7766).
public struct DNSTXTResolver: Sendable {
    public var server: DNSServerAddress
    /// Time allowed for each UDP try, and for the whole TCP fallback exchange.
    public var timeout: Duration
    public var tries: Int
    /// Advertised EDNS(0) UDP payload size; nil sends a plain query (512-byte UDP limit).
    /// 1232 is the DNS Flag Day 2020 value that avoids IP fragmentation.
    public var ednsPayloadSize: UInt16?

    public init(server: DNSServerAddress, timeout: Duration = .seconds(2), tries: Int = 2, ednsPayloadSize: UInt16? = 1232) {
        self.server = server
        self.timeout = timeout
        self.tries = max(1, tries)
        self.ednsPayloadSize = ednsPayloadSize
    }

    /// Async wrapper: the socket calls block, so they run on a Dispatch thread instead of
    /// tying up a Swift concurrency cooperative thread for up to `tries * timeout`.
    public func lookupTXT(_ name: String) async throws(DNSLookupError) -> [DNSTXTRecord] {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[DNSTXTRecord], DNSLookupError>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(DNSLookupError) in try self.lookupTXTBlocking(name) })
            }
        }
        return try result.get()
    }

    public func lookupTXTBlocking(_ name: String) throws(DNSLookupError) -> [DNSTXTRecord] {
        let labels = try DNSMessage.labels(of: name)
        guard let address = SocketAddress(host: server.host, port: server.port) else {
            throw .invalidName(server.host)
        }
        for _ in 0..<tries {
            let id = UInt16.random(in: 0...UInt16.max)  // SystemRandomNumberGenerator: getrandom(2)
            let query = DNSMessage.query(id: id, labels: labels, ednsPayloadSize: ednsPayloadSize)
            guard let answer = try DNSSocket.udpExchange(query, id: id, to: address, deadline: .now + timeout) else {
                continue  // timed out: next try, with a fresh id and source port
            }
            if try DNSMessage.header(of: answer).truncated {
                let tcpID = UInt16.random(in: 0...UInt16.max)
                let tcpQuery = DNSMessage.query(id: tcpID, labels: labels, ednsPayloadSize: nil)
                let full = try DNSSocket.tcpExchange(tcpQuery, id: tcpID, to: address, deadline: .now + timeout)
                return try DNSMessage.parseTXTAnswer(full, queryLabels: labels)
            }
            return try DNSMessage.parseTXTAnswer(answer, queryLabels: labels)
        }
        throw .timeout
    }
}

/// An IPv4 or IPv6 socket address built from a literal.
package struct SocketAddress: Sendable {
    var storage = sockaddr_storage()
    var length: socklen_t = 0
    var family: Int32 = 0

    package init?(host: String, port: UInt16) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeBytes(of: v4) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeBytes(of: v6) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
        } else {
            return nil
        }
    }
}
