/// Quoted-printable (RFC 2045 section 6.7) for a body whose line breaks are already CRLF.
enum QuotedPrintable {
    private static let maxLine = 76
    private static let hex = Array("0123456789ABCDEF".utf8)

    static func encode(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + body.count / 8)
        for (index, line) in CRLF.lines(of: body).enumerated() {
            if index > 0 { out += [0x0D, 0x0A] }
            encodeLine(line, into: &out)
        }
        return out
    }

    private static func encodeLine(_ line: ArraySlice<UInt8>, into out: inout [UInt8]) {
        var column = 0
        for (offset, byte) in zip(line.indices, line) {
            let isLast = offset == line.index(before: line.endIndex)
            let literal =
                (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
                || ((byte == 0x20 || byte == 0x09) && !isLast)  // trailing whitespace must be encoded
            let token: [UInt8] = literal ? [byte] : [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            // Keep room for the "=" of a soft line break so no line exceeds 76.
            let limit = isLast ? maxLine : maxLine - 1
            if column + token.count > limit {
                out += [UInt8(ascii: "="), 0x0D, 0x0A]
                column = 0
            }
            out += token
            column += token.count
        }
    }
}

/// Line-ending helpers shared by body rendering and QP.
enum CRLF {
    /// Converts CRLF, lone CR and lone LF to CRLF.
    static func normalize(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        var previousWasCR = false
        for byte in text.utf8 {
            switch byte {
            case 0x0D:
                out += [0x0D, 0x0A]
                previousWasCR = true
            case 0x0A:
                if !previousWasCR { out += [0x0D, 0x0A] }
                previousWasCR = false
            default:
                out.append(byte)
                previousWasCR = false
            }
        }
        return out
    }

    /// Splits CRLF-normalized bytes into lines (without terminators). A trailing CRLF yields a
    /// final empty line, so joining with CRLF is the exact inverse.
    static func lines(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x0D && i + 1 < bytes.endIndex && bytes[i + 1] == 0x0A {
                lines.append(bytes[start..<i])
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(bytes[start..<bytes.endIndex])
        return lines
    }
}
