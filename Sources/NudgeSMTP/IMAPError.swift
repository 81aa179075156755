import CCurl

/// Why an IMAP operation failed, classified so the product can tell the user what to fix: the
/// password (`authentication`), the server's reachability (`connection`, `timeout`), its
/// certificate (`tls`), the folder name (`folderMissing`), or nothing they can fix (`protocol`).
public struct IMAPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case authentication
        case connection
        case timeout
        case tls
        case folderMissing
        case `protocol`
        /// `fetch` was told which UIDVALIDITY its UIDs belong to, and the folder has another now.
        case uidValidityChanged
        /// The settings themselves are unusable (a malformed host, a CA file that cannot be read).
        case configuration
    }

    public let kind: Kind
    /// libcurl's description (curl_easy_strerror plus its error buffer), or ours for failures
    /// after login, where we speak IMAP ourselves.
    public let message: String
    /// The server's reply that carried the failure ("A004 NO [AUTHENTICATIONFAILED] ..."), if any.
    public let serverReply: String?

    public init(_ kind: Kind, _ message: String, serverReply: String? = nil) {
        self.kind = kind
        self.message = message
        self.serverReply = serverReply
    }

    public var description: String {
        serverReply.map { "\(kind.rawValue): \(message) (server: \($0))" } ?? "\(kind.rawValue): \(message)"
    }

    /// A failure of libcurl's part (connect, TLS, login), by its result code.
    static func curl(_ code: CURLcode, detail: String, serverReply: String?) -> IMAPError {
        var message = String(cString: curl_easy_strerror(code))
        if !detail.isEmpty { message += ": \(detail)" }
        return IMAPError(kind(of: code), message, serverReply: serverReply)
    }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_LOGIN_DENIED:
            return .authentication
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_USE_SSL_FAILED, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED:
            return .tls
        case CURLE_SSL_CACERT_BADFILE, CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            return .configuration
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,
            CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_AGAIN:
            return .connection
        default:
            return .protocol
        }
    }
}
