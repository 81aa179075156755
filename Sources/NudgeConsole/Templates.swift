import Foundation
import Mustache
import NudgeCore

/// The console's templates (`console/templates/*.mustache`) and static files (`console/static`),
/// read once at start. Every value is inserted with `{{…}}`, which HTML-escapes `& < > " '`;
/// the templates never use triple mustaches or `{{& …}}`, so mail, names and subjects render as
/// text (ConsoleTests checks the folder for unescaped tags).
struct Templates: Sendable {
    let library: MustacheLibrary
    let statics: [String: (type: String, body: String)]

    init(directory: String) throws {
        let dir = URL(fileURLWithPath: directory)
        let fm = FileManager.default
        var templates: [String: MustacheTemplate] = [:]
        let tdir = dir.appendingPathComponent("templates")
        for name in try fm.contentsOfDirectory(atPath: tdir.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: tdir.appendingPathComponent(name), encoding: .utf8)
            templates[String(name.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
        }
        library = MustacheLibrary(templates: templates)
        var statics: [String: (String, String)] = [:]
        for (name, type) in [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")] {
            statics[name] = (type, try String(contentsOf: dir.appendingPathComponent("static").appendingPathComponent(name), encoding: .utf8))
        }
        self.statics = statics
    }

    func render(_ name: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: name) ?? ""
    }
}

/// An API answer as template values: objects as dictionaries, whole numbers as integers, null
/// as absent (a false section).
func values(_ v: JSONValue) -> Any? {
    switch v {
    case .null: return nil
    case .bool(let b): return b
    case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? Int(n) : n
    case .string(let s): return s
    case .array(let a): return a.compactMap(values)
    case .object(let o): return o.compactMapValues(values)
    }
}
