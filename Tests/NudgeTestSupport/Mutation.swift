/// SplitMix64: tiny, fast, deterministic across platforms, for reproducible mutations.
public struct SplitMix: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Mutations of real messages for robustness tests: truncation, byte flips, stray CR/LF/NUL,
/// changed line endings, spliced chunks, hostile header snippets, deleted ranges.
public enum Mutation {
    public static func mutate(_ input: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var b = input
        guard !b.isEmpty else { return b }
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: b.removeSubrange(Int.random(in: 0..<b.count, using: &rng)...)  // truncate
        case 1:
            for _ in 0..<Int.random(in: 1...50, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
        case 2:
            for _ in 0..<Int.random(in: 1...50, using: &rng) {
                b.insert([13, 10, 0][Int.random(in: 0..<3, using: &rng)], at: Int.random(in: 0...b.count, using: &rng))
            }
        case 3: b = b.map { $0 == 10 ? 13 : $0 }  // CR-only line endings
        case 4:  // LF -> CRLF
            var out: [UInt8] = []
            out.reserveCapacity(b.count * 2)
            for c in b {
                if c == 10 { out.append(13) }
                out.append(c)
            }
            b = out
        case 5:  // splice a random chunk elsewhere
            let s = Int.random(in: 0..<b.count, using: &rng)
            let e = min(b.count, s + Int.random(in: 1...500, using: &rng))
            b.insert(contentsOf: b[s..<e], at: Int.random(in: 0...b.count, using: &rng))
        case 6:  // hostile header snippets
            let junk = [
                "Content-Type: multipart/mixed; boundary=\"\"\n", "Content-Transfer-Encoding: base64\n\n%%%==\n",
                "Subject: =?bogus-charset?Q?=ZZ=?= =?utf-8?B?####?=\n", "Content-Type: text/plain; charset*0*=x'y'%; charset*1=\n",
                "Content-Transfer-Encoding: quoted-printable\n\n=\n=4=\n=XY\n", "From: \"unterminated <a@b\n", "\n--\n--\n",
            ]
            b.insert(contentsOf: Array(junk[Int.random(in: 0..<junk.count, using: &rng)].utf8), at: Int.random(in: 0...b.count, using: &rng))
        default:  // delete a range
            let s = Int.random(in: 0..<b.count, using: &rng)
            b.removeSubrange(s..<min(b.count, s + Int.random(in: 1...200, using: &rng)))
        }
        return b
    }
}
