import Foundation
import HTTPTypes
import NIOCore
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Testing

/// One organization must not be able to make the server hold hundreds of megabytes. Each
/// enrollment used to keep (and every list to return) a copy of its steps: 200 enrollments of a
/// 50-step sequence with 20 KB bodies made `GET /v1/sequences/enrollments/?limit=200` answer
/// 200 MB, and a few such requests at once took the process past a gigabyte. The other answers
/// that grew with what an organization stored (sequence lists with their steps, threads with every
/// message, thread lists with their subjects, contact lists, bounce events with every recipient)
/// are measured the same way. Serialized: each test resets the process's one peak (VmHWM).
@Suite(.serialized) struct MemoryBoundTests {
    static let stepCount = 50
    static let bodyLength = 20_000  // the longest body a step may have
    static let enrollmentCount = 200
    static let parallelLists = 8
    /// How much the process may grow while the lists are served. Now each answer is at most
    /// 1 MiB and its rows a few megabytes: the eight grew it by 2-11 MB over runs. Before, each
    /// answer was 203 MB (plus the rows' text and decoded steps it came from): 0.75-2.6 GB per
    /// round.
    /// 128 MiB leaves room for other tests running in this process (the largest things they hold
    /// are 25 MiB inbound messages); a round over the bound is measured again, up to three times,
    /// since another test's burst passes while a list's cost does not.
    static let growthBound = 128 << 20
    /// The most a list answer may be (docs/openapi.json, the Lists convention).
    static let pageBound = 1 << 20

    /// A prompt of 2,000 four-byte characters and a 998-character subject: about 12 KB per
    /// enrollment even without steps, so that 200 of them pass the 1 MiB bound of a page.
    static let prompt = String(repeating: "\u{1F600}", count: 2_000)
    static let subject = String(repeating: "\u{1F4E8}", count: 998)

    /// Exit conditions need an LLM to be configured; nothing here calls it.
    static let unusedLLM = LLMSettings(url: "http://127.0.0.1:9/v1", model: "unused", apiKey: nil)

    @Test func hostileEnrollmentListsStayWithinAMemoryBound() async throws {
        try await Harness.run(llm: Self.unusedLLM) { h in
            let inbox = try await h.inbox()
            let body = String(String(repeating: "Checking whether you had a chance to review the proposal. ", count: 400).prefix(Self.bodyLength))
            let emails = (0..<Self.stepCount).map { Fixture.step(days: 1, subject: "Step \($0)", body: body) }.joined(separator: ", ")
            let seq = try await Self.send(h, .post, "/v1/sequences/", Fixture.sequence(inbox, emails: "[\(emails)]"))
            #expect(seq.status == 201)
            let seqID = JSONValue.parse(String(buffer: seq.body))?["id"]?.string ?? ""

            // The enrollments, eight requests at a time (each answer carries the steps: 1 MB).
            for start in stride(from: 0, to: Self.enrollmentCount, by: 8) {
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in start..<min(start + 8, Self.enrollmentCount) {
                        group.addTask {
                            try await Self.send(
                                h, .post, "/v1/sequences/enrollments/",
                                #"""
                                {"sequence_id": "\#(seqID)", "recipient": {"email": "\#(Fixture.address("m"))"},
                                 "exit_condition_prompt": "\#(Self.prompt)", "source": {"type": "email", "subject": "\#(Self.subject)"}}
                                """#
                            ).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == 201 }, "\(statuses)")
            }

            // The hostile lists, all at once: the process's growth while they are served, and
            // each answer's size.
            try await Self.hostile(h, "enrollment lists", ["/v1/sequences/enrollments/?limit=200"])

            // The pages: bounded in bytes, ending early with a cursor, together every enrollment once.
            var seen: [String] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let r = try await Self.send(h, .get, "/v1/sequences/enrollments/?limit=200" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(r.status == 200)
                guard r.body.readableBytes <= Self.pageBound else {
                    Issue.record("a page of \(r.body.readableBytes) bytes")
                    break
                }
                let page = JSONValue.parse(String(buffer: r.body)) ?? .null
                let items = page["data"]?.items ?? []
                #expect(!items.isEmpty)
                #expect(items.allSatisfy { $0["steps"] == nil && $0["sequence_version"]?.number == 1 }, "lists carry no steps")
                seen += items.compactMap { $0["id"]?.string }
                cursor = page["next_cursor"]?.string
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages >= 3, "2.5 MB of enrollments take three pages of at most 1 MiB")
            #expect(seen.count == Self.enrollmentCount)
            #expect(Set(seen).count == Self.enrollmentCount)

            // One enrollment still answers with its steps, read from its sequence version.
            let one = try await h.call(.get, "/v1/sequences/enrollments/\(seen.first ?? "none")/")
            #expect(one["steps"]?.items.count == Self.stepCount)
            #expect(one["steps"]?[49]?["body"]?.string == body)
            #expect(one["timeline"]?.items.count == Self.stepCount)
            // Stored once: no enrollment row keeps a copy.
            let copies = try await h.services.db.system { conn in
                try await conn.query("SELECT count(*) FROM enrollments WHERE steps IS NOT NULL", logger: h.services.logger).decode(Int.self).collect()
            }
            #expect(copies == [0])
        }
    }

    /// Sequences of 50 steps with 20,000-character bodies: about 1 MB each, the most a sequence
    /// may be. Before, `GET /v1/sequences/?limit=200` answered all of them at once.
    static let sequenceCount = 40

    @Test func hostileSequenceListsStayWithinAMemoryBound() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let body = String(String(repeating: "Checking whether you had a chance to review the proposal. ", count: 400).prefix(Self.bodyLength))
            let emails = (0..<Self.stepCount).map { Fixture.step(days: 1, subject: "Step \($0)", body: body) }.joined(separator: ", ")
            let json = Fixture.sequence(inbox, emails: "[\(emails)]")
            try await Self.create(Self.sequenceCount) { _ in try await Self.send(h, .post, "/v1/sequences/", json).status }

            try await Self.hostile(h, "sequence lists", ["/v1/sequences/?limit=200"])

            // Every sequence once, with its steps, a page at most 1 MiB.
            let items = try await Self.pages(h, "/v1/sequences/?limit=200")
            #expect(items.count == Self.sequenceCount)
            #expect(Set(items.compactMap { $0["id"]?.string }).count == Self.sequenceCount)
            #expect(
                items.allSatisfy { $0["emails"]?.items.count == Self.stepCount && $0["emails"]?[49]?["body"]?.string == body }, "lists keep the steps"
            )
        }
    }

    /// Inbound messages of a 200,000-character body each (and as much reply text), all in one
    /// thread. Before, `GET /v1/threads/{id}` answered every one of them.
    static let threadMessageCount = 120
    static let messageBodyLength = 200_000

    @Test func hostileThreadReadsStayWithinAMemoryBound() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let tag = Fixture.suffix()
            let line = "Thanks, here are our comments on the proposal and on the terms we discussed.\r\n"
            let text = String(String(repeating: line, count: Self.messageBodyLength / line.utf8.count + 1).prefix(Self.messageBodyLength))
            var thread = ""
            for i in 0..<Self.threadMessageCount {
                let refs = i == 0 ? "" : "In-Reply-To: <m0-\(tag)@example.com>\r\nReferences: <m0-\(tag)@example.com>\r\n"
                let raw =
                    "From: Buyer <buyer-\(tag)@example.com>\r\nTo: \(inbox)@acme.test\r\nSubject: Re: Proposal\r\nMessage-ID: <m\(i)-\(tag)@example.com>\r\n"
                    + refs + "Date: Mon, 1 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
                let r = try await Self.send(h, .post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
                #expect(r.status == 202)
                let id = JSONValue.parse(String(buffer: r.body))?["thread_id"]?.string ?? ""
                if i == 0 {
                    thread = id
                } else if id != thread {
                    Issue.record("message \(i) joined \(id), not \(thread)")
                    return
                }
            }

            try await Self.hostile(h, "thread reads and message lists", ["/v1/threads/\(thread)/", "/v1/threads/\(thread)/messages/?limit=200"])

            // The thread carries its newest messages, oldest first, and a cursor for the rest;
            // the message list pages through them, newest first, each message once.
            let t = try await h.call(.get, "/v1/threads/\(thread)/")
            #expect(t.body.utf8.count <= Self.pageBound)
            #expect(t["message_count"]?.number == Double(Self.threadMessageCount))
            let newest = t["messages"]?.items ?? []
            #expect(!newest.isEmpty && newest.count < Self.threadMessageCount)
            #expect(newest.allSatisfy { ($0["text"]?.string?.utf8.count ?? 0) > Self.messageBodyLength * 9 / 10 })
            guard let cursor = t["messages_next_cursor"]?.string else {
                Issue.record("no messages_next_cursor: \(t.body.prefix(300))")
                return
            }
            let listed = try await Self.pages(h, "/v1/threads/\(thread)/messages/?limit=200")
            let older = try await Self.pages(h, "/v1/threads/\(thread)/messages/?limit=200", from: cursor)
            let all = listed.compactMap { $0["id"]?.string }
            #expect(all.count == Self.threadMessageCount && Set(all).count == Self.threadMessageCount)
            // The thread's newest (reversed: newest first) and then the older ones make the list.
            let joined = newest.reversed().compactMap { $0["id"]?.string } + older.compactMap { $0["id"]?.string }
            #expect(joined == all, "\(joined.count) messages from the thread and its cursor, \(all.count) listed")
        }
    }

    /// New threads whose subject is a 250,000-character header. Before, an inbox's thread list of
    /// limit=200 answered every subject.
    static let longSubjectThreads = 100

    @Test func hostileThreadListsStayWithinAMemoryBound() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let tag = Fixture.suffix()
            let subject = String(repeating: "Proposal ", count: 250_000 / 9)
            try await Self.create(Self.longSubjectThreads) { i in
                let raw =
                    "From: Buyer \(i) <buyer\(i)-\(tag)@example.com>\r\nTo: \(inbox)@acme.test\r\nSubject: \(i) \(subject)\r\n"
                    + "Message-ID: <s\(i)-\(tag)@example.com>\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
                return try await Self.send(h, .post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw).status
            }

            try await Self.hostile(h, "thread lists", ["/v1/inboxes/\(inbox)/threads/?limit=200"])

            let items = try await Self.pages(h, "/v1/inboxes/\(inbox)/threads/?limit=200")
            #expect(items.count == Self.longSubjectThreads)
            #expect(Set(items.compactMap { $0["id"]?.string }).count == Self.longSubjectThreads)
            #expect(items.allSatisfy { ($0["subject"]?.string?.utf8.count ?? 0) > 250_000 - 9 })
        }
    }

    /// Contacts at every limit: notes of 10,000 and 50 fields of 2,000 four-byte characters, about
    /// 440 KB each. Before, `GET /v1/contacts/?limit=200` answered all of them.
    static let contactCount = 100

    @Test func hostileContactListsStayWithinAMemoryBound() async throws {
        try await Harness.run { h in
            let notes = String(repeating: "\u{1F600}", count: 10_000)
            let value = String(repeating: "\u{1F4E8}", count: 2_000)
            let fields = (0..<50).map { #""field_\#($0)": "\#(value)""# }.joined(separator: ", ")
            try await Self.create(Self.contactCount) { _ in
                try await Self.send(
                    h, .post, "/v1/contacts/",
                    #"""
                    {"full_name": "Avery Chen", "emails": [{"address": "\#(Fixture.address("big"))"}], "notes": "\#(notes)", "fields": {\#(fields)}}
                    """#
                ).status
            }

            try await Self.hostile(h, "contact lists", ["/v1/contacts/?limit=200"])

            let items = try await Self.pages(h, "/v1/contacts/?limit=200")
            #expect(items.count == Self.contactCount)
            #expect(Set(items.compactMap { $0["id"]?.string }).count == Self.contactCount)
            #expect(items.allSatisfy { $0["notes"]?.string == notes && $0["fields"]?["field_49"]?.string == value && $0["emails"]?.items.count == 1 })
        }
    }

    /// Delivery reports that each name 999 delayed recipients (the most one delivery-status part
    /// is read for), each a 400-character address with a 200-character status. Before, each
    /// `message.bounced` event listed them all: about 640 KB an event, up to 200 an events page.
    /// Now an event lists 50, cut short, about 21 KB: 60 of them still pass a page's 1 MiB.
    static let bounceCount = 60
    static let bounceRecipients = 999

    @Test func hostileBounceEventsStayWithinAMemoryBound() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let tag = Fixture.suffix()
            let local = String(repeating: "r", count: 400 - "-0000-\(tag)@example.com".utf8.count)
            let status = "pending " + String(repeating: "x", count: 192)
            let groups = (0..<Self.bounceRecipients).map {
                "Final-Recipient: rfc822; \(local)-\(String(format: "%04d", $0))-\(tag)@example.com\r\nAction: delayed\r\nStatus: \(status)\r\n"
            }.joined(separator: "\r\n")
            try await Self.create(Self.bounceCount) { i in
                let raw =
                    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: \(inbox)@acme.test\r\n"
                    + "Subject: Delivery Status Notification (Delay)\r\nMessage-ID: <dsn\(i)-\(tag)@mx.example.net>\r\nMIME-Version: 1.0\r\n"
                    + "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
                    + "--b\r\nContent-Type: text/plain\r\n\r\nDelivery to these recipients has been delayed.\r\n\r\n"
                    + "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" + groups + "\r\n--b--\r\n"
                return try await Self.send(h, .post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw).status
            }

            try await Self.hostile(h, "event pages", ["/v1/events/?type=message.bounced&limit=200"])

            // The first page stops at 1 MiB with a cursor; paging gives every event once.
            let first = try await h.call(.get, "/v1/events/?type=message.bounced&limit=200")
            #expect(first.data.count < Self.bounceCount && first["next_cursor"]?.string == first.data.last?["id"]?.string)
            let events = try await Self.pages(h, "/v1/events/?type=message.bounced&limit=200")
            #expect(events.count == Self.bounceCount && Set(events.compactMap { $0["id"]?.string }).count == Self.bounceCount)
            #expect(events.allSatisfy { $0["data"]?["recipients_total"]?.number == Double(Self.bounceRecipients) })
            #expect(events.allSatisfy { $0["data"]?["recipients"]?.items.count == 50 })
            let listed = events.first?["data"]?["recipients"]?[0]
            #expect(listed?["email"]?.string?.count == 320 && listed?["status"]?.string?.count == 64 && listed?["permanent"]?.bool == false)
        }
    }

    /// `n` requests, eight at a time, each answering 201 or 202.
    static func create(_ n: Int, _ request: @escaping @Sendable (Int) async throws -> Int) async throws {
        for start in stride(from: 0, to: n, by: 8) {
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in start..<min(start + 8, n) { group.addTask { try await request(i) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 201 || $0 == 202 }, "\(statuses)")
        }
    }

    /// `parallelLists` GETs at once, of `paths` in turn: each answer 200 and at most a page, and
    /// the process's growth while they are served under `growthBound` (measured again, up to
    /// three rounds, while over it).
    static func hostile(_ h: Harness, _ what: String, _ paths: [String]) async throws {
        var rounds: [Int] = []
        for _ in 0..<3 {
            let (growth, sizes) = try await ProcessMemory.growth {
                try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                    for i in 0..<Self.parallelLists {
                        group.addTask {
                            let r = try await Self.send(h, .get, paths[i % paths.count])
                            return (r.status, r.body.readableBytes)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(sizes.allSatisfy { $0.0 == 200 }, "\(what): \(sizes)")
            #expect(sizes.allSatisfy { $0.1 <= Self.pageBound }, "\(what): answers of \(sizes.map(\.1)) bytes")
            rounds.append(growth)
            if growth < Self.growthBound { break }
        }
        #expect(
            rounds.min()! < Self.growthBound, "the process grew by \(rounds.map { "\($0 >> 20) MiB" }) serving \(Self.parallelLists) \(what) at once")
        Self.record("\(what): growth per round: \(rounds.map { "\($0 >> 10) KiB" })")
    }

    /// Every item of a list, paging until `next_cursor` is null; each page at most 1 MiB.
    static func pages(_ h: Harness, _ path: String, from start: String? = nil) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var cursor = start
        var pages = 0
        repeat {
            let r = try await Self.send(h, .get, path + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(r.status == 200)
            guard r.body.readableBytes <= Self.pageBound else {
                Issue.record("\(path): a page of \(r.body.readableBytes) bytes")
                break
            }
            let page = JSONValue.parse(String(buffer: r.body)) ?? .null
            let data = page["data"]?.items ?? []
            #expect(!data.isEmpty || (pages == 0 && page["next_cursor"] == .null))
            items += data
            cursor = page["next_cursor"]?.string
            pages += 1
        } while cursor != nil && pages < 500
        return items
    }

    /// A request whose answer is not parsed (the JSON tree of a megabyte answer costs more than
    /// the server's work); `call` would also scan it for secrets.
    static func send(_ h: Harness, _ method: HTTPRequest.Method, _ path: String, _ json: String? = nil, raw: String? = nil) async throws -> (
        status: Int, body: ByteBuffer
    ) {
        var headers: HTTPFields = [.authorization: "Bearer \(h.admin)"]
        if json != nil { headers[.contentType] = "application/json" }
        if raw != nil { headers[.contentType] = "message/rfc822" }
        return try await h.client.execute(uri: path, method: method, headers: headers, body: (json ?? raw).map { ByteBuffer(string: $0) }) { r in
            (Int(r.status.code), r.body)
        }
    }

    static func record(_ note: String) {
        if ProcessInfo.processInfo.environment["NUDGE_TEST_MEMORY_REPORT"] == "1" { print("MemoryBoundTests: \(note)") }
    }
}

/// The process's resident memory (Linux /proc/self/status).
enum ProcessMemory {
    static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }

    /// Sets VmHWM (the peak) back to the current RSS: "5" to clear_refs (Linux 4.0+).
    static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    /// How far the peak RSS rose above the RSS before `body`, and its result. The kernel's peak
    /// when it can be reset, else RSS sampled every millisecond.
    static func growth<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> (Int, T) {
        let before = field("VmRSS") ?? 0
        let exact = resetPeak()
        let sampled = Sampler()
        let thread = Thread { sampled.run() }
        thread.start()
        let result = try await body()
        sampled.stop()
        let peak = max(exact ? field("VmHWM") ?? 0 : 0, sampled.peak)
        return (max(0, peak - before), result)
    }

    /// Polls VmRSS on a thread of its own (the cooperative pool may be busy serving the lists).
    final class Sampler: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var maximum = 0
        var peak: Int { lock.withLock { maximum } }
        func stop() { lock.withLock { stopped = true } }
        func run() {
            while !lock.withLock({ stopped }) {
                let rss = ProcessMemory.field("VmRSS") ?? 0
                lock.withLock { maximum = max(maximum, rss) }
                usleep(1_000)
            }
        }
    }
}
