import Testing
@testable import ProxyAuth

/// Verifiers PostgreSQL 15 itself stored (`SET password_encryption = 'scram-sha-256'; CREATE ROLE ... PASSWORD ...;
/// SELECT rolpassword FROM pg_authid`), taken from a throwaway server.
private enum PostgresMade {
    /// Password "secret".
    static let secret = "SCRAM-SHA-256$4096:YhojMrZZ+ZjyGFdTXOIylw=="
        + "$T7SqHCaz9yg1nyHN6EFq6BfhovWwbGaWiIOmLbjyz5Q=:JS1C4kN7XEVpVROPflgdycuyF0ubp40OGJV7VD2DuYw="
    /// Password U&'\FF50\FF41\FF53\FF53' (full-width "pass"; SASLprep's NFKC makes it "pass").
    static let fullWidthPass = "SCRAM-SHA-256$4096:RSqgfPzYE2gcMA/0PJIT6Q=="
        + "$tGyEFxi1bDfJymLGmpY70Nh/KDFYZzDm9B9o7VK/hLc=:PL2UEyZR/0msw6xznztfMkBZQoq7hCX7zUzvqy/5juo="
    /// Password U&'cafe\0301' (decomposed "café").
    static let decomposedCafe = "SCRAM-SHA-256$4096:FHK1FIIJBUTqW5/QuUSWgQ=="
        + "$IOIeg7n9QU+7J74YMqbZdd9mvHuDuPkDR+bCcu8gKbA=:cCkt3QVXSFpGbYjMdHFhX3uoEicofV6sH4KBAsF66es="
    /// Password U&'caf\00E9' (precomposed "café").
    static let precomposedCafe = "SCRAM-SHA-256$4096:fxL/h7pRL3p/DsB/gYarCw=="
        + "$k8bNymJ9HC9BBoSdqENG0RK6ayhRaIdceblDK8DSQJs=:oArmU+7RlMLQXLqjES4fdVkSPnUPM61ZDB3BChRSbP0="
    /// Password U&'a\00A0b\00ADc' (no-break space maps to a space, soft hyphen maps to nothing).
    static let mappedSpaces = "SCRAM-SHA-256$4096:41xpPghTZncJ5ljer5JNzA=="
        + "$p6EewjVwxHkPJf84EO+zaRZjXjaLwFslCdjVLKjUB3I=:EmrGh8WAjbGyqCG+1fnjglgBVpXPU1wplHah5uMj2Ns="
    /// Password U&'ab\0007c' (ASCII with a control character: used as is).
    static let asciiControl = "SCRAM-SHA-256$4096:PXSw3wCkFVUMY/QAzBAU8g=="
        + "$sVmRG95zEJBGI9U7jPJn8a1+gEZZsps+d/wff3SYT94=:KGTQh7JA47p5RiN1qmnECoPUo7JOGv6vqsL52PeLJjc="
}

@Suite struct SCRAMVerifierTests {
    @Test func parseAndFormatRoundTrip() throws {
        let verifier = try #require(SCRAMVerifier(parsing: PostgresMade.secret))
        #expect(verifier.iterations == 4096)
        #expect(verifier.salt.count == 16)
        #expect(verifier.stringValue == PostgresMade.secret)
        let made = SCRAMVerifier.make(password: "x", salt: [9, 8, 7], iterations: 10)
        #expect(SCRAMVerifier(parsing: made.stringValue) == made)
    }

    @Test(arguments: [
        "", "SCRAM-SHA-256", "SCRAM-SHA-1$4096:YhojMrZZ+ZjyGFdTXOIylw==$AAAA:AAAA",
        "SCRAM-SHA-256$0:YhojMrZZ+ZjyGFdTXOIylw==$T7SqHCaz9yg1nyHN6EFq6BfhovWwbGaWiIOmLbjyz5Q="
            + ":JS1C4kN7XEVpVROPflgdycuyF0ubp40OGJV7VD2DuYw=",
        "SCRAM-SHA-256$4096:YhojMrZZ+ZjyGFdTXOIylw==$T7SqHCaz9yg1nyHN6EFq6BfhovWwbGaWiIOmLbjyz5Q=",
        "SCRAM-SHA-256$4096:$T7SqHCaz9yg1nyHN6EFq6BfhovWwbGaWiIOmLbjyz5Q=:JS1C4kN7XEVpVROPflgdycuyF0ubp40OGJV7VD2DuYw=",
        "SCRAM-SHA-256$4096:YhojMrZZ+ZjyGFdTXOIylw==$AAAA:JS1C4kN7XEVpVROPflgdycuyF0ubp40OGJV7VD2DuYw=",
    ])
    func malformedVerifiersDoNotParse(_ text: String) {
        #expect(SCRAMVerifier(parsing: text) == nil)
    }

    @Test func postgresVerifierMatchesOurDerivation() throws {
        let stored = try #require(SCRAMVerifier(parsing: PostgresMade.secret))
        #expect(SCRAMVerifier.make(password: "secret", salt: stored.salt, iterations: stored.iterations) == stored)
    }

    @Test func postgresVerifierAcceptsOurClient() throws {
        let stored = try #require(SCRAMVerifier(parsing: PostgresMade.secret))
        var server = SCRAMServerExchange(verifier: stored)
        var client = SCRAMClientExchange(password: "secret")
        let clientFinal = try client.receiveServerFirst(try server.receiveClientFirst(client.clientFirstMessage()))
        try client.verifyServerFinal(try server.receiveClientFinal(clientFinal))
        #expect(server.isAuthenticated)

        var wrongServer = SCRAMServerExchange(verifier: stored)
        var wrongClient = SCRAMClientExchange(password: "Secret")
        let wrongFinal = try wrongClient.receiveServerFirst(
            try wrongServer.receiveClientFirst(wrongClient.clientFirstMessage())
        )
        #expect(throws: AuthError.self) { try wrongServer.receiveClientFinal(wrongFinal) }
    }

    @Test(arguments: [
        (PostgresMade.fullWidthPass, "\u{FF50}\u{FF41}\u{FF53}\u{FF53}"),
        (PostgresMade.fullWidthPass, "pass"),
        (PostgresMade.decomposedCafe, "cafe\u{301}"),
        (PostgresMade.decomposedCafe, "caf\u{E9}"),
        (PostgresMade.precomposedCafe, "caf\u{E9}"),
        (PostgresMade.mappedSpaces, "a\u{A0}b\u{AD}c"),
        (PostgresMade.mappedSpaces, "a bc"),
        (PostgresMade.asciiControl, "ab\u{7}c"),
    ])
    func saslPrepMatchesPostgres(_ verifierText: String, _ password: String) throws {
        let stored = try #require(SCRAMVerifier(parsing: verifierText))
        #expect(SCRAMVerifier.make(password: password, salt: stored.salt, iterations: stored.iterations) == stored)
    }

    @Test func saslPrepFallsBackToRawBytesForProhibitedCharacters() {
        // U+E000 is private use: SASLprep fails, PostgreSQL then uses the raw UTF-8 bytes.
        #expect(SASLprep.prepare("x\u{E000}\u{A0}") == Array("x\u{E000}\u{A0}".utf8))
        #expect(SASLprep.prepare("x\u{A0}y") == Array("x y".utf8))
    }

    @Test func saltedPasswordIsPBKDF2() {
        // RFC 7914 section 11 has PBKDF2-HMAC-SHA256 vectors: P="passwd", S="salt", c=1, first 32 bytes.
        let expected = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        let derived = SCRAM.saltedPassword(password: "passwd", salt: Array("salt".utf8), iterations: 1)
        #expect(derived.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined() == expected)
    }

    @Test func unknownUserVerifierHasStableSaltAndNeverMatches() throws {
        let secret: [UInt8] = Array(repeating: 42, count: 32)
        let first = SCRAMVerifier.unknownUser("ghost", secret: secret)
        let second = SCRAMVerifier.unknownUser("ghost", secret: secret)
        #expect(first.salt == second.salt)
        #expect(first.salt != SCRAMVerifier.unknownUser("other", secret: secret).salt)
        var server = SCRAMServerExchange(verifier: first)
        var client = SCRAMClientExchange(password: "")
        let final = try client.receiveServerFirst(try server.receiveClientFirst(client.clientFirstMessage()))
        #expect(throws: AuthError.self) { try server.receiveClientFinal(final) }
    }

    @Test func descriptionHidesKeys() throws {
        let verifier = try #require(SCRAMVerifier(parsing: PostgresMade.secret))
        #expect(!"\(verifier)".contains("YhojMrZZ"))
        #expect(!"\(StoredCredential.plain("hunter2"))".contains("hunter2"))
    }
}
