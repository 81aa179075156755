// Just enough of RFC 1035 to ask for TXT records and read the answer safely.

/// One TXT resource record: its character-strings, in order.
public struct DNSTXTRecord: Sendable, Equatable {
    public var strings: [[UInt8]]

    public init(strings: [[UInt8]]) { self.strings = strings }

    /// The character-strings concatenated without separators, as RFC 6376 3.6.2.2 and
    /// RFC 7208 3.3 require for DKIM and SPF records longer than 255 bytes.
    public var bytes: [UInt8] { strings.flatMap { $0 } }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

public enum DNSLookupError: Error, Sendable, Equatable {
    /// RCODE 3: the name does not exist.
    case nxdomain
    /// The name exists but has no TXT record (NODATA), possibly after following CNAMEs.
    case noRecords
    /// No answer within the configured timeout on any try.
    case timeout
    /// RCODE 2 (SERVFAIL), or another error RCODE such as 5 (REFUSED); the code is kept.
    case serverFailure(rcode: UInt8)
    /// The server's port actively refused the query (ICMP port unreachable / TCP RST).
    case connectionRefused
    /// The answer could not be parsed; the string says where, for logs.
    case malformedResponse(String)
    /// The query name is not a valid DNS name (empty label, label > 63, name > 253 bytes).
    case invalidName(String)
    /// Any other socket error (errno value).
    case socketError(Int32)
}

package enum DNSMessage {
    package static let typeTXT: UInt16 = 16
    package static let typeCNAME: UInt16 = 5
    package static let typeOPT: UInt16 = 41
    package static let classIN: UInt16 = 1
    /// Bounds on pointer chasing and CNAME following so hostile answers cannot loop us.
    private static let maxPointerJumps = 32
    private static let maxCNAMEHops = 8

    /// Splits "sel._domainkey.example.com." into lowercase labels, validating lengths.
    package static func labels(of name: String) throws(DNSLookupError) -> [[UInt8]] {
        var trimmed = Substring(name)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253,
            labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 })
        else { throw .invalidName(name) }
        return labels.map(lowercased)
    }

    /// A standard recursive-desired query for `labels`/TXT. With `ednsPayloadSize` an OPT
    /// record (RFC 6891) lets the server answer up to that size over UDP before truncating.
    package static func query(id: UInt16, labels: [[UInt8]], ednsPayloadSize: UInt16?) -> [UInt8] {
        var out: [UInt8] = []
        out += be16(id)
        out += [0x01, 0x00]  // QR=0, OPCODE=0, RD=1
        out += be16(1)  // QDCOUNT
        out += be16(0) + be16(0)  // ANCOUNT, NSCOUNT
        out += be16(ednsPayloadSize == nil ? 0 : 1)  // ARCOUNT
        for label in labels {
            out.append(UInt8(label.count))
            out += label
        }
        out.append(0)
        out += be16(typeTXT) + be16(classIN)
        if let size = ednsPayloadSize {
            // Root owner, TYPE=OPT, CLASS=payload size, TTL=ext-rcode/version/flags 0, RDLEN=0.
            out += [0] + be16(typeOPT) + be16(size) + [0, 0, 0, 0] + be16(0)
        }
        return out
    }

    package struct Header: Sendable, Equatable {
        package var id: UInt16
        package var isResponse: Bool
        package var truncated: Bool
        package var rcode: UInt8
        package var questionCount: Int
        package var answerCount: Int
    }

    package static func header(of message: [UInt8]) throws(DNSLookupError) -> Header {
        var reader = Reader(bytes: message)
        let id = try reader.u16()
        let flags = try reader.u16()
        let qd = try reader.u16()
        let an = try reader.u16()
        return Header(
            id: id, isResponse: flags & 0x8000 != 0, truncated: flags & 0x0200 != 0,
            rcode: UInt8(flags & 0x000F), questionCount: Int(qd), answerCount: Int(an))
    }

    /// Reads the TXT records for `labels` from a complete response, following CNAMEs that the
    /// server included in the answer section. Checks that the question echoes ours.
    package static func parseTXTAnswer(_ message: [UInt8], queryLabels: [[UInt8]]) throws(DNSLookupError) -> [DNSTXTRecord] {
        let head = try header(of: message)
        guard head.isResponse else { throw .malformedResponse("QR bit not set") }
        switch head.rcode {
        case 0: break
        case 3: throw .nxdomain
        default: throw .serverFailure(rcode: head.rcode)
        }
        var reader = Reader(bytes: message, offset: 12)
        for _ in 0..<head.questionCount {
            let name = try readName(&reader)
            let type = try reader.u16()
            _ = try reader.u16()
            guard name == queryLabels, type == typeTXT else { throw .malformedResponse("question does not match query") }
        }
        var cnames: [[[UInt8]]: [[UInt8]]] = [:]
        var txt: [[[UInt8]]: [DNSTXTRecord]] = [:]
        for _ in 0..<head.answerCount {
            let owner = try readName(&reader)
            let type = try reader.u16()
            let rrClass = try reader.u16()
            _ = try reader.u32()  // TTL: Nudge does not cache
            let length = Int(try reader.u16())
            let rdataStart = reader.offset
            guard rdataStart + length <= message.count else { throw .malformedResponse("RDATA past end") }
            if rrClass == classIN, type == typeCNAME {
                cnames[owner] = try readName(&reader)
            } else if rrClass == classIN, type == typeTXT {
                txt[owner, default: []].append(try readTXT(message[rdataStart..<(rdataStart + length)]))
            }
            reader.offset = rdataStart + length
        }
        var target = queryLabels
        var hops = 0
        while txt[target] == nil, let next = cnames[target] {
            hops += 1
            guard hops <= maxCNAMEHops else { throw .malformedResponse("CNAME chain too long") }
            target = next
        }
        guard let records = txt[target], !records.isEmpty else { throw .noRecords }
        return records
    }

    /// RFC 1035 3.3.14: one or more <length><bytes> character-strings filling RDATA exactly.
    static func readTXT(_ rdata: ArraySlice<UInt8>) throws(DNSLookupError) -> DNSTXTRecord {
        var strings: [[UInt8]] = []
        var index = rdata.startIndex
        while index < rdata.endIndex {
            let length = Int(rdata[index])
            let start = index + 1
            guard start + length <= rdata.endIndex else { throw .malformedResponse("TXT string past RDATA") }
            strings.append(Array(rdata[start..<(start + length)]))
            index = start + length
        }
        return DNSTXTRecord(strings: strings)
    }

    /// RFC 1035 4.1.4 names with compression pointers. Pointers must go strictly backwards and
    /// are capped in number, so a pointer loop ends in an error instead of spinning.
    static func readName(_ reader: inout Reader) throws(DNSLookupError) -> [[UInt8]] {
        var labels: [[UInt8]] = []
        var position = reader.offset
        var resumeAt: Int?  // where the reader continues after the first pointer
        var jumps = 0
        var totalLength = 0
        while true {
            guard position < reader.bytes.count else { throw .malformedResponse("name past end") }
            let length = reader.bytes[position]
            if length & 0xC0 == 0xC0 {
                guard position + 1 < reader.bytes.count else { throw .malformedResponse("truncated pointer") }
                let target = Int(length & 0x3F) << 8 | Int(reader.bytes[position + 1])
                jumps += 1
                guard target < position, jumps <= maxPointerJumps else { throw .malformedResponse("bad compression pointer") }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            } else if length & 0xC0 != 0 {
                throw .malformedResponse("unsupported label type")
            } else if length == 0 {
                reader.offset = resumeAt ?? position + 1
                return labels
            } else {
                let start = position + 1
                let end = start + Int(length)
                guard end <= reader.bytes.count else { throw .malformedResponse("label past end") }
                totalLength += Int(length) + 1
                guard totalLength <= 255 else { throw .malformedResponse("name too long") }
                labels.append(lowercased(Array(reader.bytes[start..<end])))
                position = end
            }
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(DNSLookupError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw .malformedResponse("short read at \(offset)") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func u32() throws(DNSLookupError) -> UInt32 {
            let high = try u16()
            let low = try u16()
            return UInt32(high) << 16 | UInt32(low)
        }
    }

    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    /// DNS names compare case-insensitively in ASCII only (RFC 4343).
    private static func lowercased(_ label: [UInt8]) -> [UInt8] {
        label.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }
    }
}
