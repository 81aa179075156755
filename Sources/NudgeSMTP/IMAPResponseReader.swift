/// One server response: its text with every literal cut out of it, in order. `* 7 FETCH (UID 9
/// BODY[] {42}␍␊<42 bytes>)␍␊` is `.text("* 7 FETCH (UID 9 BODY[] ")`, `.literal(<42 bytes>)`,
/// `.text(")")`. Literals are kept as bytes, never decoded: they are the messages themselves.
struct IMAPResponse: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text([UInt8])
        case literal([UInt8])
        /// A literal larger than the reader's limit: its bytes were read and dropped.
        case skippedLiteral(size: Int)
    }

    var parts: [Part]

    /// The first line as text, for status responses and transcripts ("{n bytes}" for literals).
    var summary: String {
        var s = ""
        for part in parts {
            switch part {
            case .text(let t): s += String(decoding: t, as: UTF8.self)
            case .literal(let l): s += "{\(l.count) bytes}"
            case .skippedLiteral(let n): s += "{\(n) bytes, skipped}"
            }
        }
        return s
    }

    /// The leading text (everything before the first literal).
    var head: [UInt8] {
        if case .text(let t)? = parts.first { return t }
        return []
    }
}

/// Splits the server's byte stream into responses, exactly: a line is complete at LF, and a line
/// ending in `{n}` is followed by n bytes of literal that are copied, whatever they contain (a line
/// starting with a tag, NUL, bare CR, no newline at all), before the line continues.
/// Pure and incremental: `feed` takes bytes in whatever chunks recv returned.
struct IMAPResponseReader {
    /// A literal larger than this is read and dropped (`.skippedLiteral`), so one huge message
    /// cannot exhaust memory. Changed per command.
    var literalLimit: Int
    /// Text outside literals is short (a SEARCH of a huge mailbox is the longest); more than this
    /// without a newline is a broken or hostile server.
    let lineLimit: Int

    private enum State {
        case line
        case literal(remaining: Int, keep: Bool)
    }

    private var state = State.line
    private var line: [UInt8] = []
    private var literal: [UInt8] = []
    private var skippedSize = 0
    private var parts: [IMAPResponse.Part] = []
    private(set) var completed: [IMAPResponse] = []

    init(literalLimit: Int = Int.max, lineLimit: Int = 64 << 20) {
        self.literalLimit = literalLimit
        self.lineLimit = lineLimit
    }

    /// Hands over the responses completed so far.
    mutating func take() -> [IMAPResponse] {
        defer { completed.removeAll(keepingCapacity: true) }
        return completed
    }

    mutating func feed(_ input: UnsafeRawBufferPointer) throws(IMAPError) {
        var rest = input[...]
        while !rest.isEmpty {
            switch state {
            case .literal(let remaining, let keep):
                let n = min(remaining, rest.count)
                if keep { literal.append(contentsOf: rest.prefix(n)) }
                rest = rest.dropFirst(n)
                if remaining == n {
                    parts.append(keep ? .literal(literal) : .skippedLiteral(size: skippedSize))
                    literal = []
                    state = .line
                } else {
                    state = .literal(remaining: remaining - n, keep: keep)
                }
            case .line:
                guard let lf = rest.firstIndex(of: 0x0A) else {
                    line.append(contentsOf: rest)
                    rest = rest[rest.endIndex...]
                    guard line.count <= lineLimit else {
                        throw IMAPError(.protocol, "server sent a line longer than \(lineLimit) bytes")
                    }
                    continue
                }
                line.append(contentsOf: rest[..<lf])
                rest = rest[(lf + 1)...]
                try endLine()
            }
        }
    }

    private mutating func endLine() throws(IMAPError) {
        if line.last == 0x0D { line.removeLast() }
        if let (size, markerStart) = Self.literalMarker(line) {
            line.removeSubrange(markerStart...)
            parts.append(.text(line))
            line = []
            let keep = size <= literalLimit
            if keep { literal.reserveCapacity(size) } else { skippedSize = size }
            if size == 0 {
                parts.append(.literal([]))
            } else {
                state = .literal(remaining: size, keep: keep)
            }
        } else {
            parts.append(.text(line))
            line = []
            completed.append(IMAPResponse(parts: parts))
            parts = []
        }
    }

    /// `{123}` or `{123+}` at the very end of the line: the size and where the marker starts.
    static func literalMarker(_ line: [UInt8]) -> (Int, Int)? {
        guard line.last == UInt8(ascii: "}") else { return nil }
        var i = line.count - 2
        if i >= 0, line[i] == UInt8(ascii: "+") { i -= 1 }
        var size = 0
        var multiplier = 1
        var digits = 0
        while i >= 0, line[i] >= 0x30, line[i] <= 0x39 {
            size += Int(line[i] - 0x30) * multiplier
            multiplier *= 10
            digits += 1
            i -= 1
            if digits > 12 { return nil }  // no literal is a terabyte
        }
        guard digits > 0, i >= 0, line[i] == UInt8(ascii: "{") else { return nil }
        return (size, i)
    }
}
