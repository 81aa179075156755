#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The C library's iconv, for charsets Foundation cannot decode on Linux (EUC-JP, ISO-2022-JP
/// with extensions, GB18030, ...). Strict: returns nil on any invalid sequence.
enum Iconv {
    static func decode<C: Collection>(_ bytes: C, from charset: String) -> String? where C.Element == UInt8 {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
            let cd = iconv_open("UTF-8", charset)
            if cd == iconv_t(bitPattern: -1) { return nil }
            defer { iconv_close(cd) }
            var input = bytes.map { CChar(bitPattern: $0) }
            var output = [CChar](repeating: 0, count: input.count * 4 + 16)
            let produced: Int? = input.withUnsafeMutableBufferPointer { inBuf in
                output.withUnsafeMutableBufferPointer { outBuf in
                    var inPtr: UnsafeMutablePointer<CChar>? = inBuf.baseAddress
                    var inLeft = inBuf.count
                    var outPtr: UnsafeMutablePointer<CChar>? = outBuf.baseAddress
                    var outLeft = outBuf.count
                    if iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) == -1 || inLeft != 0 { return nil }
                    // Flush shift state (ISO-2022).
                    if iconv(cd, nil, nil, &outPtr, &outLeft) == -1 { return nil }
                    return outBuf.count - outLeft
                }
            }
            guard let n = produced else { return nil }
            return String(validating: output[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #else
            return nil
        #endif
    }
}
