// RFC 6376 section 3.4: the "relaxed" header and body canonicalization,
// plus the minimal RFC 5322 splitting that DKIM signing needs.

/// One header field exactly as it appears in the message, continuation lines included.
package struct RawHeaderField: Sendable, Equatable {
    /// The field name as written (case preserved); compare with `lowercasedName`.
    package var name: [UInt8]
    /// Everything after the colon up to, not including, the field's final CRLF.
    /// Folded lines keep their CRLF here; relaxed canonicalization removes it.
    package var value: [UInt8]

    package var lowercasedName: String {
        String(decoding: name.map(asciiLowercased), as: UTF8.self)
    }
}

/// A message split at the first empty line.
package struct SplitMessage: Sendable {
    package var headers: [RawHeaderField]
    /// Bytes after the empty line that ends the header section (may be empty).
    package var body: [UInt8]
}

package enum DKIMCanonicalization {
    private static let cr: UInt8 = 13
    private static let lf: UInt8 = 10
    private static let space: UInt8 = 32
    private static let tab: UInt8 = 9

    /// Turns bare LF (and bare CR) into CRLF. The product renders CRLF already; this keeps a
    /// stray "\n" from producing a signature over bytes that an MTA would rewrite on the wire.
    package static func normalizeLineEndings(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 16)
        var index = 0
        while index < message.count {
            let byte = message[index]
            if byte == cr {
                out.append(cr)
                out.append(lf)
                // A CR followed by LF is one line ending, not two.
                if index + 1 < message.count, message[index + 1] == lf { index += 1 }
            } else if byte == lf {
                out.append(cr)
                out.append(lf)
            } else {
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    /// Splits a CRLF message into header fields and body. Lines in the header section that
    /// have no colon (malformed) are kept as part of the previous field, or dropped if first,
    /// so that signing never crashes on odd input.
    package static func split(_ message: [UInt8]) -> SplitMessage {
        var headers: [RawHeaderField] = []
        var index = 0
        var bodyStart = message.count
        while index < message.count {
            let lineEnd = endOfLine(in: message, from: index)
            let line = Array(message[index..<lineEnd])
            let next = min(lineEnd + 2, message.count)
            if line.isEmpty {
                bodyStart = next
                break
            }
            if let first = line.first, first == space || first == tab {
                // Continuation line: belongs to the field above (RFC 5322 2.2.3 folding).
                if !headers.isEmpty {
                    headers[headers.count - 1].value += [cr, lf] + line
                }
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                headers.append(RawHeaderField(name: Array(line[..<colon]), value: Array(line[(colon + 1)...])))
            } else if !headers.isEmpty {
                headers[headers.count - 1].value += [cr, lf] + line
            }
            index = next
        }
        return SplitMessage(headers: headers, body: bodyStart < message.count ? Array(message[bodyStart...]) : [])
    }

    /// Index of the CR of the next CRLF at or after `start`, or the end of the buffer.
    private static func endOfLine(in bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == cr, bytes[index + 1] == lf { return index }
            index += 1
        }
        return bytes.count
    }

    /// RFC 6376 3.4.2: lowercase name, unfold, collapse WSP runs to one SP, trim the value,
    /// no WSP around the colon. Returns "name:value" without the trailing CRLF.
    package static func relaxedHeader(name: [UInt8], value: [UInt8]) -> [UInt8] {
        var out = trimWSP(name).map(asciiLowercased)
        out.append(UInt8(ascii: ":"))
        var pendingSpace = false
        var emittedValue = false
        for byte in value {
            // Unfolding removes only the CRLF; the WSP that follows it becomes a single SP below.
            if byte == cr || byte == lf { continue }
            if byte == space || byte == tab {
                pendingSpace = true
                continue
            }
            // WSP before the first value byte (after the colon) and at the end is dropped.
            if pendingSpace, emittedValue { out.append(space) }
            pendingSpace = false
            emittedValue = true
            out.append(byte)
        }
        return out
    }

    /// RFC 6376 3.4.4: collapse WSP runs inside lines, drop WSP at line ends, drop empty
    /// lines at the end of the body, and end a non-empty body with CRLF. An empty body
    /// stays empty (RFC 6376 errata 1384 for relaxed).
    package static func relaxedBody(_ body: [UInt8]) -> [UInt8] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var pendingSpace = false
        var index = 0
        var sawPartialLine = false
        while index < body.count {
            let byte = body[index]
            if byte == cr, index + 1 < body.count, body[index + 1] == lf {
                lines.append(current)  // trailing WSP is dropped by never flushing pendingSpace
                current = []
                pendingSpace = false
                sawPartialLine = false
                index += 2
                continue
            }
            sawPartialLine = true
            if byte == space || byte == tab {
                pendingSpace = true
            } else {
                if pendingSpace { current.append(space) }
                pendingSpace = false
                current.append(byte)
            }
            index += 1
        }
        // A last line without CRLF still counts; the CRLF is added on output.
        if sawPartialLine { lines.append(current) }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        for line in lines {
            out += line
            out += [cr, lf]
        }
        return out
    }

    private static func trimWSP(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        var slice = bytes[...]
        while let first = slice.first, first == space || first == tab { slice = slice.dropFirst() }
        while let last = slice.last, last == space || last == tab { slice = slice.dropLast() }
        return slice
    }
}

@inline(__always)
private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (byte >= 65 && byte <= 90) ? byte + 32 : byte
}
