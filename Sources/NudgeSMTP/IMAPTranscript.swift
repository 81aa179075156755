import CCurl

/// What libcurl's debug callback reaches through `Unmanaged` while it connects and logs in: the
/// server's last reply (for errors) and, when asked, a transcript with credentials masked.
final class IMAPTranscript: CurlTranscript {
    /// The last line the server sent before any LOGOUT: after a failed login libcurl logs out
    /// at once, and "A005 OK Logout completed" explains nothing.
    private(set) var lastServerLine: String?
    private var loggingOut = false
    /// After AUTHENTICATE, every client line up to the server's final reply is a credential.
    private var masking = false

    override func server(_ line: String) {
        if !loggingOut { lastServerLine = line }
        // "+ ..." asks for the next SASL step; anything else ends the exchange.
        if !line.hasPrefix("+") { masking = false }
        append("S: \(line)")
    }

    override func client(_ line: String) {
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

}
