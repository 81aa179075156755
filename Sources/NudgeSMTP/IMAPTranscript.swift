import CCurl

/// What libcurl's debug callback reaches through `Unmanaged` while it connects and logs in: the
/// server's last reply (for errors) and, when asked, a transcript with credentials masked.
final class IMAPTranscript {
    /// Only an account check keeps the whole exchange; a session keeps the last reply only.
    let recording: Bool
    private(set) var lines: [String] = []
    /// The last line the server sent before any LOGOUT: after a failed login libcurl logs out
    /// at once, and "A005 OK Logout completed" explains nothing.
    private(set) var lastServerLine: String?
    private var loggingOut = false
    /// After AUTHENTICATE, every client line up to the server's final reply is a credential.
    private var masking = false

    init(recording: Bool) { self.recording = recording }

    func server(_ line: String) {
        if !loggingOut { lastServerLine = line }
        // "+ ..." asks for the next SASL step; anything else ends the exchange.
        if !line.hasPrefix("+") { masking = false }
        append("S: \(line)")
    }

    func client(_ line: String) {
        let words = line.split(separator: " ", maxSplits: 3).map(String.init)
        let verb = words.count > 1 ? words[1].uppercased() : ""
        if verb == "LOGOUT" { loggingOut = true }
        if verb == "LOGIN" {
            append("C: \(words[0]) LOGIN ****")
        } else if verb == "AUTHENTICATE" {
            // The mechanism name is useful; the initial response (SASL-IR) is the credential.
            append("C: \(words[0]) AUTHENTICATE \(words.count > 2 ? words[2] : "") ****")
            masking = true
        } else {
            append(masking ? "C: ****" : "C: \(line)")
        }
    }

    func note(_ text: String) { append("* \(text)") }

    private func append(_ line: String) {
        if recording { lines.append(String(line.prefix(300))) }
    }

    /// Installs the debug callback on `h`; the handle must not outlive this object.
    func install(on h: UnsafeMutableRawPointer) {
        _ = nudge_curl_setopt_long(h, CURLOPT_VERBOSE, 1)
        _ = nudge_curl_setopt_pointer(h, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = nudge_curl_setopt_debug_callback(h) { _, kind, data, size, userdata in
            guard let data, let userdata else { return 0 }
            let t = Unmanaged<IMAPTranscript>.fromOpaque(userdata).takeUnretainedValue()
            let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
            for raw in text.split(whereSeparator: \.isNewline) {
                let line = String(raw)
                switch kind {
                case CURLINFO_HEADER_IN: t.server(line)
                case CURLINFO_HEADER_OUT: t.client(line)
                case CURLINFO_TEXT:
                    // curl indents the certificate's details: "*  subject: CN=...".
                    let text = line.drop { $0 == " " }
                    let wanted = ["Connected to", "SSL connection using", "subject:", "issuer:", "SSL certificate"]
                    if wanted.contains(where: { text.hasPrefix($0) }) { t.note(String(text)) }
                default: break
                }
            }
            return 0
        }
    }
}
