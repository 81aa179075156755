import Foundation
import NudgeTestSupport
import Testing
import _CryptoExtras

@testable import NudgeSMTP

/// Keys are generated once per test process: RSA-2048 generation is the slow part.
private enum Fixture {
    static let domain = "nudge.example"
    static let ed25519 = DKIMSigningKey(selector: "ed2024", key: DKIMPrivateKey.generateEd25519())
    static let rsa: DKIMSigningKey = {
        do { return DKIMSigningKey(selector: "rsa2024", key: try DKIMPrivateKey.generateRSA2048()) } catch {
            fatalError("RSA key generation failed: \(error)")
        }
    }()
    static var signer: DKIMSigner { DKIMSigner(domain: domain, keys: [ed25519, rsa]) }
    static var records: [String: String] {
        [
            "\(ed25519.selector)._domainkey.\(domain)": ed25519.key.dnsTXTRecordValue,
            "\(rsa.selector)._domainkey.\(domain)": rsa.key.dnsTXTRecordValue,
        ]
    }
    static let timestamp = Date(timeIntervalSince1970: 1_704_189_600)
}

private func crlf(_ lines: [String]) -> [UInt8] { Array(lines.joined(separator: "\r\n").utf8) }

/// Sample messages shaped like what the product renders.
private enum Samples {
    static let plain = crlf([
        "From: Nudge <hello@nudge.example>",
        "To: Alice <alice@example.org>",
        "Subject: Your weekly nudge",
        "Date: Tue, 02 Jan 2024 10:00:00 +0000",
        "Message-ID: <plain-1@nudge.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Hello Alice,",
        "This  is   a test.\t",
        "Bye",
        "",
    ])

    static let multipart = crlf([
        "From: \"Nudge Team\" <hello@nudge.example>",
        "To: bob@example.org",
        "Cc: carol@example.org",
        "Subject: =?utf-8?q?Caf=C3=A9_reminder?=",
        "Date: Tue, 02 Jan 2024 10:00:00 +0000",
        "Message-ID: <multi-1@nudge.example>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"b1_nudge\"",
        "",
        "--b1_nudge",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Caf=C3=A9 at 10 =3D fun. A long line that is soft-wrapped by quoted-printable=",
        " encoding so it stays short.",
        "",
        "--b1_nudge",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "<p style=3D\"color: red\">Caf=C3=A9</p>   ",
        "",
        "--b1_nudge--",
        "",
    ])

    static let foldedHeaders = crlf([
        "from: Nudge <hello@nudge.example>",
        "TO: Alice <alice@example.org>,",
        "   Bob <bob@example.org>,\t Carol <carol@example.org>",
        "Subject: A very long subject line that the renderer folded because it was",
        "\tlonger than seventy-eight characters   with  odd   spacing",
        "X-Mailer: Nudge",
        "Date:   Tue, 02 Jan 2024 10:00:00 +0000  ",
        "Message-ID: <folded-1@nudge.example>",
        "References: <a@example.org>",
        " <b@example.org>",
        " <c@example.org>",
        "In-Reply-To: <c@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain;",
        "\tcharset=\"utf-8\"",
        "",
        "Folded headers above.",
        "",
    ])

    static let listUnsubscribe = crlf([
        "From: Nudge <news@nudge.example>",
        "Reply-To: support@nudge.example",
        "To: dana@example.org",
        "Subject: Monthly digest",
        "Date: Tue, 02 Jan 2024 10:00:00 +0000",
        "Message-ID: <list-1@nudge.example>",
        "List-Unsubscribe: <https://nudge.example/u/abc123>,",
        " <mailto:unsubscribe@nudge.example?subject=abc123>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Digest body.",
        "",
    ])

    static let emptyBody = crlf([
        "From: Nudge <hello@nudge.example>",
        "To: erin@example.org",
        "Subject: (no body)",
        "Date: Tue, 02 Jan 2024 10:00:00 +0000",
        "Message-ID: <empty-1@nudge.example>",
        "",
        "",
    ])

    static let trailingBlankLines = crlf([
        "From: Nudge <hello@nudge.example>",
        "To: frank@example.org",
        "Subject: Trailing blank lines",
        "Date: Tue, 02 Jan 2024 10:00:00 +0000",
        "Message-ID: <trailing-1@nudge.example>",
        "",
        "Line one",
        "",
        "Line three  ",
        "",
        "   ",
        "",
        "",
        "",
    ])

    static let all: [(String, [UInt8])] = [
        ("plain", plain), ("multipart-qp", multipart), ("folded-headers", foldedHeaders),
        ("list-unsubscribe", listUnsubscribe), ("empty-body", emptyBody), ("trailing-blank-lines", trailingBlankLines),
    ]
}

@Suite struct DKIMSignerTests {
    /// Both signatures (Ed25519 then RSA) of every sample verify in dkimpy.
    @Test(arguments: Samples.all.map(\.0))
    func dkimpyVerifiesBothSignatures(sample: String) async throws {
        let message = try #require(Samples.all.first { $0.0 == sample }?.1)
        let signed = try Fixture.signer.sign(message: message, timestamp: Fixture.timestamp)
        let outcomes = try await DKIMVerifier.verify(message: signed, records: Fixture.records)
        #expect(outcomes.count == 2)
        for (index, outcome) in outcomes.enumerated() {
            #expect(
                outcome.ok, "\(sample) signature \(index): \(outcome.error ?? "verify returned false")\n\(String(decoding: signed, as: UTF8.self))")
        }
        print("dkimpy verified \(outcomes.filter(\.ok).count)/\(outcomes.count) signatures for \(sample)")
    }

    @Test func tamperedBodyFailsForBothKeyTypes() async throws {
        let signed = try Fixture.signer.sign(message: Samples.plain, timestamp: Fixture.timestamp)
        let tampered = replace("This  is", with: "That  is", in: signed)
        #expect(tampered != signed)
        let outcomes = try await DKIMVerifier.verify(message: tampered, records: Fixture.records)
        expectRejection(outcomes, errorContaining: "body hash mismatch")
    }

    @Test func tamperedSubjectFailsForBothKeyTypes() async throws {
        let signed = try Fixture.signer.sign(message: Samples.listUnsubscribe, timestamp: Fixture.timestamp)
        let tampered = replace("Subject: Monthly digest", with: "Subject: Monthly digest!", in: signed)
        #expect(tampered != signed)
        let outcomes = try await DKIMVerifier.verify(message: tampered, records: Fixture.records)
        expectRejection(outcomes)
    }

    /// The extra "from" in h= makes a From header added in transit break the signature.
    @Test func addedFromHeaderFailsBecauseOfOversigning() async throws {
        let signed = try Fixture.signer.sign(message: Samples.plain, timestamp: Fixture.timestamp)
        let tampered = replace("To: Alice", with: "From: Mallory <m@evil.example>\r\nTo: Alice", in: signed)
        let outcomes = try await DKIMVerifier.verify(message: tampered, records: Fixture.records)
        expectRejection(outcomes)
    }

    @Test func signatureHeaderShapeAndFolding() throws {
        let signed = try Fixture.signer.sign(message: Samples.foldedHeaders, timestamp: Fixture.timestamp)
        let text = String(decoding: signed, as: UTF8.self)
        let headerBlock = text.components(separatedBy: "\r\n\r\n")[0]
        let lines = headerBlock.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count < 78 }, "\(lines.filter { $0.count >= 78 })")
        #expect(lines[0].hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"))
        let unfolded = headerBlock.replacingOccurrences(of: "\r\n ", with: " ")
        #expect(unfolded.contains("d=nudge.example; s=ed2024; t=1704189600;"))
        #expect(unfolded.contains("a=rsa-sha256"))
        // Each present signed header once per occurrence, in the fixed order, then oversigned From.
        let hTag = unfolded.components(separatedBy: "h=")[1].components(separatedBy: ";")[0]
            .replacingOccurrences(of: " ", with: "")
        #expect(hTag == "from:to:subject:date:message-id:in-reply-to:references:mime-version:content-type:from")
    }

    @Test func emptyBodyHashIsHashOfNothing() throws {
        let signed = try Fixture.signer.sign(message: Samples.emptyBody, timestamp: Fixture.timestamp)
        let unfolded = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "\r\n ", with: "")
        // SHA-256 of the empty string: a relaxed empty body canonicalizes to zero bytes.
        #expect(unfolded.contains("bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"))
    }

    @Test func repeatedHeaderIsListedPerOccurrence() {
        let split = DKIMCanonicalization.split(Array("From: a@x.example\r\nTo: one@x.example\r\nTo: two@x.example\r\n\r\n".utf8))
        let (names, canonical) = DKIMSigner.selectHeaders(split.headers)
        #expect(names == ["from", "to", "to", "from"])
        // Bottom-up: the later To comes first (RFC 6376 5.4.2).
        #expect(String(decoding: canonical, as: UTF8.self) == "from:a@x.example\r\nto:two@x.example\r\nto:one@x.example\r\n")
    }

    @Test func refusesMessageWithoutFrom() {
        #expect(throws: DKIMSignError.missingFromHeader) {
            try Fixture.signer.sign(message: Array("To: a@x.example\r\n\r\nhi\r\n".utf8))
        }
    }

    @Test func refusesBadSelector() {
        let signer = DKIMSigner(domain: "nudge.example", keys: [DKIMSigningKey(selector: "bad;sel", key: Fixture.ed25519.key)])
        #expect(throws: DKIMSignError.invalidTagValue("bad;sel")) {
            try signer.sign(message: Samples.plain)
        }
    }

    /// Both signatures rejected for the expected reason: dkimpy returns False for a bad header
    /// signature and raises ValidationError("body hash mismatch ...") for a changed body.
    /// Any other exception (key format, DNS) would mean the test proves nothing.
    private func expectRejection(
        _ outcomes: [DKIMVerifier.Outcome], errorContaining reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(outcomes.count == 2, sourceLocation: sourceLocation)
        for outcome in outcomes {
            let expectedError = reason.map { outcome.error?.contains($0) == true } ?? (outcome.error == nil)
            #expect(!outcome.ok && expectedError, "\(outcome)", sourceLocation: sourceLocation)
        }
    }

    private func replace(_ old: String, with new: String, in message: [UInt8]) -> [UInt8] {
        Array(String(decoding: message, as: UTF8.self).replacingOccurrences(of: old, with: new).utf8)
    }
}

@Suite struct DKIMKeyTests {
    @Test func ed25519ExportImportAndRecord() throws {
        let key = DKIMPrivateKey.generateEd25519()
        #expect(key.exportedBytes.count == 32)
        let again = try DKIMPrivateKey(algorithm: .ed25519SHA256, exportedBytes: key.exportedBytes)
        #expect(again.publicKeyBytes == key.publicKeyBytes)
        #expect(key.publicKeyBytes.count == 32)
        let record = key.dnsTXTRecordValue
        #expect(record == "v=DKIM1; k=ed25519; p=\(Data(key.publicKeyBytes).base64EncodedString())")
        #expect(throws: DKIMKeyError.invalidKeyBytes(.ed25519SHA256)) {
            try DKIMPrivateKey(algorithm: .ed25519SHA256, exportedBytes: [1, 2, 3])
        }
    }

    @Test func rsaExportImportPKCS1AndPKCS8AndRecord() throws {
        let key = Fixture.rsa.key
        let pkcs1 = key.exportedBytes
        #expect(try DKIMPrivateKey(algorithm: .rsaSHA256, exportedBytes: pkcs1).publicKeyBytes == key.publicKeyBytes)

        // PKCS#8 DER, as other tools (openssl genpkey) write it, is accepted too.
        let pem = try _RSA.Signing.PrivateKey(derRepresentation: pkcs1).pkcs8PEMRepresentation
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let pkcs8 = try #require(Data(base64Encoded: base64))
        #expect(try DKIMPrivateKey(algorithm: .rsaSHA256, exportedBytes: Array(pkcs8)).publicKeyBytes == key.publicKeyBytes)

        let record = key.dnsTXTRecordValue
        #expect(record.hasPrefix("v=DKIM1; k=rsa; p=MII"))
        let p = try #require(Data(base64Encoded: String(record.dropFirst("v=DKIM1; k=rsa; p=".count))))
        #expect(try _RSA.Signing.PublicKey(derRepresentation: p).keySizeInBits == 2048)
        #expect(throws: DKIMKeyError.invalidKeyBytes(.rsaSHA256)) {
            try DKIMPrivateKey(algorithm: .rsaSHA256, exportedBytes: [0x30, 0x03, 0x02, 0x01, 0x00])
        }
    }
}
