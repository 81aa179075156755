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
    }

    private let config: Config
    private var handle: UnsafeMutableRawPointer?

    init(config: Config) { self.config = config }

    deinit { if let handle { curl_easy_cleanup(handle) } }

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
            configure(h, envelopeFrom: envelopeFrom, recipients: rcpts, size: message.count,
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
        return .failure(Self.classify(result: result, responseCode: responseCode, errorText: errorText, reply: reply))
    }

    private func configure(_ h: UnsafeMutableRawPointer, envelopeFrom: String, recipients: UnsafeMutablePointer<curl_slist>?,
                           size: Int, state: UnsafeMutableRawPointer, errorBuffer: UnsafeMutablePointer<CChar>) {
        _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = nudge_curl_setopt_string(h, CURLOPT_URL, config.url)  // userinfo becomes AUTH (curl percent-decodes it)
        _ = nudge_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)  // required with threads; timeouts must not use SIGALRM
        _ = nudge_curl_setopt_long(h, CURLOPT_USE_SSL, Int(config.requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue))
        if let ca = config.caBundlePath { _ = nudge_curl_setopt_string(h, CURLOPT_CAINFO, ca) }
        _ = nudge_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT, min(config.timeoutSeconds, 10))
        _ = nudge_curl_setopt_long(h, CURLOPT_TIMEOUT, config.timeoutSeconds)
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

    /// A 5xx is a hard bounce only when it answers RCPT TO or the message data. A 5xx at the
    /// greeting, AUTH or MAIL FROM is about our own setup, so it stays transient.
    static func classify(result: CURLcode, responseCode: Int, errorText: String, reply: String?) -> SMTPError {
        var message = String(cString: curl_easy_strerror(result))
        if !errorText.isEmpty { message += ": \(errorText)" }
        if let reply { message += " (server: \(reply))" }
        guard (400..<600).contains(responseCode) else { return .transient(code: nil, message: message) }
        let aboutUs = result == CURLE_LOGIN_DENIED || result == CURLE_REMOTE_ACCESS_DENIED
            || result == CURLE_USE_SSL_FAILED || errorText.hasPrefix("MAIL failed")
        if responseCode < 500 || aboutUs { return .transient(code: responseCode, message: message) }
        return .permanent(code: responseCode, message: message)
    }
}
