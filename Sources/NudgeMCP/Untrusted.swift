import NudgeCore

/// Marks text that came from received mail so that an agent can keep it apart from instructions:
/// each object holding such text gets `untrusted_external_content: true`, and the result's `_meta`
/// lists the JSON paths of the fields. Summaries never quote these fields.
package enum Untrusted {
    package static let marker = "untrusted_external_content"
    package static let metaKey = "nudge.dev/untrusted_paths"

    /// Fields of a received message written by its sender, or read out of what it wrote.
    static let messageFields = [
        "subject", "text", "reply_text", "from", "from_name", "to", "cc", "details", "signature_text", "return_sentence", "referrals",
    ]
    /// What a `message.received` event repeats of the reply: what was read out of it (the sentence
    /// with the return date, the people it refers to), and its words should an event carry them.
    static let receivedEventFields = ["data.return_sentence", "data.referrals", "data.subject", "data.reply_text", "data.text"]
    /// A contact made from a referral in received mail: its name is the sender's words.
    static let referredContactFields = ["full_name", "first_name", "last_name"]

    /// `value` with the markers set (nil when nothing in it came from received mail), and the
    /// paths of the untrusted fields.
    package static func mark(_ value: JSONValue) -> (JSONValue?, [String]) {
        var paths: [String] = []
        let marked = mark(value, path: "", into: &paths)
        return (marked, paths)
    }

    /// The relative paths (`source.subject`) of an object's fields that hold received text.
    static func fields(of o: [String: JSONValue]) -> [String] {
        let id = o["id"]?.string ?? ""
        if o["direction"]?.string == "inbound" { return messageFields }  // a received message
        if id.hasPrefix("thr_") { return ["subject"] }  // a thread is named by its first message, often a received one
        if id.hasPrefix("enr_") { return ["exit_detail", "source.subject"] }  // the detail may quote the reply that ended it
        if id.hasPrefix("evt_") {
            // An enrollment's events carry its exit detail; a received message's, what was read out of the reply.
            return o["type"]?.string == EventType.messageReceived.rawValue ? receivedEventFields : ["data.exit_detail"]
        }
        // The referral's address is labelled `referred` (WorkflowRuleStore); a name a token gave
        // it later stays marked too, which errs on the safe side.
        if id.hasPrefix("ctc_"), o["emails"]?.array?.contains(where: { $0["label"]?.string == "referred" }) == true {
            return referredContactFields
        }
        return []
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
            let own = fields(of: original).filter { field in
                let v = field.split(separator: ".").reduce(Optional(value)) { $0?[String($1)] }
                return v != nil && v != .null && v != .array([])
            }
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
