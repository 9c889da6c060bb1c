import Testing
@testable import ProxyAuth

/// RFC 7677 section 3: user "user", password "pencil".
private enum RFC7677 {
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct SCRAMExchangeTests {
    @Test func clientMatchesRFC7677() throws {
        var client = SCRAMClientExchange(password: "pencil", clientNonce: RFC7677.clientNonce, username: "user")
        #expect(text(client.clientFirstMessage()) == RFC7677.clientFirst)
        let final = try client.receiveServerFirst(bytes(RFC7677.serverFirst))
        #expect(text(final) == RFC7677.clientFinal)
        try client.verifyServerFinal(bytes(RFC7677.serverFinal))
    }

    @Test func serverMatchesRFC7677() throws {
        let verifier = SCRAMVerifier.make(password: "pencil", salt: RFC7677.salt, iterations: 4096)
        var server = SCRAMServerExchange(verifier: verifier, serverNonce: RFC7677.serverNonce)
        #expect(text(try server.receiveClientFirst(bytes(RFC7677.clientFirst))) == RFC7677.serverFirst)
        #expect(!server.isAuthenticated)
        #expect(text(try server.receiveClientFinal(bytes(RFC7677.clientFinal))) == RFC7677.serverFinal)
        #expect(server.isAuthenticated)
    }

    @Test func clientRejectsWrongServerSignature() throws {
        var client = SCRAMClientExchange(password: "pencil", clientNonce: RFC7677.clientNonce, username: "user")
        _ = try client.receiveServerFirst(bytes(RFC7677.serverFirst))
        let forged = "v=" + Base64.encode([UInt8](repeating: 7, count: 32))
        #expect(throws: AuthError.self) { try client.verifyServerFinal(bytes(forged)) }
        let error = try #require(throws: AuthError.self) { try client.verifyServerFinal(bytes("e=invalid-proof")) }
        #expect(error.kind == .serverError)
        #expect(error.message.contains("invalid-proof"))
    }

    @Test func clientPrefixesPostgresStyleFirstMessage() {
        let client = SCRAMClientExchange(password: "x", clientNonce: "abc")
        #expect(text(client.clientFirstMessage()) == "n,,n=,r=abc")
        let escaped = SCRAMClientExchange(password: "x", clientNonce: "abc", username: "a=b,c")
        #expect(text(escaped.clientFirstMessage()) == "n,,n=a=3Db=2Cc,r=abc")
    }

    @Test func roundTripWithRandomNonces() throws {
        let verifier = SCRAMVerifier.make(password: "correct horse")
        var server = SCRAMServerExchange(verifier: verifier)
        var client = SCRAMClientExchange(password: "correct horse")
        let serverFirst = try server.receiveClientFirst(client.clientFirstMessage())
        let clientFinal = try client.receiveServerFirst(serverFirst)
        let serverFinal = try server.receiveClientFinal(clientFinal)
        try client.verifyServerFinal(serverFinal)
        #expect(server.isAuthenticated)
    }

    @Test func wrongPasswordIsRejected() throws {
        let verifier = SCRAMVerifier.make(password: "correct horse")
        var server = SCRAMServerExchange(verifier: verifier)
        var client = SCRAMClientExchange(password: "battery staple")
        let serverFirst = try server.receiveClientFirst(client.clientFirstMessage())
        let clientFinal = try client.receiveServerFirst(serverFirst)
        let error = try #require(throws: AuthError.self) { try server.receiveClientFinal(clientFinal) }
        #expect(error.kind == .invalidCredentials)
        #expect(!server.isAuthenticated)
    }

    @Test func cachedSaltedPasswordGivesSameProof() throws {
        var plain = SCRAMClientExchange(password: "pencil", clientNonce: RFC7677.clientNonce, username: "user")
        var cached = SCRAMClientExchange(password: "pencil", clientNonce: RFC7677.clientNonce, username: "user")
        var calls = 0
        let precomputed = SCRAM.saltedPassword(password: "pencil", salt: RFC7677.salt, iterations: 4096)
        let viaCache = try cached.receiveServerFirst(bytes(RFC7677.serverFirst)) { salt, iterations in
            calls += 1
            #expect(salt == RFC7677.salt && iterations == 4096)
            return precomputed
        }
        #expect(calls == 1)
        #expect(viaCache == (try plain.receiveServerFirst(bytes(RFC7677.serverFirst))))
    }

    @Test func serverRejectsChannelBindingAndAuthzid() {
        let verifier = SCRAMVerifier.make(password: "pw", salt: [1, 2, 3], iterations: 1)
        var withBinding = SCRAMServerExchange(verifier: verifier, serverNonce: "srv")
        let binding = #expect(throws: AuthError.self) {
            try withBinding.receiveClientFirst(bytes("p=tls-server-end-point,,n=,r=abc"))
        }
        #expect(binding?.kind == .unsupported)
        var withAuthzid = SCRAMServerExchange(verifier: verifier, serverNonce: "srv")
        let authzid = #expect(throws: AuthError.self) { try withAuthzid.receiveClientFirst(bytes("n,a=bob,n=,r=abc")) }
        #expect(authzid?.kind == .unsupported)
        // "y" (client could bind, but thinks the server cannot) is accepted, as PostgreSQL does without -PLUS.
        var yes = SCRAMServerExchange(verifier: verifier, serverNonce: "srv")
        #expect(throws: Never.self) { try yes.receiveClientFirst(bytes("y,,n=,r=abc")) }
    }

    @Test(arguments: [
        "", "n,,", "n,,r=abc", "n,,n=,r=", "n,,n=,r=a,b", "x,,n=,r=abc", "n,,m=ext,n=,r=abc", "n,,n=,r=ab\u{7F}",
    ])
    func serverRejectsMalformedClientFirst(_ message: String) {
        var server = SCRAMServerExchange(verifier: .make(password: "pw", salt: [1], iterations: 1), serverNonce: "s")
        #expect(throws: AuthError.self) { try server.receiveClientFirst(bytes(message)) }
    }

    @Test func serverRejectsTamperedClientFinal() throws {
        let verifier = SCRAMVerifier.make(password: "pencil", salt: RFC7677.salt, iterations: 4096)
        let proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        let nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        let tampered = [
            "c=eSws,\(nonce),\(proof)",                       // binding data says "y,," but the client sent "n,,"
            "c=biws,r=rOprNGfwEbeRWgbNEkqOother,\(proof)",    // someone else's nonce
            "c=biws,\(nonce)",                                // no proof
            "c=biws,\(nonce),p=AAAA",                         // proof of the wrong length
            "c=biws,\(nonce),x=ext,\(proof)",                 // an extension changes the AuthMessage: proof is stale
        ]
        for message in tampered {
            var server = SCRAMServerExchange(verifier: verifier, serverNonce: RFC7677.serverNonce)
            _ = try server.receiveClientFirst(bytes(RFC7677.clientFirst))
            #expect(throws: AuthError.self, "\(message)") { try server.receiveClientFinal(bytes(message)) }
            #expect(!server.isAuthenticated)
        }
    }

    @Test func messagesOutOfOrderAreRejected() throws {
        var server = SCRAMServerExchange(verifier: .make(password: "pw", salt: [1], iterations: 1), serverNonce: "s")
        #expect(throws: AuthError.self) { try server.receiveClientFinal(bytes("c=biws,r=as,p=AAAA")) }
        var client = SCRAMClientExchange(password: "pw", clientNonce: "c")
        #expect(throws: AuthError.self) { try client.verifyServerFinal(bytes("v=AAAA")) }
        _ = try client.receiveServerFirst(bytes("r=cs,s=AQ==,i=1"))
        #expect(throws: AuthError.self) { try client.receiveServerFirst(bytes("r=cs,s=AQ==,i=1")) }
    }

    @Test(arguments: [
        "r=other,s=AQ==,i=1", "r=c,s=AQ==,i=1", "r=cs,s=!!,i=1", "r=cs,s=AQ==,i=0", "r=cs,s=AQ==,i=-4",
        "r=cs,s=AQ==", "s=AQ==,r=cs,i=1", "m=x,r=cs,s=AQ==,i=1",
    ])
    func clientRejectsMalformedServerFirst(_ message: String) {
        var client = SCRAMClientExchange(password: "pw", clientNonce: "c")
        #expect(throws: AuthError.self) { try client.receiveServerFirst(bytes(message)) }
    }

    @Test func noncesAreRandomAndPrintable() {
        let first = SCRAM.makeNonce()
        let second = SCRAM.makeNonce()
        #expect(first != second)
        #expect(SCRAM.isValidNonce(first[...]) && first.count == 24)
    }
}
