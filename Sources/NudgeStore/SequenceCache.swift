import NudgeCore
import Synchronization

/// Saved sequences as last read by this process, so an enrollment need not read its sequence
/// first (one round trip of six). A cached entry is only a guess: the enrollment's own insert
/// checks in the same statement that the sequence still has that version and is not archived,
/// and a mismatch (an edit or archive by any process) drops the entry and runs the request again
/// from a fresh read. Archived sequences are never cached.
package final class SequenceCache: Sendable {
    package struct Changed: Error {}

    private struct State {
        package var entries: [String: (record: SequenceRecord, size: Int)] = [:]
        package var bytes = 0
    }
    private let state = Mutex(State())
    /// Bound memory; past either the cache starts over (a miss costs one read). Bytes count too:
    /// a sequence can hold 50 steps of 20,000 characters, so 4,096 of them could fill gigabytes.
    package let capacity: Int
    package let maxBytes: Int

    package init(capacity: Int = 4096, maxBytes: Int = 64 << 20) {
        self.capacity = capacity
        self.maxBytes = maxBytes
    }

    package func get(org: String, id: String) -> SequenceRecord? {
        state.withLock { $0.entries[Self.key(org, id)]?.record }
    }

    package func put(org: String, _ s: SequenceRecord) {
        guard s.archived_at == nil else { return drop(org: org, id: s.id) }
        let size = Self.size(of: s)
        // One bigger than the whole budget is not kept at all (never more than the first read's).
        guard size <= maxBytes else { return drop(org: org, id: s.id) }
        state.withLock { st in
            if let old = st.entries.removeValue(forKey: Self.key(org, s.id)) { st.bytes -= old.size }
            if st.entries.count >= capacity || st.bytes + size > maxBytes {
                st.entries.removeAll(keepingCapacity: true)
                st.bytes = 0
            }
            st.entries[Self.key(org, s.id)] = (s, size)
            st.bytes += size
        }
    }

    package func drop(org: String, id: String) {
        state.withLock { st in
            if let old = st.entries.removeValue(forKey: Self.key(org, id)) { st.bytes -= old.size }
        }
    }

    /// What the cache holds, in the units of `maxBytes`.
    package var bytes: Int { state.withLock { $0.bytes } }

    /// The texts' UTF-8 bytes plus a fixed allowance per record and step: an estimate of the
    /// memory an entry keeps, dominated by the bodies.
    package static func size(of s: SequenceRecord) -> Int {
        s.emails.reduce(256 + s.name.utf8.count + (s.exit_condition_prompt?.utf8.count ?? 0)) { sum, step in
            sum + 96 + (step.subject?.utf8.count ?? 0) + (step.body?.utf8.count ?? 0) + (step.prompt?.utf8.count ?? 0) + (step.note?.utf8.count ?? 0)
        }
    }

    private static func key(_ org: String, _ id: String) -> String { org + "/" + id }
}
