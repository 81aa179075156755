import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Development transport: writes each message to `<directory>/<message-id>.eml` instead of
/// sending it. The file is written to a temporary name, fsynced and renamed over the target,
/// so readers never see a partial file and re-sending the same Message-ID replaces the file
/// rather than adding a second one.
public final class OutboxDirectoryTransport: MailTransport {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The file a message with this Message-ID (without brackets) is written to. The name is an
    /// injective escaping of the id (bytes outside [A-Za-z0-9@._+-] become %XX), so two
    /// different ids never share a file.
    public func path(forMessageID id: String) -> String {
        var name = ""
        for byte in id.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || "@._+-".contains(c)) && !(name.isEmpty && c == ".") {
                name.append(c)
            } else {
                name += String(format: "%%%02X", byte)
            }
        }
        return directory + "/" + name + ".eml"
    }

    public func send(envelopeFrom: String, recipients: [String], message: [UInt8]) async throws -> SMTPOutcome {
        try EnvelopeCheck.validate(envelopeFrom: envelopeFrom, recipients: recipients)
        guard let id = HeaderLookup.messageID(in: message) else {
            throw SMTPError.rejected(code: nil, message: "message has no Message-ID header")
        }
        let target = path(forMessageID: id)
        let directory = self.directory
        // File I/O blocks; keep it off the cooperative pool.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        try Self.writeAtomically(message, to: target, directory: directory)
                        return SMTPOutcome.accepted(response: "written to \(target)")
                    })
            }
        }
    }

    private static func writeAtomically(_ bytes: [UInt8], to target: String, directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SMTPError.transient(code: nil, message: "cannot create \(directory): \(error)")
        }
        let temp = directory + "/.tmp-" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw SMTPError.transient(code: nil, message: "cannot create \(temp): errno \(errno)") }
        var written = 0
        let ok = bytes.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n <= 0 { return false }
                written += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temp, target) == 0 else {
            unlink(temp)
            throw SMTPError.transient(code: nil, message: "cannot write \(target): errno \(errno)")
        }
    }
}

/// Reads a header out of a rendered message (only what the outbox needs).
enum HeaderLookup {
    /// The Message-ID without brackets, from the header section (folded lines unfolded).
    static func messageID(in message: [UInt8]) -> String? {
        var headerBytes = message[...]
        if let end = message.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) { headerBytes = message[..<end.lowerBound] }
        let unfolded = String(decoding: headerBytes, as: UTF8.self)
            .replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: "\t")
        for line in unfolded.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "message-id"
            else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let id = value.trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
            return id.isEmpty ? nil : id
        }
        return nil
    }
}
