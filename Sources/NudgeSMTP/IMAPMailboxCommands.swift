/// The read-only commands on an open connection, with their responses parsed.
extension IMAPConnection {
    /// EXAMINE the folder (read-only) and read UIDVALIDITY, UIDNEXT and EXISTS from its responses.
    func examine(_ folder: String) throws(IMAPError) -> IMAPMailboxStatus {
        let (untagged, done) = try run(IMAPCommands.examine(folder))
        guard done.condition == "OK" else {
            // NONEXISTENT (RFC 5530) is the standard code; servers without codes say so in words.
            let text = done.line.lowercased()
            let missing =
                done.codeName == "NONEXISTENT"
                || (done.code == nil && (text.contains("not exist") || text.contains("doesn't exist") || text.contains("unknown mailbox")))
            throw IMAPError(
                missing ? .folderMissing : .protocol, missing ? "no folder \"\(folder)\"" : "EXAMINE \"\(folder)\" failed",
                serverReply: done.line)
        }
        var uidValidity: UInt32?
        var uidNext: UInt32?
        var exists = 0
        for response in untagged {
            if let status = response.status, status.condition == "OK", let argument = status.codeArgument {
                if status.codeName == "UIDVALIDITY" { uidValidity = UInt32(argument) }
                if status.codeName == "UIDNEXT" { uidNext = UInt32(argument) }
            } else if let (n, name) = response.numbered, name == "EXISTS" {
                exists = Int(n)
            }
        }
        guard let uidValidity else { throw IMAPError(.protocol, "EXAMINE gave no UIDVALIDITY", serverReply: done.line) }
        return IMAPMailboxStatus(uidValidity: uidValidity, uidNext: uidNext, exists: exists)
    }

    /// Lets the server report what changed since the last command (new mail, a reset folder).
    func noop() throws(IMAPError) {
        let (_, done) = try run("NOOP")
        guard done.condition == "OK" else { throw IMAPError(.protocol, "NOOP failed", serverReply: done.line) }
    }

    /// A UID SEARCH's results, ascending.
    func search(_ command: String) throws(IMAPError) -> [UInt32] {
        let (untagged, done) = try run(command)
        guard done.condition == "OK" else { throw IMAPError(.protocol, "SEARCH failed", serverReply: done.line) }
        return Array(Set(untagged.compactMap(\.searchResults).joined())).sorted()
    }

    /// RFC822.SIZE by UID, for the UIDs the folder still has.
    func sizes(of uids: [UInt32]) throws(IMAPError) -> [UInt32: Int] {
        var sizes: [UInt32: Int] = [:]
        for attributes in try fetch(IMAPCommands.fetchSizes(uids), literalLimit: 1 << 20) {
            if let uid = attributes["UID"]?.number, let size = attributes["RFC822.SIZE"]?.number {
                sizes[UInt32(truncatingIfNeeded: uid)] = Int(size)
            }
        }
        return sizes
    }

    /// The raw messages by UID; a literal above `limit` comes back as `.skippedLiteral`.
    func bodies(of uids: [UInt32], limit: Int) throws(IMAPError) -> [UInt32: IMAPValue] {
        var bodies: [UInt32: IMAPValue] = [:]
        for attributes in try fetch(IMAPCommands.fetchBodies(uids), literalLimit: limit) {
            // A FETCH without the body is an unsolicited flag update from another client: not ours.
            if let uid = attributes["UID"]?.number, let body = attributes["BODY[]"] {
                bodies[UInt32(truncatingIfNeeded: uid)] = body
            }
        }
        return bodies
    }

    private func fetch(_ command: String, literalLimit: Int) throws(IMAPError) -> [[String: IMAPValue]] {
        let (untagged, done) = try run(command, literalLimit: literalLimit)
        guard done.condition == "OK" else { throw IMAPError(.protocol, "FETCH failed", serverReply: done.line) }
        var results: [[String: IMAPValue]] = []
        for response in untagged {
            guard let (_, name) = response.numbered, name == "FETCH" else { continue }
            results.append(try response.fetchAttributes())
        }
        return results
    }
}
