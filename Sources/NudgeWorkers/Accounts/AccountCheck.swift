import Foundation
import NudgeCore
import NudgeSMTP
import NudgeStore

/// `POST /v1/inboxes/{id}/connection/verify/`: one SMTP session with the inbox's account that
/// connects, upgrades to TLS, authenticates and ends, sending nothing, within `timeoutSeconds`.
/// The answer gives each step and the server's own replies; the outcome becomes the inbox's
/// connection status (a new failure is an `inbox.connection_failed` event).
package struct AccountCheck: Sendable {
    package let config: AppConfig
    package let credentials: MailCredentials
    package let db: Database
    package var timeoutSeconds = 15

    package struct Step: Encodable, Sendable {
        package let step: String
        package let ok: Bool
    }

    package struct Result: Encodable, Sendable {
        package let ok: Bool
        package let steps: [Step]
        package let error: String?
        /// "S: ..." server replies, "C: ..." commands (credentials masked), "* TLS: ..." notes.
        package let transcript: [String]
    }

    package struct Answer: Encodable, Sendable {
        package let inbox_id: String
        package let smtp: Result
    }

    package init(config: AppConfig, credentials: MailCredentials, db: Database) {
        self.config = config
        self.credentials = credentials
        self.db = db
    }

    package func verify(_ stored: StoredAccount, now: Date) async throws -> Answer {
        let result = await smtp(stored)
        try await InboxStore.recordConnections(
            [(stored.org, stored.inboxID, stored.version, result.ok ? nil : result.error ?? "failed")], now: now, db: db)
        return Answer(inbox_id: stored.inboxID, smtp: result)
    }

    private func smtp(_ stored: StoredAccount) async -> Result {
        let password: String
        do { password = try credentials.open(stored.sealedPassword, org: stored.org, inboxID: stored.inboxID) } catch {
            return Result(
                ok: false, steps: [Step(step: "credentials", ok: false)],
                error: "the stored password does not open with this server's NUDGE_SECRET; set it again", transcript: [])
        }
        let target: MailHost.Target
        do {
            target = try await MailHost.checked(stored.account.host, port: stored.account.port, allowPrivate: config.allowPrivateMailHosts)
        } catch {
            return Result(ok: false, steps: [Step(step: "resolve", ok: false)], error: "\(error)", transcript: [])
        }
        let outcome: SMTPSessionCheck.Outcome
        do {
            outcome = try await SMTPSessionCheck.run(
                url: MailHost.url(stored.account, password: password), requireTLS: true, caBundlePath: config.mailCAFile,
                resolve: target.resolve, timeoutSeconds: timeoutSeconds)
        } catch {
            return Result(ok: false, steps: [Step(step: "resolve", ok: false)], error: "\(error)", transcript: [])
        }
        let t = outcome.transcript
        let connected = t.contains { $0.hasPrefix("S: 220") }
        let tls = t.contains { $0.hasPrefix("* TLS:") }
        let authed = t.contains { $0.hasPrefix("S: 235") }
        let steps = [
            Step(step: "resolve", ok: true), Step(step: "connect", ok: connected), Step(step: "tls", ok: tls),
            Step(step: "authenticate", ok: authed), Step(step: "ready", ok: outcome.ok),
        ]
        let error =
            outcome.error ?? (!tls ? "the session was not encrypted" : !authed ? "the server did not offer authentication (AUTH)" : nil)
        return Result(ok: outcome.ok && tls && authed, steps: steps, error: error, transcript: t)
    }
}
