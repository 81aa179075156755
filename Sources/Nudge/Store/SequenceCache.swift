import Synchronization

/// Saved sequences as last read by this process, so an enrollment need not read its sequence
/// first (one round trip of six). A cached entry is only a guess: the enrollment's own insert
/// checks in the same statement that the sequence still has that version and is not archived,
/// and a mismatch (an edit or archive by any process) drops the entry and runs the request again
/// from a fresh read. Archived sequences are never cached.
final class SequenceCache: Sendable {
    struct Changed: Error {}

    private let entries = Mutex<[String: SequenceRecord]>([:])
    /// Bounds memory; past it the cache starts over (a miss costs one read).
    let capacity: Int

    init(capacity: Int = 4096) { self.capacity = capacity }

    func get(org: String, id: String) -> SequenceRecord? {
        entries.withLock { $0[Self.key(org, id)] }
    }

    func put(org: String, _ s: SequenceRecord) {
        guard s.archived_at == nil else { return drop(org: org, id: s.id) }
        entries.withLock { e in
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[Self.key(org, s.id)] = s
        }
    }

    func drop(org: String, id: String) {
        _ = entries.withLock { $0.removeValue(forKey: Self.key(org, id)) }
    }

    private static func key(_ org: String, _ id: String) -> String { org + "/" + id }
}
