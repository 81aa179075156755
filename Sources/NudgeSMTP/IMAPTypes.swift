/// The folder as EXAMINE reports it. UIDs are only comparable under one UIDVALIDITY: when it
/// changes, every stored UID (and any "last UID seen") of the folder is void.
public struct IMAPMailboxStatus: Sendable, Equatable {
    public let uidValidity: UInt32
    /// The UID the next message will get at least; nil if the server did not say (RFC 3501
    /// makes it optional; Dovecot always sends it).
    public let uidNext: UInt32?
    /// How many messages the folder holds.
    public let exists: Int

    public init(uidValidity: UInt32, uidNext: UInt32?, exists: Int) {
        (self.uidValidity, self.uidNext, self.exists) = (uidValidity, uidNext, exists)
    }
}

/// UIDs found by a search, with the UIDVALIDITY they belong to (the one the connection saw when
/// it opened the folder), so a caller can check it against the one it stored.
public struct IMAPUIDList: Sendable, Equatable {
    public let uidValidity: UInt32
    /// Ascending.
    public let uids: [UInt32]

    public init(uidValidity: UInt32, uids: [UInt32]) { (self.uidValidity, self.uids) = (uidValidity, uids) }
}

/// One message as stored: its UID and its raw RFC 5322 bytes, unchanged.
public struct IMAPMessage: Sendable, Equatable {
    public let uid: UInt32
    public let raw: [UInt8]

    public init(uid: UInt32, raw: [UInt8]) { (self.uid, self.raw) = (uid, raw) }
}

/// What one `fetch` returned. A message above the size bound is not an error of the batch: it
/// is reported here with its size, and the caller decides (skip it, tell the user).
public struct IMAPFetchBatch: Sendable, Equatable {
    public let uidValidity: UInt32
    /// In ascending UID order.
    public let messages: [IMAPMessage]
    public let oversized: [Oversized]
    /// Requested UIDs the folder no longer has (expunged meanwhile, or never existed).
    public let missing: [UInt32]

    public struct Oversized: Sendable, Equatable {
        public let uid: UInt32
        public let size: Int

        public init(uid: UInt32, size: Int) { (self.uid, self.size) = (uid, size) }
    }

    public init(uidValidity: UInt32, messages: [IMAPMessage], oversized: [Oversized], missing: [UInt32]) {
        (self.uidValidity, self.messages, self.oversized, self.missing) = (uidValidity, messages, oversized, missing)
    }
}

/// An account check's result: ok or the classified error, and what was said on the wire.
public struct IMAPCheckOutcome: Sendable, Equatable {
    public let ok: Bool
    public let error: IMAPError?
    public let status: IMAPMailboxStatus?
    /// "S: * OK ...", "C: A002 AUTHENTICATE PLAIN ****", "* SSL connection using ..." lines in order; credentials
    /// never appear.
    public let transcript: [String]

    public init(ok: Bool, error: IMAPError?, status: IMAPMailboxStatus?, transcript: [String]) {
        (self.ok, self.error, self.status, self.transcript) = (ok, error, status, transcript)
    }
}
