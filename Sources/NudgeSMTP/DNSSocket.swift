#if canImport(Glibc)
    import Glibc
    private let sockDgram = Int32(SOCK_DGRAM.rawValue)
    private let sockStream = Int32(SOCK_STREAM.rawValue)
    private let sendFlags = Int32(MSG_NOSIGNAL)
#elseif canImport(Musl)
    import Musl
    private let sockDgram = SOCK_DGRAM
    private let sockStream = SOCK_STREAM
    private let sendFlags = MSG_NOSIGNAL
#elseif canImport(Darwin)
    import Darwin
    private let sockDgram = SOCK_DGRAM
    private let sockStream = SOCK_STREAM
    private let sendFlags: Int32 = 0  // Darwin uses SO_NOSIGPIPE instead; UDP/TCP here never write after close
#endif

/// Blocking DNS exchanges over plain sockets, every wait bounded by a deadline via poll(2).
package enum DNSSocket {
    /// Sends `query` over a connected UDP socket and waits for the reply carrying `id`.
    /// Returns nil on timeout. Replies with another id (late answers to an earlier try,
    /// spoofing attempts) are ignored rather than failing the lookup.
    package static func udpExchange(_ query: [UInt8], id: UInt16, to address: SocketAddress, deadline: ContinuousClock.Instant) throws(DNSLookupError)
        -> [UInt8]?
    {
        let fd = try openSocket(family: address.family, type: sockDgram)
        defer { close(fd) }
        // connect() makes the kernel drop datagrams from other peers and report ICMP errors.
        try connectSocket(fd, address, deadline: deadline)
        let sent = query.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, sendFlags) }
        guard sent == query.count else { throw errnoError() }
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while true {
            guard try waitFor(fd, events: Int16(POLLIN), until: deadline) else { return nil }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw errnoError()
            }
            let reply = Array(buffer[0..<count])
            if let header = try? DNSMessage.header(of: reply), header.id == id, header.isResponse {
                return reply
            }
        }
    }

    /// RFC 1035 4.2.2 / RFC 7766: the same message with a two-byte length prefix over TCP.
    package static func tcpExchange(_ query: [UInt8], id: UInt16, to address: SocketAddress, deadline: ContinuousClock.Instant) throws(DNSLookupError)
        -> [UInt8]
    {
        let fd = try openSocket(family: address.family, type: sockStream)
        defer { close(fd) }
        try connectSocket(fd, address, deadline: deadline)
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
        var written = 0
        while written < framed.count {
            guard try waitFor(fd, events: Int16(POLLOUT), until: deadline) else { throw .timeout }
            let count = framed[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, sendFlags) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw errnoError()
            }
            written += count
        }
        let prefix = try readExactly(fd, count: 2, deadline: deadline)
        let reply = try readExactly(fd, count: Int(prefix[0]) << 8 | Int(prefix[1]), deadline: deadline)
        let header = try DNSMessage.header(of: reply)
        guard header.id == id, header.isResponse else { throw .malformedResponse("TCP answer id mismatch") }
        return reply
    }

    private static func readExactly(_ fd: Int32, count: Int, deadline: ContinuousClock.Instant) throws(DNSLookupError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < count {
            guard try waitFor(fd, events: Int16(POLLIN), until: deadline) else { throw .timeout }
            let wanted = min(chunk.count, count - result.count)
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, wanted, 0) }
            if got < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw errnoError()
            }
            guard got > 0 else { throw .malformedResponse("TCP connection closed early") }
            result += chunk[0..<got]
        }
        return result
    }

    /// Non-blocking socket, so connect() and every read/write can be bounded by poll().
    private static func openSocket(family: Int32, type: Int32) throws(DNSLookupError) -> Int32 {
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw errnoError() }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0, fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
            let error = errnoError()
            close(fd)
            throw error
        }
        return fd
    }

    private static func connectSocket(_ fd: Int32, _ address: SocketAddress, deadline: ContinuousClock.Instant) throws(DNSLookupError) {
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        if result == 0 { return }
        guard errno == EINPROGRESS else { throw errnoError() }
        guard try waitFor(fd, events: Int16(POLLOUT), until: deadline) else { throw .timeout }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { throw errnoError() }
        if error != 0 { throw mapErrno(error) }
    }

    /// Waits until `fd` is ready for `events`; false when the deadline passes first.
    /// Errors reported by poll itself (POLLERR, e.g. ICMP port unreachable) surface on the
    /// following recv/send, which is where errno is meaningful.
    private static func waitFor(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) throws(DNSLookupError) -> Bool {
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { return false }
            let (seconds, attoseconds) = remaining.components
            let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, millis)
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { throw errnoError() }
        }
    }

    private static func errnoError() -> DNSLookupError { mapErrno(errno) }

    private static func mapErrno(_ code: Int32) -> DNSLookupError {
        switch code {
        case ECONNREFUSED: .connectionRefused
        case ETIMEDOUT: .timeout
        default: .socketError(code)
        }
    }
}
