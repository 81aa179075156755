import NudgeCore

/// Marks text that came from received mail so that an agent can keep it apart from instructions:
/// each object holding such text gets `untrusted_external_content: true`, and the result's `_meta`
/// lists the JSON paths of the fields. Summaries never quote these fields.
enum Untrusted {
    static let marker = "untrusted_external_content"
    static let metaKey = "nudge.dev/untrusted_paths"

    /// Fields of a received message written by its sender.
    static let messageFields = ["subject", "text", "reply_text", "from", "from_name", "to", "cc", "details"]

    /// `value` with the markers set (nil when nothing in it came from received mail), and the
    /// paths of the untrusted fields.
    static func mark(_ value: JSONValue) -> (JSONValue?, [String]) {
        var paths: [String] = []
        let marked = mark(value, path: "", into: &paths)
        return (marked, paths)
    }

    /// nil when neither the value nor anything inside it needs a marker.
    private static func mark(_ value: JSONValue, path: String, into paths: inout [String]) -> JSONValue? {
        switch value {
        case .array(let items):
            var out: [JSONValue]?
            for (i, item) in items.enumerated() {
                guard let m = mark(item, path: "\(path)[\(i)]", into: &paths) else { continue }
                if out == nil { out = items }
                out![i] = m
            }
            return out.map { .array($0) }
        case .object(let original):
            var o = original
            var changed = false
            let id = o["id"]?.string ?? ""
            var fields: [String] = []
            if o["direction"]?.string == "inbound" {
                fields = messageFields  // a received message
            } else if id.hasPrefix("thr_") {
                fields = ["subject"]  // a thread is named by its first message, often a received one
            } else if id.hasPrefix("enr_") {
                fields = ["exit_detail"]  // may quote the reply that ended it
                if o["source"]?["subject"] != nil { fields.append("source.subject") }
            }
            let own = fields.filter { $0 == "source.subject" || original[$0] != nil }
            if !own.isEmpty {
                paths += own.map { join(path, $0) }
                o[marker] = .bool(true)
                changed = true
            }
            for (k, v) in original {
                switch v {
                case .object, .array:
                    if let m = mark(v, path: join(path, k), into: &paths) {
                        o[k] = m
                        changed = true
                    }
                default: break
                }
            }
            return changed ? .object(o) : nil
        default:
            return nil
        }
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
