/// Bytes -> MIME tree. Never throws, never traps and stays roughly linear on hostile input:
/// nesting depth, part count and header sizes are bounded; deeper structure is kept as an opaque body.
public enum MIMEParser {
    public static let maxDepth = 20
    public static let maxParts = 2000

    public static func parse(_ raw: [UInt8]) -> MIMEMessage {
        var budget = maxParts
        return parsePart(raw, 0, raw.count, depth: 0, budget: &budget, defaultType: "text/plain")
    }

    static func parsePart(_ buf: [UInt8], _ start: Int, _ end: Int, depth: Int, budget: inout Int, defaultType: String) -> MIMEPart {
        budget -= 1
        let (headers, bodyStart) = HeaderParsing.parse(buf, start: start, end: end)
        let ct = headers.first(named: "Content-Type").map { HeaderParameters(parsing: $0.rawValue) }
        var type = ct?.value ?? defaultType
        if !type.contains("/") || type.contains(" ") { type = "text/plain" }
        let params = ct?.parameters ?? [:]
        let cte = headers.first(named: "Content-Transfer-Encoding")?.rawValue ?? ""
        var part = MIMEPart(headers: headers, contentType: type, contentTypeParameters: params, body: [], children: [])
        let canNest = depth < maxDepth && budget > 0

        if type.hasPrefix("multipart/"), canNest, let boundary = params["boundary"], !boundary.isEmpty {
            let childDefault = type == "multipart/digest" ? "message/rfc822" : "text/plain"
            var ranges = splitMultipart(buf, bodyStart, end, boundary: Array(boundary.utf8))
            if ranges.isEmpty, let guessed = guessBoundary(buf, bodyStart, end) {
                ranges = splitMultipart(buf, bodyStart, end, boundary: guessed)
            }
            for r in ranges {
                guard budget > 0 else { break }
                part.children.append(parsePart(buf, r.lowerBound, r.upperBound, depth: depth + 1, budget: &budget, defaultType: childDefault))
            }
            if !ranges.isEmpty { return part }
            // No delimiter at all: keep the body so its text is not lost.
        }
        let body = TransferEncoding.decode(buf[bodyStart..<end], encoding: cte)
        if canNest, type == "message/rfc822" || type == "message/global" || type == "text/rfc822-headers" {
            part.children = [parsePart(body, 0, body.count, depth: depth + 1, budget: &budget, defaultType: "text/plain")]
        } else {
            part.body = body
        }
        return part
    }

    /// Ranges of the body parts between "--boundary" lines (RFC 2046 5.1.1). The line break
    /// before a delimiter belongs to the delimiter. A missing close delimiter ends at `end`.
    static func splitMultipart(_ buf: [UInt8], _ start: Int, _ end: Int, boundary: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var partStart: Int? = nil
        var i = start
        while i < end {
            let le = buf.lineEnd(from: i, end: end)
            let ce = buf.contentEnd(start: i, lineEnd: le)
            if ce - i >= boundary.count + 2, buf[i] == ASCII.dash, buf[i + 1] == ASCII.dash,
                buf[(i + 2)..<(i + 2 + boundary.count)].elementsEqual(boundary)
            {
                var k = i + 2 + boundary.count
                let closing = ce - k >= 2 && buf[k] == ASCII.dash && buf[k + 1] == ASCII.dash
                if closing { k += 2 }
                while k < ce && ASCII.isWSP(buf[k]) { k += 1 }
                if k == ce {  // a real delimiter line, not a longer boundary sharing the prefix
                    if let s = partStart { ranges.append(s..<trimLineBreak(buf, s, i)) }
                    if closing { return ranges }
                    partStart = min(le + 1, end)
                }
            }
            i = le + 1
        }
        if let s = partStart, s < end { ranges.append(s..<end) }
        return ranges
    }

    /// Recovery for a declared boundary that never occurs (seen in real bounces): use the first
    /// "--token" line of the body if the same delimiter appears again later.
    static func guessBoundary(_ buf: [UInt8], _ start: Int, _ end: Int) -> [UInt8]? {
        var i = start
        var lines = 0
        while i < end && lines < 200 {
            let le = buf.lineEnd(from: i, end: end)
            var ce = buf.contentEnd(start: i, lineEnd: le)
            while ce > i && ASCII.isWSP(buf[ce - 1]) { ce -= 1 }
            if ce - i > 4, buf[i] == ASCII.dash, buf[i + 1] == ASCII.dash, !buf[i..<ce].contains(ASCII.space) {
                let candidate = Array(buf[(i + 2)..<ce])
                if splitMultipart(buf, i, end, boundary: candidate).count >= 2 { return candidate }
                return nil
            }
            i = le + 1
            lines += 1
        }
        return nil
    }

    /// Drops the CRLF/LF just before a delimiter line.
    private static func trimLineBreak(_ buf: [UInt8], _ s: Int, _ e: Int) -> Int {
        var e = e
        if e > s && buf[e - 1] == ASCII.lf { e -= 1 }
        if e > s && buf[e - 1] == ASCII.cr { e -= 1 }
        return e
    }
}
