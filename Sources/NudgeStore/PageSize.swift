import NudgeCore

/// Keeps PostgreSQL from sending what a page bounded in bytes (`EncodedPage`) cannot hold. A list
/// reads its `limit + 1` rows in a subquery, and sends a row's content only while the rows before
/// it, in list order, come to less than `EncodedPage.maxBytes` by a size taken from the stored
/// text (about what the item encodes to: JSON adds quotes and escapes, jsonb's text adds spaces).
/// Later rows come as their keys only: they end the page. PostgresNIO buffers a result by rows,
/// not bytes, so without this a page of rows of up to megabytes each was read whole whatever
/// the page kept.
package enum PageSize {
    /// The window expression over the page's rows: the sum of `size` over the rows before this one.
    package static func before(_ size: String, order: String) -> String {
        "coalesce(sum(\(size)) OVER (ORDER BY \(order) ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)"
    }

    /// What `before` is compared with (bound as a parameter).
    package static var budget: Int { EncodedPage.maxBytes }
}
