import Foundation
import Logging
import NIOPosix
import NudgeCore
import NudgeSMTP
import NudgeStore
import Synchronization

/// The SMTP connections of inboxes that send through their own account (README, "Connected
/// mailboxes"): per account a few kept connections behind a circuit of its own, and per server
/// host a cap across its accounts. Kept per process and replaced when the account's version
/// changes; beyond `AppConfig.accountTransportsKept` the least recently used is dropped (its
/// connections close once no send holds it). One organization's broken or slow server only holds
/// its own connections.
package final class AccountTransports: Sendable {
    private struct Entry: Sendable {
        let version: Int
        let transport: any MailTransport
        var used: UInt64
    }
    private struct Kept: Sendable {
        var entries: [String: Entry] = [:]
        var tick: UInt64 = 0

        mutating func use(_ id: String, version: Int) -> (any MailTransport)? {
            guard var e = entries[id], e.version == version else { return nil }
            tick += 1
            e.used = tick
            entries[id] = e
            return e.transport
        }

        mutating func keep(_ id: String, _ entry: Entry, limit: Int) {
            tick += 1
            entries[id] = Entry(version: entry.version, transport: entry.transport, used: tick)
            while entries.count > limit, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key { entries[oldest] = nil }
        }
    }

    private let config: AppConfig
    private let credentials: MailCredentials
    private let now: @Sendable () -> Date
    private let kept = Mutex(Kept())
    private let hostSlots = Mutex<[String: LanePool<Int>]>([:])

    package init(config: AppConfig, credentials: MailCredentials, now: @escaping @Sendable () -> Date) {
        self.config = config
        self.credentials = credentials
        self.now = now
    }

    /// The transport of each inbox with an account among `due` (key: inbox id), loading the
    /// accounts not yet known at their current version in one statement. An account that cannot
    /// be used (its password does not open, its host is not allowed) maps to a transport that
    /// fails every send with the reason, so its steps back off and the inbox shows the error.
    package func transports(for due: [DueStep], db: Database, logger: Logger) async throws -> [String: any MailTransport] {
        var wanted: [String: DueStep] = [:]
        for d in due where d.smtpVersion > 0 { wanted[d.inboxID] = d }
        guard !wanted.isEmpty else { return [:] }
        var out: [String: any MailTransport] = [:]
        var missing: [(org: String, id: String)] = []
        kept.withLock { k in
            for (id, d) in wanted {
                if let transport = k.use(id, version: d.smtpVersion) { out[id] = transport } else { missing.append((d.org, id)) }
            }
        }
        guard !missing.isEmpty else { return out }
        for stored in try await InboxStore.accounts(missing, db: db) {
            let transport: any MailTransport
            do {
                transport = try await make(stored)
            } catch {
                logger.warning("an inbox's SMTP account cannot be used", metadata: ["inbox": "\(stored.inboxID)", "error": "\(error)"])
                transport = Unusable(reason: "\(error)")
            }
            kept.withLock { [limit = max(1, config.accountTransportsKept)] in
                $0.keep(stored.inboxID, Entry(version: stored.version, transport: transport, used: 0), limit: limit)
            }
            out[stored.inboxID] = transport
        }
        return out
    }

    /// Accounts whose transport is kept.
    package var keptCount: Int { kept.withLock { $0.entries.count } }

    private func make(_ stored: StoredAccount) async throws -> any MailTransport {
        let password: String
        do { password = try credentials.open(stored.sealedPassword, org: stored.org, inboxID: stored.inboxID) } catch {
            throw AccountError("the stored password does not open with this server's NUDGE_SECRET (rotate it with `nudge secret rotate`)")
        }
        let target = try await MailHost.checked(stored.account.host, port: stored.account.port, allowPrivate: config.allowPrivateMailHosts)
        let base = try CurlSMTPTransport(
            url: MailHost.url(stored.account, password: password), lanes: config.accountLanes, timeoutSeconds: 30,
            requireTLS: true, caBundlePath: config.mailCAFile, resolve: target.resolve)
        var policy = SendCircuit.Policy(
            burst: 1, window: 60, pause: config.accountProbeInterval, maxPause: config.accountProbeInterval,
            probeWait: config.accountProbeInterval)
        policy.countsTransient = true
        let circuit = SendCircuit(base, lanes: config.accountLanes, policy: policy, now: now)
        return HostCapped(base: circuit, slots: slots(for: stored.account.host))
    }

    private func slots(for host: String) -> LanePool<Int> {
        hostSlots.withLock { s in
            if let pool = s[host] { return pool }
            let pool = LanePool(Array(0..<config.mailHostCap))
            s[host] = pool
            return pool
        }
    }

    /// A send through `base` once one of the host's connections is free.
    private struct HostCapped: MailTransport {
        let base: any MailTransport
        let slots: LanePool<Int>

        func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
            let slot = await slots.acquire()
            do {
                let outcome = try await base.send(envelopeFrom: envelopeFrom, recipients: recipients, message: message)
                await slots.release(slot)
                return outcome
            } catch {
                await slots.release(slot)
                throw error
            }
        }
    }

    private struct Unusable: MailTransport {
        let reason: String
        func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
            throw SMTPError.transient(code: nil, message: reason)
        }
    }
}

package struct AccountError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Where an inbox's mail server may be (the webhooks' rule, `WebhookAddress`): never on a
/// loopback, private, link-local or metadata address unless the operator allows it
/// (`NUDGE_ALLOW_PRIVATE_MAIL_HOSTS=1`), checked on every address the name resolves to; the
/// connection then goes to the checked address.
package enum MailHost {
    package struct Target: Sendable {
        /// curl's "host:port:address" entry that pins the checked address.
        package let resolve: String
    }

    package static func checked(_ host: String, port: Int, allowPrivate: Bool) async throws -> Target {
        try await NIOThreadPool.singleton.runIfActive {
            let addresses: [String]
            do { addresses = try WebhookAddress.resolve(host) } catch { throw AccountError("smtp.host \(host) does not resolve") }
            guard let first = addresses.first else { throw AccountError("smtp.host \(host) does not resolve") }
            if !allowPrivate, let bad = addresses.first(where: WebhookAddress.isForbidden) {
                throw AccountError(
                    "smtp.host \(host) resolves to \(bad), a loopback, private, link-local or metadata address, which mail accounts may not use")
            }
            let name = host.contains(":") ? "[\(host)]" : host
            let address = first.contains(":") ? "[\(first)]" : first
            return Target(resolve: "\(name):\(port):\(address)")
        }
    }

    /// smtp:// (STARTTLS, required) or smtps:// with the credentials percent-encoded in the
    /// userinfo, which curl decodes and sends as AUTH.
    package static func url(_ a: SMTPAccount, password: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        func enc(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
        let host = a.host.contains(":") ? "[\(a.host)]" : a.host
        return "\(a.security == .tls ? "smtps" : "smtp")://\(enc(a.username)):\(enc(password))@\(host):\(a.port)"
    }
}
