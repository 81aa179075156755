/// In-Reply-To and References for a reply into a thread whose ids come from other people's mail.
/// Received ids are kept as received (they match replies), but only ids that are valid to send go
/// into outgoing headers: one malformed id (`<no-at-sign>`, over 250 characters, non-ASCII) must
/// never make a message impossible to render.
public enum ThreadingHeaders {
    /// At most this many References: the thread's first id and the most recent ones (RFC 5322
    /// 3.6.4 allows trimming; a 250-character id each keeps the field near 5 KB at worst).
    public static let maxReferences = 20

    /// True when `id` (without brackets) can be written into Message-ID, In-Reply-To or References.
    public static func isSendable(_ id: String) -> Bool {
        !id.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) && Validation.isMessageID(id)
    }

    /// - Parameters:
    ///   - candidates: ids of the thread's messages, newest first; the first sendable one is the
    ///     parent (In-Reply-To), so a malformed newest id falls back to the one before it.
    ///   - references: the References of the thread's newest message, oldest first.
    ///   - own: the Message-ID of the message being written, never referenced by itself.
    public static func make(candidates: [String], references: [String], own: String) -> (inReplyTo: String?, references: [String]) {
        let parent = candidates.first { $0 != own && isSendable($0) }
        var chain = references.filter { $0 != own && isSendable($0) }
        if let parent { chain.append(parent) }
        // Each id once, at its last position: the parent stays last.
        var seen = Set<String>()
        var unique: [String] = []
        for id in chain.reversed() where seen.insert(id).inserted { unique.append(id) }
        unique.reverse()
        if unique.count > maxReferences { unique = [unique[0]] + unique.suffix(maxReferences - 1) }
        return (parent, unique)
    }
}
