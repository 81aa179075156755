import Dispatch
import Foundation

/// Reads one IMAP folder, read-only: EXAMINE, UID SEARCH, UID FETCH BODY.PEEK[]. Nothing it sends
/// can change a flag or remove a message.
///
/// The connection stays open between calls and is discarded after any failure. libcurl's
/// blocking calls run on this session's serial DispatchQueue, never on Swift's cooperative pool,
/// and the connection is only ever touched from it; that confinement is why
/// `@unchecked Sendable` is sound.
///
/// Why libcurl does not send the IMAP commands itself (measured with curl 7.88.1): a
/// CURLOPT_CUSTOMREQUEST `UID FETCH` needs a mailbox in the URL, and libcurl then opens it with
/// SELECT (read-write), not EXAMINE. Its write callback gets only the `* 1 FETCH (... {n}` line,
/// never the literal. The literal's lines do reach the header callback, but libcurl still reads
/// them as reply lines: a message line starting with the command's tag ("A004 OK") ends the
/// command, with success and the message cut short, and pingpong.c cuts a line it finds too long
/// to 40 bytes. Its URL form (`;UID=n`) reads literals properly but fetches BODY[], which sets
/// \Seen. So libcurl connects, does TLS and logs in (CURLOPT_CONNECT_ONLY), and `IMAPConnection`
/// speaks the few read-only commands over curl_easy_send / curl_easy_recv, reading each literal
/// by its byte count.
public final class IMAPSession: @unchecked Sendable {
    public let settings: IMAPSettings
    private let queue: DispatchQueue
    /// Only touched on `queue`. Always has the folder EXAMINEd.
    private var connection: IMAPConnection?
    /// What the connection's last EXAMINE said.
    private var folderStatus: IMAPMailboxStatus?
    /// Whether the current call had to open `connection` (so its EXAMINE is fresh).
    private var openedForThisCall = false

    public init(settings: IMAPSettings, label: String = "nudge.imap") {
        self.settings = settings
        queue = DispatchQueue(label: label)
    }

    deinit {
        // Closing sends LOGOUT and may wait for the reply: on the queue, not the caller's thread.
        let closing = Closing(connection: connection)
        connection = nil
        queue.async { closing.connection = nil }
    }

    /// The folder's UIDVALIDITY, UIDNEXT and EXISTS, read fresh (EXAMINE again on a held connection).
    public func examine() async throws(IMAPError) -> IMAPMailboxStatus {
        try await onQueue { s throws(IMAPError) in try s.withFreshStatus { _, status in status } }
    }

    /// UIDs above `lastUID`. `UID SEARCH UID n:*` always matches the highest UID even when it is
    /// below n (`*` is the largest UID in use), so the result is filtered.
    public func uids(after lastUID: UInt32) async throws(IMAPError) -> IMAPUIDList {
        try await onQueue { s throws(IMAPError) in
            try s.withFreshStatus { c, status throws(IMAPError) in
                guard lastUID < UInt32.max else { return IMAPUIDList(uidValidity: status.uidValidity, uids: []) }
                let uids = try c.search(IMAPCommands.searchUIDs(after: lastUID)).filter { $0 > lastUID }
                return IMAPUIDList(uidValidity: status.uidValidity, uids: uids)
            }
        }
    }

    /// UIDs of messages whose internal date is on or after `date`'s day (UTC), for a backfill.
    /// SEARCH SINCE compares whole days in the server's time zone: start a day early to be safe.
    public func uids(since date: Date) async throws(IMAPError) -> IMAPUIDList {
        try await onQueue { s throws(IMAPError) in
            try s.withFreshStatus { c, status throws(IMAPError) in
                IMAPUIDList(uidValidity: status.uidValidity, uids: try c.search(IMAPCommands.searchSince(date)))
            }
        }
    }

    /// The raw bytes of these messages, several per command (the caller chunks: memory is the sum
    /// of a chunk's messages). A message above `maxMessageBytes` is not downloaded: it is listed in
    /// `oversized`. With `uidValidity`, a folder whose UIDVALIDITY is no longer that fails with
    /// `.uidValidityChanged` instead of fetching whatever now has those UIDs.
    public func fetch(uids: [UInt32], maxMessageBytes: Int = 30 << 20, uidValidity: UInt32? = nil) async throws(IMAPError) -> IMAPFetchBatch {
        try await onQueue { s throws(IMAPError) in
            try s.withConnection { c, status throws(IMAPError) in
                if let uidValidity, uidValidity != status.uidValidity {
                    throw IMAPError(.uidValidityChanged, "UIDVALIDITY is \(status.uidValidity), not \(uidValidity)")
                }
                return try Self.fetch(uids: uids, maxMessageBytes: maxMessageBytes, on: c, uidValidity: status.uidValidity)
            }
        }
    }

    /// An account check on a connection of its own (the session's is left alone): connect, TLS,
    /// login, EXAMINE, LOGOUT, with a transcript whose credentials are masked.
    public func check() async -> IMAPCheckOutcome {
        let settings = settings
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Self.check(settings)) }
        }
    }

    /// Closes the held connection (LOGOUT); the next call opens a new one.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection = nil
                continuation.resume()
            }
        }
    }

    // MARK: - On the queue

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (IMAPSession) throws(IMAPError) -> T) async throws(IMAPError) -> T {
        let result: Result<T, IMAPError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { () throws(IMAPError) -> T in try body(self) }) }
        }
        return try result.get()
    }

    /// Runs `body` on the held connection, or a new one. Every command here only reads, so when a
    /// held connection turns out to be closed (server restart, idle logout) the work is retried
    /// once on a new connection instead of failing the caller.
    private func withConnection<T>(
        _ body: (IMAPConnection, IMAPMailboxStatus) throws(IMAPError) -> T
    ) throws(IMAPError) -> T {
        let held = connection != nil
        do throws(IMAPError) {
            return try attempt(body)
        } catch  where held && error.kind == .connection {
            return try attempt(body)
        }
    }

    /// Like `withConnection`, with the status of an EXAMINE made for this call: a search must
    /// see mail that arrived since, and report the UIDVALIDITY that is current.
    private func withFreshStatus<T>(
        _ body: (IMAPConnection, IMAPMailboxStatus) throws(IMAPError) -> T
    ) throws(IMAPError) -> T {
        try withConnection { c, status throws(IMAPError) in
            // A connection opened for this call has just EXAMINEd.
            guard !openedForThisCall else { return try body(c, status) }
            // NOOP first: re-EXAMINing the same folder may answer from the process's cached view,
            // while a NOOP makes Dovecot check the folder and, if it was reset (new UIDVALIDITY),
            // say BYE; the retry then opens a new connection that sees the new UIDVALIDITY.
            try c.noop()
            let fresh = try c.examine(settings.folder)
            folderStatus = fresh
            return try body(c, fresh)
        }
    }

    private func attempt<T>(_ body: (IMAPConnection, IMAPMailboxStatus) throws(IMAPError) -> T) throws(IMAPError) -> T {
        do throws(IMAPError) {
            openedForThisCall = false
            if connection == nil || connection?.broken == true || folderStatus == nil {
                connection = nil
                openedForThisCall = true
                let c = try IMAPConnection(settings: settings, transcript: IMAPTranscript(recording: false))
                folderStatus = try c.examine(settings.folder)
                connection = c
            }
            return try body(connection!, folderStatus!)
        } catch {
            // Whatever state the failure left the connection in, the next call starts afresh.
            connection = nil
            folderStatus = nil
            throw error
        }
    }

    private static func fetch(uids: [UInt32], maxMessageBytes: Int, on c: IMAPConnection, uidValidity: UInt32) throws(IMAPError) -> IMAPFetchBatch {
        let requested = Array(Set(uids)).sorted()
        guard !requested.isEmpty else { return IMAPFetchBatch(uidValidity: uidValidity, messages: [], oversized: [], missing: []) }
        // Sizes first, so an oversized message is never downloaded at all.
        let sizes = try c.sizes(of: requested)
        var oversized = requested.compactMap { uid in
            sizes[uid].flatMap { $0 > maxMessageBytes ? IMAPFetchBatch.Oversized(uid: uid, size: $0) : nil }
        }
        let wanted = requested.filter { sizes[$0].map { $0 <= maxMessageBytes } ?? false }
        let bodies = wanted.isEmpty ? [:] : try c.bodies(of: wanted, limit: maxMessageBytes)
        var messages: [IMAPMessage] = []
        var missing = requested.filter { sizes[$0] == nil }
        for uid in wanted {
            switch bodies[uid] {
            case .string(let raw)?: messages.append(IMAPMessage(uid: uid, raw: raw))
            // The body turned out larger than RFC822.SIZE said: the reader dropped it.
            case .skippedLiteral(let size)?: oversized.append(.init(uid: uid, size: size))
            // Expunged between the two commands (or NIL).
            default: missing.append(uid)
            }
        }
        return IMAPFetchBatch(
            uidValidity: uidValidity, messages: messages, oversized: oversized.sorted { $0.uid < $1.uid }, missing: missing.sorted())
    }

    private static func check(_ settings: IMAPSettings) -> IMAPCheckOutcome {
        let transcript = IMAPTranscript(recording: true)
        do throws(IMAPError) {
            let c = try IMAPConnection(settings: settings, transcript: transcript)
            let status = try c.examine(settings.folder)
            return IMAPCheckOutcome(ok: true, error: nil, status: status, transcript: transcript.lines)
        } catch {
            return IMAPCheckOutcome(ok: false, error: error, status: nil, transcript: transcript.lines)
        }
    }
}

/// Carries the connection to the queue from deinit (the queue is its only user from then on).
private final class Closing: @unchecked Sendable {
    var connection: IMAPConnection?
    init(connection: IMAPConnection?) { self.connection = connection }
}
