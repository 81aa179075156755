import CCurl
import Dispatch
import Foundation

/// One SMTP session that connects, upgrades to TLS, authenticates and ends with NOOP, sending no
/// mail: what an inbox's account check runs. The transcript keeps the server's own replies and
/// the client's commands, with anything after AUTH's verb masked (credentials never appear).
public enum SMTPSessionCheck {
    public struct Outcome: Sendable, Equatable {
        public let ok: Bool
        /// curl's description of the failure, with the reply that carried it; nil on success.
        public let error: String?
        /// "S: 220 ...", "C: EHLO ...", "* SSL connection using ..." lines in order.
        public let transcript: [String]
    }

    /// Blocking work on a queue of its own, never on Swift's cooperative pool.
    public static func run(
        url: String, requireTLS: Bool, caBundlePath: String?, resolve: String?, timeoutSeconds: Int
    ) async throws -> Outcome {
        let config = try CurlSMTPTransport.config(
            url: url, timeoutSeconds: timeoutSeconds, requireTLS: requireTLS, caBundlePath: caBundlePath, resolve: resolve)
        return await withCheckedContinuation { c in
            DispatchQueue.global().async { c.resume(returning: perform(config)) }
        }
    }

    /// SMTP's credentials: everything after AUTH's mechanism, and the answers to each 334.
    private final class SMTPTranscript: CurlTranscript {
        private var masking = false

        override func server(_ line: String) {
            if !line.hasPrefix("334") { masking = false }
            append("S: \(line)")
        }

        override func client(_ line: String) {
            let words = line.split(separator: " ").map(String.init)
            if words.first?.uppercased() == "AUTH" {
                append("C: AUTH \(words.count > 1 ? words[1] : "") ****")
                masking = true
            } else {
                append(masking ? "C: ****" : "C: \(line)")
            }
        }
    }

    private static func perform(_ config: CurlEasy.Config) -> Outcome {
        _ = nudge_curl_global_init()
        guard let h = curl_easy_init() else { return Outcome(ok: false, error: "curl_easy_init failed", transcript: []) }
        defer { curl_easy_cleanup(h) }
        let resolve = config.resolve.flatMap { curl_slist_append(nil, $0) }
        defer { curl_slist_free_all(resolve) }
        let transcript = SMTPTranscript(recording: true)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let result: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBytes.baseAddress!)
            CurlEasy.applySession(h, config, resolve: resolve)
            _ = nudge_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, "NOOP")
            transcript.install(on: h)
            let r = withExtendedLifetime(transcript) { curl_easy_perform(h) }
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
            _ = nudge_curl_setopt_pointer(h, CURLOPT_DEBUGDATA, nil)
            return r
        }
        if result == CURLE_OK { return Outcome(ok: true, error: nil, transcript: transcript.lines) }
        let detail = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var message = String(cString: curl_easy_strerror(result))
        if !detail.isEmpty { message += ": \(detail)" }
        return Outcome(ok: false, error: message, transcript: transcript.lines)
    }
}
