/// Where and how to read one mailbox over IMAP. Credentials go to libcurl through
/// CURLOPT_USERNAME / CURLOPT_PASSWORD, never into the URL, so no character in them needs escaping
/// and they never appear in a URL that might be logged.
public struct IMAPSettings: Sendable, Equatable {
    public enum Security: String, Sendable, Equatable {
        /// Port 143 style: plain connect, then STARTTLS, which is required (no plaintext fallback).
        case starttls
        /// Port 993 style: TLS from the first byte (imaps://).
        case tls
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String
    public var password: String
    /// The folder read, as the user sees its name (encoded to IMAP's modified UTF-7 on the wire).
    public var folder: String
    /// PEM bundle of trusted CAs; nil trusts the system store.
    public var caBundlePath: String?
    /// "host:port:address": connect to this (checked) address instead of resolving the host again,
    /// so a name that resolves elsewhere later gains nothing (DNS rebinding).
    public var resolve: String?
    /// Bounds the connect + login, and how long the server may stay silent during a command.
    public var timeoutSeconds: Int

    public init(
        host: String, port: Int, security: Security, username: String, password: String, folder: String = "INBOX",
        caBundlePath: String? = nil, resolve: String? = nil, timeoutSeconds: Int = 30
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.folder = folder
        self.caBundlePath = caBundlePath
        self.resolve = resolve
        self.timeoutSeconds = timeoutSeconds
    }

    /// The URL names the server only: no userinfo and no mailbox, because the folder is opened by
    /// our own EXAMINE (libcurl would SELECT it read-write).
    func url() throws(IMAPError) -> String {
        // A host is a name or an address; anything else would change the URL's meaning.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")
        guard !host.isEmpty, host.allSatisfy({ allowed.contains($0) }) else {
            throw IMAPError(.configuration, "invalid host \"\(host)\"")
        }
        guard (1...65535).contains(port) else { throw IMAPError(.configuration, "invalid port \(port)") }
        guard timeoutSeconds > 0 else { throw IMAPError(.configuration, "timeout must be positive") }
        let scheme = security == .tls ? "imaps" : "imap"
        let authority = host.contains(":") ? "[\(host)]" : host  // an IPv6 address
        return "\(scheme)://\(authority):\(port)/"
    }
}
