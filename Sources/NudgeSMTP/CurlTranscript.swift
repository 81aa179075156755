import CCurl

/// A session's exchange as libcurl's debug callback reports it (reached through `Unmanaged`):
/// the server's lines, the client's lines and curl's own notes about the connection and TLS.
/// Subclasses decide what is kept and mask the credentials of their protocol.
class CurlTranscript {
    /// Only an account check keeps the whole exchange.
    let recording: Bool
    private(set) var lines: [String] = []

    init(recording: Bool) { self.recording = recording }

    func server(_ line: String) { append("S: \(line)") }
    func client(_ line: String) { append("C: \(line)") }
    func note(_ text: String) { append("* \(text)") }

    final func append(_ line: String) {
        if recording { lines.append(String(line.prefix(300))) }
    }

    /// Installs the debug callback on `h`; the handle must not outlive this object.
    final func install(on h: UnsafeMutableRawPointer) {
        _ = nudge_curl_setopt_long(h, CURLOPT_VERBOSE, 1)
        _ = nudge_curl_setopt_pointer(h, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = nudge_curl_setopt_debug_callback(h) { _, kind, data, size, userdata in
            guard let data, let userdata else { return 0 }
            let t = Unmanaged<CurlTranscript>.fromOpaque(userdata).takeUnretainedValue()
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
