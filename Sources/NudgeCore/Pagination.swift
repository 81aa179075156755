import Foundation

/// `?limit=` (1…200, default 50) and an opaque `?cursor=` over (created_at, id), newest first.
/// Keyset pagination stays stable while rows are inserted: no duplicates, no gaps.
public struct PageRequest: Sendable {
    public let limit: Int
    public let before: (at: Date, id: String)?

    public init(limit: Int, before: (at: Date, id: String)?) {
        self.limit = limit
        self.before = before
    }

    /// The sentinel used when there is no cursor, so one SQL statement serves both cases.
    public static let top = (at: Date(timeIntervalSince1970: 253_402_300_799), id: "~")
    public var beforeAt: Date { before?.at ?? Self.top.at }
    public var beforeID: String { before?.id ?? Self.top.id }

    /// Builds the page from `limit + 1` fetched rows.
    public func page<T: Encodable>(_ rows: [T], key: (T) -> (Date, String)) -> Page<T> {
        guard rows.count > limit else { return Page(data: rows, next_cursor: nil) }
        let kept = Array(rows.prefix(limit))
        let (at, id) = key(kept[kept.count - 1])
        return Page(data: kept, next_cursor: Self.encode(at, id))
    }

    /// An empty page of this request's size, to fill with `EncodedPage.add`.
    public func encoded(maxBytes: Int = EncodedPage.maxBytes) -> EncodedPage {
        EncodedPage(limit: limit, maxBytes: maxBytes)
    }

    package static func encode(_ at: Date, _ id: String) -> String {
        let micros = Int64((at.timeIntervalSince1970 * 1_000_000).rounded())
        return Data("\(micros)|\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    package static func decode(_ s: String) -> (Date, String)? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard s.count <= 200, let data = Data(base64Encoded: b), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|", maxSplits: 1)
        // Both are bound to SQL: a NUL in the id failed the statement (a 500), so only an id's
        // shape (`prefix_base62`) passes, and a time PostgreSQL can hold (years 1 to 9999).
        guard parts.count == 2, let micros = Int64(parts[0]), (-62_135_596_800_000_000...253_402_300_799_000_000).contains(micros),
            parts[1].utf8.count <= 64, parts[1].split(separator: "_", omittingEmptySubsequences: false).allSatisfy(Base62.isBase62)
        else { return nil }
        return (Date(timeIntervalSince1970: Double(micros) / 1_000_000), String(parts[1]))
    }
}

/// A list page encoded item by item as rows are read, bounded in bytes as well as in count: the
/// page ends early, with a `next_cursor`, when its next item would take the answer past
/// `maxBytes`. A page always holds at least one item (else a bigger one could never be listed),
/// so an answer is at most `maxBytes` or one item. A list then holds at most that much encoded,
/// whatever `limit` times the size of its rows would be.
public struct EncodedPage: Sendable {
    /// 1 MiB, as request bodies; documented on the list operations that use it (docs/openapi.json).
    public static let maxBytes = 1 << 20
    /// Kept for `{"data":[`, `],"next_cursor":` and a cursor (at most about 70 bytes).
    package static let envelope = 128

    /// What `next_cursor` is made of: a keyset position (`PageRequest`) or, for the events feed,
    /// the last event's id.
    package enum Key: Sendable {
        case keyset(Date, String)
        case id(String)
        package var cursor: String {
            switch self {
            case .keyset(let at, let id): return PageRequest.encode(at, id)
            case .id(let id): return id
            }
        }
    }

    package let limit: Int
    package let maxBytes: Int
    package private(set) var items: [Data] = []
    package private(set) var bytes = 0
    private var lastKey: Key?
    package private(set) var nextCursor: String?
    /// Nothing more fits: a later row only tells whether there is a next page.
    public var isComplete: Bool { nextCursor != nil }

    package init(limit: Int, maxBytes: Int) {
        self.limit = limit
        self.maxBytes = maxBytes
    }

    /// Adds the next item in list order, keyed like `PageRequest.page`. Returns false when the
    /// page is full; the item is then left for the next page (the cursor points before it).
    @discardableResult
    public mutating func add<T: Encodable>(_ item: T, key: (Date, String)) throws -> Bool {
        try add(item, key: .keyset(key.0, key.1))
    }

    @discardableResult
    package mutating func add<T: Encodable>(_ item: T, key: Key) throws -> Bool {
        if isComplete { return false }
        if items.count == limit { return end() }
        let data = try JSONCoding.encoder.encode(item)
        let size = bytes + (items.isEmpty ? 0 : 1) + data.count
        if !items.isEmpty && size + Self.envelope > maxBytes { return end() }
        items.append(data)
        bytes = size
        lastKey = key
        return true
    }

    /// Ends the page after the items added so far, with a `next_cursor`: a further row exists
    /// that it will not hold (one PostgreSQL sent without its content, `PageSize`), or, in the
    /// events feed, the page is full.
    public mutating func stop() { if !isComplete { _ = end() } }

    public var count: Int { items.count }

    private mutating func end() -> Bool {
        if let lastKey { nextCursor = lastKey.cursor }
        return false
    }

}
