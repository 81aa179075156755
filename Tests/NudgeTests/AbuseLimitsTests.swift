import Foundation
import Hummingbird
import NIOCore
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The limits that keep one organization (or one client) from hurting the others: the daily send
/// quota per organization, and the slow-client timeouts. (The per-token rate limit and the body
/// size limits are in RobustnessTests.)
@Suite struct AbuseLimitsTests {
    static let day: Double = 86_400

    @Test func organizationDailyQuotaHoldsTheRestUntilTheNextDayAndLosesNothing() async throws {
        try await Harness.withSMTP(lanes: 2, configure: { $0.orgDailySendQuota = 3 }) { h, smtp in
            let inbox = try await h.inbox()
            var mine: [String] = []
            for i in 0..<5 {
                let r = try await h.enrollAdHoc(
                    inbox: inbox, email: "quota-\(i)-\(Fixture.suffix())@example.com", steps: "[\(Fixture.step(days: 1, subject: "Hello"))]")
                #expect(r.status == 201, "\(r.body)")
                mine.append(r.id)
            }
            // Another organization has its own count.
            let other = try await h.otherOrg()
            let otherInbox = try await h.call(
                .post, "/v1/inboxes/", token: other.admin, #"{"address": "ops-\#(Fixture.suffix())@other.test", "timezone": "UTC"}"#
            ).id
            #expect(
                try await h.enrollAdHoc(
                    inbox: otherInbox, email: "other-\(Fixture.suffix())@example.com", steps: "[\(Fixture.step(days: 1, subject: "Hi"))]",
                    token: other.admin
                ).status == 201)

            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 4, "3 for this organization (its quota), 1 for the other")
            var states = try await mine.asyncMap { try await h.call(.get, "/v1/sequences/enrollments/\($0)/")["state"]?.string }
            #expect(states.filter { $0 == "completed" }.count == 3)
            #expect(states.filter { $0 == "active" }.count == 2, "held back, not dropped")
            let metrics = try await h.callWithoutAuth(.get, "/metrics")
            #expect(metrics.body.contains("over_org_quota"))

            // The next UTC day the rest go out, once each.
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 6)
            states = try await mine.asyncMap { try await h.call(.get, "/v1/sequences/enrollments/\($0)/")["state"]?.string }
            #expect(states.allSatisfy { $0 == "completed" })

            // An organization's own quota overrides the default: 0 stops its sending entirely.
            #expect(try await h.services.tokens.setDailySendQuota(org: h.org, quota: 0))
            let held = try await h.enrollAdHoc(
                inbox: inbox, email: "held-\(Fixture.suffix())@example.com", steps: "[\(Fixture.step(days: 1, subject: "Later"))]")
            _ = try await h.advance(seconds: 3 * Self.day)
            #expect(try smtp.received().count == 6)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(held.id)/")["state"]?.string == "active")
            #expect(try await h.services.tokens.setDailySendQuota(org: h.org, quota: nil))
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 7)
        }
    }

    /// A client that opens a connection and sends headers slowly is disconnected after the idle
    /// timeout; one that trickles its body past the deadline gets 408 with the error envelope.
    @Test func slowClientsAreCutOff() async throws {
        try await Harness.run(
            configure: {
                // The idle timeout well above the trickle's 400 ms gaps, which a loaded machine
                // stretches (a full run with the mail servers' tests stretched one past 3 s): a gap
                // past it closes the connection without the 408.
                $0.idleTimeout = .seconds(6)
                $0.requestBodyDeadline = .seconds(2)
            }, testing: .live
        ) { h in
            let port = try #require(h.client.port)
            // Slow headers: half a request line, then nothing.
            let slow = try RawSocket(port: port)
            try slow.send("POST /v1/contacts/ HTTP/1.1\r\nHost: x\r\n")
            let started = ContinuousClock.now
            #expect(try slow.readAll(timeout: 20).isEmpty, "closed without an answer")
            #expect(ContinuousClock.now - started < .seconds(16))

            // A trickled body: a byte every 400 ms.
            let trickle = try RawSocket(port: port)
            let body = #"{"emails": [{"address": "slow@example.com"}], "full_name": "Slow Client"}"#
            try trickle.send(
                "POST /v1/contacts/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(h.admin)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            )
            var answer = ""
            for ch in body {
                try? trickle.send(String(ch))
                try await Task.sleep(for: .milliseconds(400))
                answer = try trickle.readAvailable()
                if !answer.isEmpty { break }
            }
            if answer.isEmpty { answer = try trickle.readAll(timeout: 5) }
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer.prefix(200))")
            #expect(answer.contains(#""type":"request_timeout""#))
            // Nothing was created from the partial body, and a normal client is served as usual
            // (on fresh connections: the test client's own would have idled out meanwhile).
            let check = try RawSocket(port: port)
            try check.send(
                "GET /v1/contacts/?email=slow@example.com HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(h.admin)\r\nConnection: close\r\n\r\n")
            let listed = try check.readAll(timeout: 10)
            #expect(listed.hasPrefix("HTTP/1.1 200") && listed.contains(#""data":[]"#), "\(listed.suffix(300))")
            let fast = try RawSocket(port: port)
            let ok = #"{"emails": [{"address": "fast-\#(Fixture.suffix())@example.com"}]}"#
            try fast.send(
                "POST /v1/contacts/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(h.admin)\r\nContent-Type: application/json\r\nContent-Length: \(ok.utf8.count)\r\nConnection: close\r\n\r\n\(ok)"
            )
            let created = try fast.readAll(timeout: 20)
            #expect(created.hasPrefix("HTTP/1.1 201"), "\(created.prefix(300))")
        }
    }

    /// The body deadline is the client's: a body that arrived at once is accepted however late
    /// the handler reads it, and a chunk the reader had to wait for after the deadline is refused.
    @Test func theBodyDeadlineRefusesOnlyChunksWaitedFor() async throws {
        let buffered = DeadlineBody(base: RequestBody(buffer: ByteBuffer(string: "{}")), deadline: .now + .milliseconds(20))
        try await Task.sleep(for: .milliseconds(100))
        var read = 0
        for try await chunk in buffered { read += chunk.readableBytes }
        #expect(read == 2)

        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let feeder = Task {
            for _ in 0..<10 {
                continuation.yield(ByteBuffer(string: "x"))
                try? await Task.sleep(for: .milliseconds(30))
            }
            continuation.finish()
        }
        defer { feeder.cancel() }
        let trickled = DeadlineBody(base: RequestBody(asyncSequence: stream), deadline: .now + .milliseconds(100))
        await #expect(throws: APIError.self) {
            for try await _ in trickled {}
        }
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}

/// A plain TCP client on loopback, to behave the way a slow client does.
final class RawSocket {
    let fd: Int32
    struct Failure: Error { let what: String }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw Failure(what: "connect")
        }
    }
    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw Failure(what: "send") }
    }

    /// What has arrived so far, without waiting.
    func readAvailable() throws -> String { read(waitingMilliseconds: 0) }

    /// Everything until the server closes the connection (or `timeout` seconds pass).
    func readAll(timeout: Double) throws -> String {
        var out = ""
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buf = [UInt8](repeating: 0, count: 65_536)
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return out }
            out += String(decoding: buf[0..<n], as: UTF8.self)
        }
        return out
    }

    private func read(waitingMilliseconds ms: Int32) -> String {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, ms) > 0 else { return "" }
        var buf = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
    }
}
