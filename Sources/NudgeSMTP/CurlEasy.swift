import CCurl
import Foundation

/// curl_global_init must run once before any handle exists; a global's lazy initializer is
/// guaranteed to run exactly once, thread-safely.
private let curlGlobalInit: CURLcode = nudge_curl_global_init()

/// What a transfer's C callbacks reach through `Unmanaged`: the bytes to upload and the
/// server's reply lines (libcurl hands SMTP replies to the header callback).
private final class TransferState {
    let message: [UInt8]
    var offset = 0
    var replyLines: [String] = []
    init(message: [UInt8]) { self.message = message }
}

/// One libcurl easy handle. Reusing it across `curl_easy_perform` calls keeps the SMTP
/// connection open. Not thread-safe: `Lane` confines it to one serial queue.
final class CurlEasy {
    struct Config: Sendable {
        var url: String
        var timeoutSeconds: Int
        var requireTLS: Bool
        var caBundlePath: String?
        /// "host:port:address": connect to this (checked) address instead of resolving the host
        /// again, so a name that resolves elsewhere later gains nothing (DNS rebinding).
        var resolve: String? = nil
    }

    private let config: Config
    private var handle: UnsafeMutableRawPointer?
    /// The handle keeps a pointer to it, so it lives as long as this object.
    private let resolveList: UnsafeMutablePointer<curl_slist>?

    init(config: Config) {
        self.config = config
        resolveList = config.resolve.flatMap { curl_slist_append(nil, $0) }
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
        curl_slist_free_all(resolveList)
    }

    /// Blocking. On any failure the handle (and its connection) is discarded, so the next send
    /// starts from a fresh handle whatever state the failed session was left in.
    func send(envelopeFrom: String, recipients: [String], message: [UInt8]) -> Result<SMTPOutcome, SMTPError> {
        _ = curlGlobalInit
        if handle == nil { handle = curl_easy_init() }
        guard let h = handle else { return .failure(.transient(code: nil, message: "curl_easy_init failed")) }

        var rcpts: UnsafeMutablePointer<curl_slist>?
        for r in recipients { rcpts = curl_slist_append(rcpts, "<\(r)>") }
        defer { curl_slist_free_all(rcpts) }

        let state = TransferState(message: message)
        let statePointer = Unmanaged.passUnretained(state).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let result: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            configure(
                h, envelopeFrom: envelopeFrom, recipients: rcpts, size: message.count,
                state: statePointer, errorBuffer: errorBytes.baseAddress!)
            let result = withExtendedLifetime(state) { curl_easy_perform(h) }
            // The handle outlives this call: drop every pointer into this stack frame.
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
            _ = nudge_curl_setopt_pointer(h, CURLOPT_READDATA, nil)
            _ = nudge_curl_setopt_pointer(h, CURLOPT_HEADERDATA, nil)
            _ = nudge_curl_setopt_slist(h, CURLOPT_MAIL_RCPT, nil)
            return result
        }

        if result == CURLE_OK { return .success(.accepted(response: state.replyLines.last)) }

        var responseCode = 0
        _ = nudge_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &responseCode)
        let errorText = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        curl_easy_cleanup(h)
        handle = nil
        // curl may QUIT after the failure, so the reply that carries the code is not necessarily the last.
        let reply = state.replyLines.last { $0.hasPrefix(String(responseCode)) }
        // curl names the RCPT TO and DATA commands that failed; once it has read any of the
        // message, a reply can only be the one to the data.
        let stage: SMTPStage =
            errorText.hasPrefix("RCPT failed")
            ? .recipient
            : (errorText.hasPrefix("DATA failed") || state.offset > 0) ? .data : .session
        return .failure(Self.classify(result: result, responseCode: responseCode, errorText: errorText, reply: reply, stage: stage))
    }

    private func configure(
        _ h: UnsafeMutableRawPointer, envelopeFrom: String, recipients: UnsafeMutablePointer<curl_slist>?,
        size: Int, state: UnsafeMutableRawPointer, errorBuffer: UnsafeMutablePointer<CChar>
    ) {
        _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        Self.applySession(h, config, resolve: resolveList)
        _ = nudge_curl_setopt_string(h, CURLOPT_MAIL_FROM, "<\(envelopeFrom)>")
        _ = nudge_curl_setopt_slist(h, CURLOPT_MAIL_RCPT, recipients)
        _ = nudge_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
        _ = nudge_curl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
        _ = nudge_curl_setopt_pointer(h, CURLOPT_READDATA, state)
        _ = nudge_curl_setopt_read_callback(h, CURLOPT_READFUNCTION) { buffer, size, count, userdata in
            guard let buffer, let userdata else { return 0 }
            let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
            let n = min(size * count, state.message.count - state.offset)
            guard n > 0 else { return 0 }
            state.message.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + state.offset, byteCount: n)
            }
            state.offset += n
            return n
        }
        _ = nudge_curl_setopt_pointer(h, CURLOPT_HEADERDATA, state)
        _ = nudge_curl_setopt_write_callback(h, CURLOPT_HEADERFUNCTION) { buffer, size, count, userdata in
            let n = size * count
            guard let buffer, let userdata else { return n }
            let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
            // Trimmed as bytes: Foundation's trimmingCharacters here was ~5% of a dispatched
            // step's CPU (perf, ops/bench dispatch).
            var line = UnsafeRawBufferPointer(start: buffer, count: n)[...]
            func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
            while let b = line.last, blank(b) { line = line.dropLast() }
            while let b = line.first, blank(b) { line = line.dropFirst() }
            if !line.isEmpty { state.replyLines.append(String(decoding: line, as: UTF8.self)) }
            return n
        }
    }

    /// The options every session of `config` has: server, TLS, trust, time bounds, pinned address.
    static func applySession(_ h: UnsafeMutableRawPointer, _ config: Config, resolve: UnsafeMutablePointer<curl_slist>?) {
        _ = nudge_curl_setopt_string(h, CURLOPT_URL, config.url)  // userinfo becomes AUTH (curl percent-decodes it)
        _ = nudge_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)  // required with threads; timeouts must not use SIGALRM
        _ = nudge_curl_setopt_long(h, CURLOPT_USE_SSL, Int(config.requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue))
        if let ca = config.caBundlePath { _ = nudge_curl_setopt_string(h, CURLOPT_CAINFO, ca) }
        _ = nudge_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT, min(config.timeoutSeconds, 10))
        _ = nudge_curl_setopt_long(h, CURLOPT_TIMEOUT, config.timeoutSeconds)
        if let resolve { _ = nudge_curl_setopt_slist(h, CURLOPT_RESOLVE, resolve) }
    }

    /// A 5xx is the recipient's hard bounce only when it is about the recipient (see
    /// `SMTPError.permanent`): at RCPT TO, or at the data with a 5.1.x/5.2.x status. Any other 5xx
    /// to the message is `rejected`. A 5xx before RCPT TO (greeting, EHLO, AUTH, STARTTLS, MAIL
    /// FROM) is about our own setup, so it stays transient: fixing it lets queued steps go out.
    static func classify(result: CURLcode, responseCode: Int, errorText: String, reply: String?, stage: SMTPStage) -> SMTPError {
        var message = String(cString: curl_easy_strerror(result))
        if !errorText.isEmpty { message += ": \(errorText)" }
        if let reply { message += " (server: \(reply))" }
        guard (400..<600).contains(responseCode) else { return .transient(code: nil, message: message) }
        if responseCode < 500 { return .transient(code: responseCode, message: message) }
        let status = reply.flatMap(EnhancedStatus.init(reply:))
        switch stage {
        case .session:
            return .transient(code: responseCode, message: message)
        case .recipient:
            if let status, [3, 5, 7].contains(status.subject) { return .rejected(code: responseCode, message: message) }
            return .permanent(code: responseCode, message: message)
        case .data:
            if let status, status.subject == 1 || status.subject == 2 { return .permanent(code: responseCode, message: message) }
            return .rejected(code: responseCode, message: message)
        }
    }
}

/// Where in the SMTP transaction a reply came.
enum SMTPStage: Sendable {
    /// Greeting, EHLO, STARTTLS, AUTH, MAIL FROM: before any recipient.
    case session
    /// RCPT TO.
    case recipient
    /// The DATA command or the reply to the message data.
    case data
}

/// An RFC 3463 enhanced status code ("5.2.2") at the start of a reply's text, after the code:
/// "554 5.2.2 Mailbox full" or "550-5.1.1 ...".
struct EnhancedStatus: Equatable, Sendable {
    let statusClass: Int
    let subject: Int
    let detail: Int

    init?(reply: String) {
        let b = Array(reply.utf8)
        guard b.count > 4, b[0...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), b[3] == 0x20 || b[3] == 0x2D else { return nil }
        var fields: [Int] = []
        var i = 4
        var digits = 0
        var value = 0
        while i < b.count, fields.count < 3 {
            let c = b[i]
            if c >= 0x30 && c <= 0x39, digits < 3 {
                value = value * 10 + Int(c - 0x30)
                digits += 1
            } else if c == 0x2E, digits > 0, fields.count < 2 {
                fields.append(value)
                value = 0
                digits = 0
            } else {
                break
            }
            i += 1
        }
        if digits > 0, fields.count == 2, i == b.count || b[i] == 0x20 { fields.append(value) }
        guard fields.count == 3, [2, 4, 5].contains(fields[0]), fields[0] == Int(b[0] - 0x30) else { return nil }
        (statusClass, subject, detail) = (fields[0], fields[1], fields[2])
    }
}
