import NudgeCore

/// Marks text that came from received mail so that an agent can keep it apart from instructions:
/// each object holding such text gets `untrusted_external_content: true`, and the result's `_meta`
/// lists the JSON paths of the fields. Summaries never quote these fields.
enum Untrusted {
    static let marker = "untrusted_external_content"
    static let metaKey = "nudge.dev/untrusted_paths"

    /// Fields of a received message written by its sender.
    static let messageFields = ["subject", "text", "reply_text", "from", "from_name", "to", "cc", "details"]

    /// `value` with the markers set, and the paths of the untrusted fields.
    static func mark(_ value: JSONValue) -> (JSONValue, [String]) {
        var paths: [String] = []
        let marked = mark(value, path: "", into: &paths)
        return (marked, paths)
    }

    private static func mark(_ value: JSONValue, path: String, into paths: inout [String]) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.enumerated().map { mark($1, path: "\(path)[\($0)]", into: &paths) })
        case .object(var o):
            let id = o["id"]?.string ?? ""
            var fields: [String] = []
            if o["direction"]?.string == "inbound" {
                fields = messageFields  // a received message
            } else if id.hasPrefix("thr_") {
                fields = ["subject"]  // a thread is named by its first message, often a received one
            } else if id.hasPrefix("enr_") {
                fields = ["exit_detail"]  // may quote the reply that ended it
                if o["source"]?["subject"] != nil { paths.append(join(path, "source.subject")) }
            }
            let present = fields.filter { o[$0] != nil }
            for f in present { paths.append(join(path, f)) }
            for (k, v) in o where k != "source" || !id.hasPrefix("enr_") {
                if case .object = v { o[k] = mark(v, path: join(path, k), into: &paths) }
                if case .array = v { o[k] = mark(v, path: join(path, k), into: &paths) }
            }
            if !present.isEmpty || (id.hasPrefix("enr_") && o["source"]?["subject"] != nil) { o[marker] = .bool(true) }
            return .object(o)
        default:
            return value
        }
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
