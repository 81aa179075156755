import CCurl
import Foundation

/// curl_global_init must run once before any handle exists; a global's lazy initializer is
/// guaranteed to run exactly once, thread-safely.
private let imapCurlGlobalInit: CURLcode = nudge_curl_global_init()

/// One logged-in IMAP connection. libcurl connects, does TLS (implicit or a required STARTTLS),
/// verifies the certificate and logs in (CURLOPT_CONNECT_ONLY); from then on we speak IMAP
/// ourselves through curl_easy_send / curl_easy_recv, because libcurl's own IMAP commands cannot
/// hand over a FETCH literal exactly (see `IMAPSession` for why).
/// Not thread-safe: `IMAPSession` confines it to one serial queue.
final class IMAPConnection {
    let settings: IMAPSettings
    let transcript: IMAPTranscript
    private let handle: UnsafeMutableRawPointer
    private let resolveList: UnsafeMutablePointer<curl_slist>?
    private let socket: curl_socket_t
    private var reader = IMAPResponseReader()
    private var lastTag = 0
    /// recv's landing area; literals are copied out of it as they arrive.
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 1)
    /// Set once a command failed: the connection's state is unknown, so it is never reused.
    private(set) var broken = false

    /// Connects and logs in. Blocking, bounded by `settings.timeoutSeconds`.
    init(settings: IMAPSettings, transcript: IMAPTranscript) throws(IMAPError) {
        _ = imapCurlGlobalInit
        let url = try settings.url()
        guard let h = curl_easy_init() else { throw IMAPError(.connection, "curl_easy_init failed") }
        let resolve = settings.resolve.flatMap { curl_slist_append(nil, $0) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let result: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBytes.baseAddress!)
            _ = nudge_curl_setopt_string(h, CURLOPT_URL, url)
            // Options, not URL userinfo: no percent-encoding, and the URL stays free of secrets.
            _ = nudge_curl_setopt_string(h, CURLOPT_USERNAME, settings.username)
            _ = nudge_curl_setopt_string(h, CURLOPT_PASSWORD, settings.password)
            // libcurl stops after the login; the socket (with its TLS) is then ours.
            _ = nudge_curl_setopt_long(h, CURLOPT_CONNECT_ONLY, 1)
            _ = nudge_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)  // required with threads; timeouts must not use SIGALRM
            // STARTTLS is required, never "try": a server that does not offer it is a TLS failure.
            _ = nudge_curl_setopt_long(h, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
            if let ca = settings.caBundlePath { _ = nudge_curl_setopt_string(h, CURLOPT_CAINFO, ca) }
            _ = nudge_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT, settings.timeoutSeconds)
            _ = nudge_curl_setopt_long(h, CURLOPT_TIMEOUT, settings.timeoutSeconds)
            // Also bounds the LOGOUT libcurl sends when the handle is cleaned up.
            _ = nudge_curl_setopt_long(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, settings.timeoutSeconds)
            // A session is held open between polls: let the kernel notice a peer that vanished.
            _ = nudge_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
            if let resolve { _ = nudge_curl_setopt_slist(h, CURLOPT_RESOLVE, resolve) }
            transcript.install(on: h)
            let r = withExtendedLifetime(transcript) { curl_easy_perform(h) }
            _ = nudge_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
            return r
        }
        var socket = curl_socket_t(-1)
        if result == CURLE_OK { _ = nudge_curl_getinfo_socket(h, &socket) }
        guard result == CURLE_OK, socket != -1 else {
            curl_easy_cleanup(h)
            curl_slist_free_all(resolve)
            buffer.deallocate()
            let detail = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw IMAPError.curl(result == CURLE_OK ? CURLE_RECV_ERROR : result, detail: detail, serverReply: transcript.lastServerLine)
        }
        self.settings = settings
        self.transcript = transcript
        self.handle = h
        self.resolveList = resolve
        self.socket = socket
    }

    deinit {
        // After a failure the server may not answer the LOGOUT libcurl sends on cleanup: shut the
        // socket first so cleanup cannot wait out another timeout.
        if broken { _ = shutdown(socket, Int32(SHUT_RDWR)) }
        curl_easy_cleanup(handle)  // also closes the connection (the transcript must still exist)
        withExtendedLifetime(transcript) {}
        curl_slist_free_all(resolveList)
        buffer.deallocate()
    }

    /// Sends one command and reads up to its tagged completion: the untagged responses that came
    /// meanwhile, and the completion. Literals above `literalLimit` are read and dropped.
    func run(_ command: String, literalLimit: Int = 1 << 20) throws(IMAPError) -> (untagged: [IMAPResponse], completion: IMAPStatus) {
        do {
            return try exchange(command, literalLimit: literalLimit)
        } catch {
            broken = true
            throw error
        }
    }

    private func exchange(_ command: String, literalLimit: Int) throws(IMAPError) -> (untagged: [IMAPResponse], completion: IMAPStatus) {
        lastTag += 1
        // Our tags ("N1") cannot collide with libcurl's, which it no longer uses on this socket.
        let tag = "N\(lastTag)"
        transcript.client("\(tag) \(command)")
        try send(Array("\(tag) \(command)\r\n".utf8))
        reader.literalLimit = literalLimit
        var untagged: [IMAPResponse] = []
        var bye: IMAPStatus?
        while true {
            for response in reader.take() {
                if transcript.recording { transcript.server(response.summary) }
                let status = response.status
                if let status, status.tag == tag { return (untagged, status) }
                if let status, status.tag == "*", status.condition == "BYE" { bye = status }
                untagged.append(response)
            }
            try receive(bye: bye)
        }
    }

    private func send(_ bytes: [UInt8]) throws(IMAPError) {
        var offset = 0
        while offset < bytes.count {
            var sent = 0
            let rc = bytes.withUnsafeBytes { curl_easy_send(handle, $0.baseAddress! + offset, bytes.count - offset, &sent) }
            if rc == CURLE_AGAIN {
                try wait(for: Int16(POLLOUT), bye: nil)
            } else if rc != CURLE_OK {
                throw IMAPError.curl(rc, detail: "sending a command", serverReply: nil)
            }
            offset += sent
        }
    }

    /// Reads what the server has sent (at least one byte) into the reader.
    private func receive(bye: IMAPStatus?) throws(IMAPError) {
        while true {
            var n = 0
            let rc = curl_easy_recv(handle, buffer.baseAddress, buffer.count, &n)
            if rc == CURLE_OK {
                // A BYE before the close says why (shutdown, autologout, UIDVALIDITY change).
                guard n > 0 else { throw IMAPError(.connection, "the server closed the connection", serverReply: bye?.line) }
                try reader.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                return
            }
            guard rc == CURLE_AGAIN else { throw IMAPError.curl(rc, detail: "reading a reply", serverReply: bye?.line) }
            // recv already drained whatever TLS had decrypted, so an idle socket means no data.
            try wait(for: Int16(POLLIN), bye: bye)
        }
    }

    /// The server may stay silent for `timeoutSeconds` at most (an inactivity bound: a 25 MiB
    /// message on a slow link takes as long as it takes, as long as bytes keep coming).
    private func wait(for events: Int16, bye: IMAPStatus?) throws(IMAPError) {
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let ready = poll(&descriptor, 1, Int32(settings.timeoutSeconds * 1000))
            if ready > 0 { return }  // readable, writable, or an error recv/send will report
            if ready == 0 {
                throw IMAPError(.timeout, "no reply from the server in \(settings.timeoutSeconds) s", serverReply: bye?.line)
            }
            if errno != EINTR { throw IMAPError(.connection, "poll failed: errno \(errno)") }
        }
    }
}
