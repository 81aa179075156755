import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeSMTP

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end lookups against a real dnsmasq on loopback, started per test and killed after.
/// Needs Debian's `dnsmasq-base` (`apt-get install -y dnsmasq-base`).
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct DNSTXTResolverTests {
    /// A real DKIM RSA-2048 record is ~410 bytes, so it must be published as several strings.
    static let longRecord: String = (try? DKIMPrivateKey.generateRSA2048())?.dnsTXTRecordValue ?? ""

    static func chunks(_ text: String, size: Int) -> [String] {
        stride(from: 0, to: text.count, by: size).map { start in
            let from = text.index(text.startIndex, offsetBy: start)
            return String(text[from..<(text.index(from, offsetBy: size, limitedBy: text.endIndex) ?? text.endIndex)])
        }
    }

    /// Eight 200-byte TXT records: ~1.7 KB, more than both 512 and the 1232 EDNS size.
    static let bigRecords = (0..<8).map { index in "r\(index)=" + String(repeating: Character(UnicodeScalar(UInt8(97 + index))), count: 197) }

    static var dnsmasqArguments: [String] {
        var arguments = [
            "--txt-record=ready.nudge.test,ok",
            // On the command line dnsmasq takes each comma-separated text as one character-string
            // (quotes would be kept literally; they are config-file syntax).
            "--txt-record=rsa._domainkey.nudge.test," + chunks(longRecord, size: 200).joined(separator: ","),
            "--host-record=host.nudge.test,127.0.0.2",
            "--cname=alias.nudge.test,rsa._domainkey.nudge.test",
        ]
        arguments += bigRecords.map { "--txt-record=big.nudge.test,\($0)" }
        return arguments
    }

    @Test func longRecordSplitIntoStringsIsConcatenated() async throws {
        try await withDNSMasq { server in
            let records = try await DNSTXTResolver(server: server).lookupTXT("rsa._domainkey.nudge.test")
            #expect(Self.longRecord.utf8.count > 400)
            #expect(records.count == 1)
            #expect(records.first?.strings.count == 3)
            #expect(records.first?.text == Self.longRecord)
        }
    }

    @Test func cnameIsFollowed() async throws {
        try await withDNSMasq { server in
            let records = try await DNSTXTResolver(server: server).lookupTXT("ALIAS.nudge.test.")
            #expect(records.map(\.text) == [Self.longRecord])
        }
    }

    @Test(arguments: [UInt16?.none, 1232])
    func truncatedUDPFallsBackToTCP(edns: UInt16?) async throws {
        try await withDNSMasq { server in
            // First prove the UDP answer really is truncated, so the full set below came over TCP.
            let labels = try DNSMessage.labels(of: "big.nudge.test")
            let query = DNSMessage.query(id: 7, labels: labels, ednsPayloadSize: edns)
            let address = try #require(SocketAddress(host: server.host, port: server.port))
            let udp = try #require(try DNSSocket.udpExchange(query, id: 7, to: address, deadline: .now + .seconds(2)))
            #expect(try DNSMessage.header(of: udp).truncated)
            #expect(udp.count <= Int(edns ?? 512))

            let resolver = DNSTXTResolver(server: server, ednsPayloadSize: edns)
            let records = try await resolver.lookupTXT("big.nudge.test")
            #expect(records.map(\.text).sorted() == Self.bigRecords)
        }
    }

    @Test func nxdomainAndNoRecordsAndRefusedAreDistinct() async throws {
        try await withDNSMasq { server in
            let resolver = DNSTXTResolver(server: server)
            await #expect(throws: DNSLookupError.nxdomain) { try await resolver.lookupTXT("missing.nudge.test") }
            await #expect(throws: DNSLookupError.noRecords) { try await resolver.lookupTXT("host.nudge.test") }
            // Outside the local zone and with no upstream, dnsmasq answers REFUSED (rcode 5).
            await #expect(throws: DNSLookupError.serverFailure(rcode: 5)) { try await resolver.lookupTXT("other.example") }
        }
    }

    @Test func timeoutWhenNothingAnswers() async throws {
        // A bound UDP socket that never reads: datagrams vanish, no ICMP error comes back.
        let (fd, port) = try boundLoopbackSocket(type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        let resolver = DNSTXTResolver(server: DNSServerAddress(host: "127.0.0.1", port: port), timeout: .milliseconds(300), tries: 2)
        let start = ContinuousClock.now
        await #expect(throws: DNSLookupError.timeout) { try await resolver.lookupTXT("x.nudge.test") }
        let elapsed = ContinuousClock.now - start
        // Two tries of 300 ms. The upper bound only catches a hang: the lookup runs on a Dispatch
        // thread, which the whole suite's load delayed by 30 s once.
        #expect(elapsed >= .milliseconds(550) && elapsed < .seconds(120), "elapsed \(elapsed)")
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let (fd, port) = try boundLoopbackSocket(type: Int32(SOCK_DGRAM.rawValue))
        close(fd)  // now nothing listens there: the kernel answers with ICMP port unreachable
        let resolver = DNSTXTResolver(server: DNSServerAddress(host: "127.0.0.1", port: port), timeout: .milliseconds(500))
        await #expect(throws: DNSLookupError.connectionRefused) { try await resolver.lookupTXT("x.nudge.test") }
    }

    // MARK: - dnsmasq harness

    private func withDNSMasq(_ body: (DNSServerAddress) async throws -> Void) async throws {
        let dns = try await TestDNSServer(arguments: ["--local=/nudge.test/", "--edns-packet-max=512"] + Self.dnsmasqArguments)
        try await body(DNSServerAddress(host: "127.0.0.1", port: UInt16(dns.port)))
        dns.stop()
    }

    /// Binds to 127.0.0.1:0 and returns the socket and the port the kernel chose.
    private func boundLoopbackSocket(type: Int32) throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, type, 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        try #require(named == 0)
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
