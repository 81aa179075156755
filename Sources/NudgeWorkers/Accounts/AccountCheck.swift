import Foundation
import NudgeCore
import NudgeSMTP
import NudgeStore

/// `POST /v1/inboxes/{id}/connection/verify/`: for each of the inbox's accounts one session that
/// connects, upgrades to TLS and authenticates, then ends (SMTP, sending nothing) or examines the
/// folder (IMAP, read only), within `timeoutSeconds`. The answer gives each step and the server's
/// own replies; the SMTP outcome becomes the inbox's connection status (a new failure is an
/// `inbox.connection_failed` event); the IMAP one is the reader's to record.
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
        /// "S: ..." server replies, "C: ..." commands (credentials masked), "* ..." curl's notes on the connection and TLS.
        package let transcript: [String]
    }

    package struct Answer: Encodable, Sendable {
        package let inbox_id: String
        package let smtp: Result?
        package let imap: Result?
    }

    package init(config: AppConfig, credentials: MailCredentials, db: Database) {
        self.config = config
        self.credentials = credentials
        self.db = db
    }

    package func verify(inboxID: String, smtp stored: StoredAccount?, imap: (org: String, account: IMAPAccount, sealed: [UInt8])?, now: Date)
        async throws -> Answer
    {
        var smtpResult: Result?
        if let stored {
            let result = await smtp(stored)
            try await InboxStore.recordConnections(
                [(stored.org, stored.inboxID, stored.version, result.ok ? nil : result.error ?? "failed")], now: now, db: db)
            smtpResult = result
        }
        var imapResult: Result?
        if let imap { imapResult = await self.imap(org: imap.org, inboxID: inboxID, imap.account, sealed: imap.sealed) }
        return Answer(inbox_id: inboxID, smtp: smtpResult, imap: imapResult)
    }

    private func imap(org: String, inboxID: String, _ a: IMAPAccount, sealed: [UInt8]) async -> Result {
        let password: String
        do { password = try credentials.open(sealed, org: org, inboxID: inboxID, service: "imap") } catch {
            return Result(
                ok: false, steps: [Step(step: "credentials", ok: false)],
                error: "the stored password does not open with this server's NUDGE_SECRET; set it again", transcript: [])
        }
        let target: MailHost.Target
        do { target = try await MailHost.checked(a.host, port: a.port, allowPrivate: config.allowPrivateMailHosts) } catch {
            return Result(ok: false, steps: [Step(step: "resolve", ok: false)], error: "\(error)", transcript: [])
        }
        let outcome = await IMAPSession(
            settings: IMAPSettings(
                host: a.host, port: a.port, security: a.security == .tls ? .tls : .starttls, username: a.username, password: password,
                folder: a.folder, caBundlePath: config.mailCAFile, resolve: target.resolve, timeoutSeconds: timeoutSeconds)
        ).check()
        let failedAt = outcome.error?.kind
        let connected = failedAt != .connection && failedAt != .timeout
        let tls = connected && failedAt != .tls
        let authed = tls && failedAt != .authentication
        let steps = [
            Step(step: "resolve", ok: true), Step(step: "connect", ok: connected), Step(step: "tls", ok: tls),
            Step(step: "authenticate", ok: authed), Step(step: "folder", ok: outcome.ok),
        ]
        return Result(ok: outcome.ok, steps: steps, error: outcome.error.map { "\($0)" }, transcript: outcome.transcript)
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
        let tls = t.contains { $0.hasPrefix("* SSL connection using") }
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
