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
        /// "S: 220 ...", "C: EHLO ...", "* TLS: ..." lines in order.
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

    private final class Transcript {
        var lines: [String] = []
        var masking = false
    }

    private static func perform(_ config: CurlEasy.Config) -> Outcome {
        _ = nudge_curl_global_init()
        guard let h = curl_easy_init() else { return Outcome(ok: false, error: "curl_easy_init failed", transcript: []) }
        defer { curl_easy_cleanup(h) }
        let resolve = config.resolve.flatMap { curl_slist_append(nil, $0) }
        defer { curl_slist_free_all(resolve) }
        let transcript = Transcript()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let result: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBytes.baseAddress!)
            CurlEasy.applySession(h, config, resolve: resolve)
            _ = nudge_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, "NOOP")
            _ = nudge_curl_setopt_long(h, CURLOPT_VERBOSE, 1)
            _ = nudge_curl_setopt_pointer(h, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(transcript).toOpaque())
            _ = nudge_curl_setopt_debug_callback(h) { _, kind, data, size, userdata in
                guard let data, let userdata else { return 0 }
                let t = Unmanaged<Transcript>.fromOpaque(userdata).takeUnretainedValue()
                let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
                for raw in text.split(whereSeparator: \.isNewline) {
                    let line = String(raw.prefix(300))
                    switch kind {
                    case CURLINFO_HEADER_IN:
                        t.lines.append("S: \(line)")
                        // A 334 asks for the next credential; anything else ends the exchange.
                        if !line.hasPrefix("334") { t.masking = false }
                    case CURLINFO_HEADER_OUT:
                        let verb = line.split(separator: " ").first.map(String.init)?.uppercased() ?? ""
                        if verb == "AUTH" {
                            let mechanism = line.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                            t.lines.append("C: AUTH \(mechanism) ****")
                            t.masking = true
                        } else {
                            t.lines.append(t.masking ? "C: ****" : "C: \(line)")
                        }
                    case CURLINFO_TEXT where line.hasPrefix("SSL connection using") || line.hasPrefix("SSL certificate"):
                        t.lines.append("* TLS: \(line)")
                    default: break
                    }
                }
                return 0
            }
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
