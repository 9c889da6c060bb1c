import NIOCore
import PostgresWire
import ProxyAuth
import Testing
@testable import ProxySession

private typealias Action = ClientStartupStateMachine.Action

private let scramOffer = Action.requestAuthentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))

/// md5 stored hash of user "alice", password "secret", and the wire response to salt [1, 2, 3, 4]
/// (both computed with Python's hashlib, independently of the code under test).
private let aliceMD5Hash = "md54a0a68b43b6cd5cf266fa02f196e2371"
private let aliceMD5Response = "md598a0412b9c31436fc53776e863350083"

private let aliceVerifier = SCRAMVerifier.make(password: "secret", salt: Array(1...16), iterations: 256)

private func startupMessage(
    _ parameters: [(String, String)], minor: UInt16 = 0, options: [String] = []
) -> StartupMessage {
    StartupMessage(
        minorVersion: minor, parameters: parameters.map { (name: $0.0, value: $0.1) }, protocolOptions: options
    )
}

private func startup(_ parameters: [(String, String)], minor: UInt16 = 0, options: [String] = []) -> StartupRequest {
    .startup(startupMessage(parameters, minor: minor, options: options))
}

private func passwordMessage(_ password: String) -> ByteBuffer {
    Payload().cstring(password).buffer
}

private func saslInitialResponse(
    _ data: [UInt8], mechanism: String = "SCRAM-SHA-256", length: Int32? = nil
) -> ByteBuffer {
    Payload().cstring(mechanism).int32(length ?? Int32(data.count)).raw(data).buffer
}

private func saslResponse(_ data: [UInt8]) -> ByteBuffer {
    Payload().raw(data).buffer
}

private func serverFirst(of action: Action) -> [UInt8]? {
    if case .requestAuthentication(.saslContinue(let data)) = action { return data }
    return nil
}

/// The `s=` attribute of a server-first-message.
private func salt(inServerFirst message: [UInt8]) -> String? {
    text(message).split(separator: ",").first { $0.hasPrefix("s=") }.map { String($0.dropFirst(2)) }
}

private func machine(
    _ method: LoginMethod, _ credentials: [String: UserCredential]
) -> ClientStartupStateMachine {
    ClientStartupStateMachine(method: method, credentials: credentials, random: countingRandom)
}

/// Plays a libpq-like client through a whole SCRAM login with a real `SCRAMClientExchange`.
/// Returns the state machine's last action and the client exchange (to check the server signature).
private func scramLogin(
    _ machine: inout ClientStartupStateMachine, user: String, password: String,
    parameters: [(String, String)] = []
) throws -> (Action, SCRAMClientExchange) {
    let offer = machine.received(startup([("user", user)] + parameters))
    #expect(offer == [scramOffer])
    var client = SCRAMClientExchange(password: password, clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
    let continueAction = machine.receivedPassword(saslInitialResponse(client.clientFirstMessage()))
    let first = try #require(serverFirst(of: continueAction))
    let final = try client.receiveServerFirst(first)
    return (machine.receivedPassword(saslResponse(final)), client)
}

@Suite struct ClientStartupStateMachineTests {
    // MARK: SCRAM-SHA-256

    @Test func scramLoginWithPlainTextCredential() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .plain("secret"))])
        let (action, client) = try scramLogin(&sm, user: "alice", password: "secret")
        guard case .authenticated(let user, let database, let message, let saslFinal) = action else {
            Issue.record("expected .authenticated, got \(action)")
            return
        }
        #expect(user == "alice")
        #expect(database == "alice")
        #expect(message == startupMessage([("user", "alice")]))
        let final = try #require(saslFinal)
        #expect(text(final).hasPrefix("v="))
        try client.verifyServerFinal(final)
    }

    @Test func scramLoginWithStoredVerifier() throws {
        let stored = try StoredCredential(parsing: aliceVerifier.stringValue)
        #expect(stored == .scram(aliceVerifier))
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: stored)])
        let (action, client) = try scramLogin(
            &sm, user: "alice", password: "secret", parameters: [("database", "app"), ("application_name", "psql")]
        )
        guard case .authenticated(let user, let database, let message, let saslFinal) = action else {
            Issue.record("expected .authenticated, got \(action)")
            return
        }
        #expect(user == "alice")
        #expect(database == "app")
        #expect(message == startupMessage([("user", "alice"), ("database", "app"), ("application_name", "psql")]))
        try client.verifyServerFinal(try #require(saslFinal))
    }

    @Test func scramServerFirstCarriesTheVerifierSaltAndIterations() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let client = SCRAMClientExchange(password: "secret", clientNonce: "abc")
        let first = try #require(serverFirst(of: sm.receivedPassword(saslInitialResponse(client.clientFirstMessage()))))
        // The server nonce is base64 of random(18) = 1...18.
        let nonce = "abc" + Base64.encode(Array(UInt8(1)...18))
        #expect(text(first) == "r=\(nonce),s=\(Base64.encode(Array(UInt8(1)...16))),i=256")
    }

    @Test func scramWrongPasswordFailsWith28P01() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        let (action, _) = try scramLogin(&sm, user: "alice", password: "wrong")
        #expect(action == .fail(.fatal(.invalidPassword, "password authentication failed for user \"alice\"")))
        // No second chance on the same connection.
        #expect(failureState(sm.receivedPassword(saslResponse(bytes("again")))) == "08P01")
    }

    @Test func unknownUserGetsFullExchangeAndTheSameFailure() throws {
        // "bob" is not listed, yet gets SASL, a server-first-message, and fails only at the proof.
        var unknown = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        let (unknownFailure, _) = try scramLogin(&unknown, user: "bob", password: "secret")
        // The same attempt for a "bob" who exists, with a wrong password: the reply must be the same.
        var known = machine(.scramSHA256, ["bob": UserCredential(stored: .scram(aliceVerifier))])
        let (wrongPassword, _) = try scramLogin(&known, user: "bob", password: "wrong")
        #expect(unknownFailure == .fail(.fatal(.invalidPassword, "password authentication failed for user \"bob\"")))
        #expect(unknownFailure == wrongPassword)
    }

    @Test func unknownUserServerFirstLooksLikeARealOne() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        #expect(sm.received(startup([("user", "ghost")])) == [scramOffer])
        let client = SCRAMClientExchange(password: "x", clientNonce: "abc")
        let first = try #require(serverFirst(of: sm.receivedPassword(saslInitialResponse(client.clientFirstMessage()))))
        let fields = text(first).split(separator: ",")
        #expect(fields.count == 3)
        #expect(fields.last == "i=\(SCRAM.defaultIterations)")
        let saltText = try #require(salt(inServerFirst: first))
        #expect(Base64.decode(saltText)?.count == SCRAM.defaultSaltLength)
    }

    /// BUG: the mock verifier for an unknown user is salted from `random(32)` drawn anew for every login
    /// (ClientStartupStateMachine.swift:108), so its salt changes between attempts while a real user's salt never
    /// does: two connections tell whether a user exists. `SCRAMVerifier.unknownUser` expects a secret picked
    /// once at start.
    @Test func unknownUserSaltIsStableAcrossAttempts() throws {
        let credentials = ["alice": UserCredential(stored: .scram(aliceVerifier))]
        func saltOffered(to user: String) throws -> String {
            // The production default randomness, as ProxyRuntime builds the machine.
            var sm = ClientStartupStateMachine(method: .scramSHA256, credentials: credentials)
            _ = sm.received(startup([("user", user)]))
            let client = SCRAMClientExchange(password: "x", clientNonce: "abc")
            let action = sm.receivedPassword(saslInitialResponse(client.clientFirstMessage()))
            let first = try #require(serverFirst(of: action))
            return try #require(salt(inServerFirst: first))
        }
        // Control: an existing user sees the same salt every time.
        #expect(try saltOffered(to: "alice") == saltOffered(to: "alice"))
        #expect(try saltOffered(to: "ghost") == saltOffered(to: "ghost"))
    }

    @Test func scramMethodWithMD5OnlySecretFailsEvenWithTheRightPassword() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .md5(aliceMD5Hash))])
        let (action, _) = try scramLogin(&sm, user: "alice", password: "secret")
        #expect(failureState(action) == "28P01")
    }

    // MARK: md5

    @Test func md5LoginWithPlainTextCredential() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        #expect(sm.received(startup([("user", "alice")])) == [.requestAuthentication(.md5(salt: [1, 2, 3, 4]))])
        let action = sm.receivedPassword(passwordMessage(aliceMD5Response))
        #expect(action == .authenticated(
            user: "alice", database: "alice", startup: startupMessage([("user", "alice")]), saslFinal: nil
        ))
    }

    @Test func md5LoginWithStoredHash() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .md5(aliceMD5Hash))])
        #expect(sm.received(startup([("user", "alice"), ("database", "app")]))
            == [.requestAuthentication(.md5(salt: [1, 2, 3, 4]))])
        let action = sm.receivedPassword(passwordMessage(aliceMD5Response))
        #expect(action == .authenticated(
            user: "alice", database: "app", startup: startupMessage([("user", "alice"), ("database", "app")]),
            saslFinal: nil
        ))
    }

    @Test(arguments: [
        "md5" + String(repeating: "0", count: 32),  // wrong response
        "secret",                                   // the clear-text password is not an md5 response
        aliceMD5Hash,                               // nor is the stored hash
    ])
    func md5WrongResponseFailsWith28P01(response: String) {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        _ = sm.received(startup([("user", "alice")]))
        #expect(sm.receivedPassword(passwordMessage(response))
            == .fail(.fatal(.invalidPassword, "password authentication failed for user \"alice\"")))
    }

    @Test func md5UnknownUserIsAskedForAPasswordThenFails() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        #expect(sm.received(startup([("user", "bob")])) == [.requestAuthentication(.md5(salt: [1, 2, 3, 4]))])
        #expect(sm.receivedPassword(passwordMessage(aliceMD5Response))
            == .fail(.fatal(.invalidPassword, "password authentication failed for user \"bob\"")))
    }

    @Test func md5MalformedPasswordMessageIsProtocolViolation() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        _ = sm.received(startup([("user", "alice")]))
        // No NUL terminator.
        #expect(failureState(sm.receivedPassword(Payload().raw(bytes(aliceMD5Response)).buffer)) == "08P01")
    }

    @Test func md5MethodWithSCRAMStoredUserOffersSASL() throws {
        var sm = machine(.md5, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        let (action, client) = try scramLogin(&sm, user: "alice", password: "secret")
        guard case .authenticated(let user, _, _, let saslFinal) = action else {
            Issue.record("expected .authenticated, got \(action)")
            return
        }
        #expect(user == "alice")
        try client.verifyServerFinal(try #require(saslFinal))
    }

    @Test func md5MethodWithSCRAMStoredUserRejectsAnMD5Response() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        #expect(sm.received(startup([("user", "alice")])) == [scramOffer])
        // A client that answers with a PasswordMessage anyway: not a SASLInitialResponse for SCRAM-SHA-256.
        #expect(failureState(sm.receivedPassword(passwordMessage(aliceMD5Response))) == "08P01")
    }

    // MARK: trust

    @Test func trustAdmitsAListedUser() {
        var sm = machine(.trust, ["alice": UserCredential(stored: .md5(aliceMD5Hash))])
        #expect(sm.received(startup([("user", "alice")])) == [.authenticated(
            user: "alice", database: "alice", startup: startupMessage([("user", "alice")]), saslFinal: nil
        )])
        #expect(!sm.isAwaitingStartupPacket)
    }

    @Test func trustRejectsAnUnlistedUser() {
        var sm = machine(.trust, ["alice": UserCredential(stored: .md5(aliceMD5Hash))])
        let actions = sm.received(startup([("user", "mallory")]))
        #expect(actions.count == 1)
        #expect(actions.first.flatMap(failureState) == "28P01")
        #expect(actions.first.flatMap(failureMessage) == "authentication failed for user \"mallory\"")
    }

    @Test func trustWithEmptyUserListAdmitsAnyone() {
        var sm = machine(.trust, [:])
        #expect(sm.received(startup([("user", "anyone"), ("database", "db")])) == [.authenticated(
            user: "anyone", database: "db", startup: startupMessage([("user", "anyone"), ("database", "db")]),
            saslFinal: nil
        )])
    }

    @Test(arguments: [LoginMethod.md5, .scramSHA256])
    func emptyUserListDoesNotAdmitAnyoneWithPasswordMethods(method: LoginMethod) {
        var sm = machine(method, [:])
        let actions = sm.received(startup([("user", "anyone")]))
        #expect(actions.count == 1)
        if case .requestAuthentication = actions.first {} else { Issue.record("expected a challenge: \(actions)") }
    }

    @Test func databaseDefaultsToUser() {
        let cases: [([(String, String)], String)] = [
            ([("user", "alice")], "alice"),
            ([("user", "alice"), ("database", "")], "alice"),
            ([("database", "app"), ("user", "alice")], "app"),
            ([("user", "alice"), ("database", "one"), ("database", "two")], "two"),
        ]
        for (parameters, expected) in cases {
            var sm = machine(.trust, [:])
            let actions = sm.received(startup(parameters))
            guard case .authenticated(_, let database, _, _)? = actions.last else {
                Issue.record("expected .authenticated for \(parameters), got \(actions)")
                continue
            }
            #expect(database == expected, "\(parameters)")
        }
    }

    // MARK: Startup packets

    @Test func sslRequestIsRefusedThenStartupProceeds() {
        var sm = machine(.trust, [:])
        #expect(sm.isAwaitingStartupPacket)
        #expect(sm.received(.sslRequest) == [.refuseEncryption])
        #expect(sm.isAwaitingStartupPacket)
        #expect(sm.received(startup([("user", "alice")])) == [.authenticated(
            user: "alice", database: "alice", startup: startupMessage([("user", "alice")]), saslFinal: nil
        )])
    }

    @Test func gssEncryptionRequestIsRefusedThenStartupProceeds() {
        var sm = machine(.md5, [:])
        #expect(sm.received(.gssEncryptionRequest) == [.refuseEncryption])
        #expect(sm.received(startup([("user", "alice")])) == [.requestAuthentication(.md5(salt: [1, 2, 3, 4]))])
    }

    @Test func doubleSSLRequestIsProtocolViolation() {
        var sm = machine(.trust, [:])
        #expect(sm.received(.sslRequest) == [.refuseEncryption])
        let actions = sm.received(.sslRequest)
        #expect(actions.map(failureState) == ["08P01"])
        #expect(!sm.isAwaitingStartupPacket)
        #expect(sm.received(startup([("user", "alice")])).map(failureState) == ["08P01"])
    }

    @Test func doubleGSSEncryptionRequestIsProtocolViolation() {
        var sm = machine(.trust, [:])
        #expect(sm.received(.gssEncryptionRequest) == [.refuseEncryption])
        #expect(sm.received(.gssEncryptionRequest).map(failureState) == ["08P01"])
    }

    /// BUG: libpq with gssencmode=prefer (the default when built with GSSAPI and a Kerberos ticket is present)
    /// sends GSSENCRequest, and after 'N' an SSLRequest on the same connection (sslmode=prefer). PostgreSQL
    /// tracks the two separately (ssl_done / gss_done) and refuses both; the proxy shares one flag
    /// (ClientStartupStateMachine.swift:62) and fails the login with 08P01.
    @Test func gssEncryptionThenSSLRequestAreBothRefused() {
        var sm = machine(.trust, [:])
        #expect(sm.received(.gssEncryptionRequest) == [.refuseEncryption])
        #expect(sm.received(.sslRequest) == [.refuseEncryption])
        #expect(sm.isAwaitingStartupPacket)
    }

    @Test func cancelRequestIsForwardedAndEndsTheConversation() {
        var sm = machine(.scramSHA256, [:])
        let key = BackendKey(processID: 4242, secretKey: -17)
        #expect(sm.received(.cancel(key)) == [.cancel(key)])
        #expect(!sm.isAwaitingStartupPacket)
        #expect(sm.received(startup([("user", "alice")])).map(failureState) == ["08P01"])
    }

    @Test func cancelRequestAfterSSLRefusal() {
        var sm = machine(.trust, [:])
        let key = BackendKey(processID: 1, secretKey: 2)
        #expect(sm.received(.sslRequest) == [.refuseEncryption])
        #expect(sm.received(.cancel(key)) == [.cancel(key)])
    }

    @Test func protocolOptionsAreNegotiatedFirst() {
        var sm = machine(.md5, [:])
        let actions = sm.received(startup([("user", "alice")], options: ["_pq_.compression", "_pq_.other"]))
        #expect(actions == [
            .negotiateProtocolVersion(newestMinor: 0, unsupportedOptions: ["_pq_.compression", "_pq_.other"]),
            .requestAuthentication(.md5(salt: [1, 2, 3, 4])),
        ])
    }

    @Test func newerMinorVersionIsNegotiatedDown() {
        var sm = machine(.trust, [:])
        let actions = sm.received(startup([("user", "alice")], minor: 2))
        #expect(actions.count == 2)
        #expect(actions.first == .negotiateProtocolVersion(newestMinor: 0, unsupportedOptions: []))
        if case .authenticated? = actions.last {} else { Issue.record("expected .authenticated last: \(actions)") }
    }

    @Test func plainProtocol30IsNotNegotiated() {
        var sm = machine(.md5, [:])
        #expect(sm.received(startup([("user", "alice")])) == [.requestAuthentication(.md5(salt: [1, 2, 3, 4]))])
    }

    @Test(arguments: [[(String, String)](), [("database", "app")], [("user", ""), ("database", "app")]])
    func missingUserIs28000(parameters: [(String, String)]) {
        var sm = machine(.trust, [:])
        #expect(sm.received(startup(parameters)) == [.fail(.fatal(
            .invalidAuthorizationSpecification, "no PostgreSQL user name specified in startup packet"
        ))])
        #expect(!sm.isAwaitingStartupPacket)
    }

    @Test func secondStartupDuringAuthenticationIsProtocolViolation() {
        var sm = machine(.md5, [:])
        _ = sm.received(startup([("user", "alice")]))
        #expect(sm.received(startup([("user", "alice")])).map(failureState) == ["08P01"])
        #expect(failureState(sm.receivedPassword(passwordMessage(aliceMD5Response))) == "08P01")
    }

    // MARK: Password messages out of place

    @Test func passwordBeforeStartupIsProtocolViolation() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        #expect(failureState(sm.receivedPassword(passwordMessage(aliceMD5Response))) == "08P01")
        // The connection is over: a startup now is refused too.
        #expect(sm.received(startup([("user", "alice")])).map(failureState) == ["08P01"])
    }

    @Test func passwordAfterSSLRefusalIsProtocolViolation() {
        var sm = machine(.md5, [:])
        _ = sm.received(.sslRequest)
        #expect(failureState(sm.receivedPassword(passwordMessage("x"))) == "08P01")
    }

    @Test func passwordAfterSuccessIsProtocolViolation() {
        var sm = machine(.md5, ["alice": UserCredential(stored: .plain("secret"))])
        _ = sm.received(startup([("user", "alice")]))
        if case .authenticated = sm.receivedPassword(passwordMessage(aliceMD5Response)) {} else {
            Issue.record("login should have succeeded")
        }
        #expect(failureState(sm.receivedPassword(passwordMessage(aliceMD5Response))) == "08P01")
    }

    @Test func passwordAfterTrustLoginIsProtocolViolation() {
        var sm = machine(.trust, [:])
        _ = sm.received(startup([("user", "alice")]))
        #expect(failureState(sm.receivedPassword(passwordMessage("x"))) == "08P01")
    }

    // MARK: Malformed SASL

    @Test(arguments: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", ""])
    func saslInitialResponseWithWrongMechanismIsProtocolViolation(mechanism: String) {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let client = SCRAMClientExchange(password: "secret", clientNonce: "abc")
        let action = sm.receivedPassword(saslInitialResponse(client.clientFirstMessage(), mechanism: mechanism))
        #expect(action == .fail(.fatal(
            .protocolViolation, "client selected an invalid SASL authentication mechanism"
        )))
    }

    @Test(arguments: [Int32(-1), -2, 1000])
    func saslInitialResponseWithBadLengthIsProtocolViolation(length: Int32) {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let client = SCRAMClientExchange(password: "secret", clientNonce: "abc")
        let action = sm.receivedPassword(saslInitialResponse(client.clientFirstMessage(), length: length))
        #expect(action == .fail(.fatal(.protocolViolation, "malformed SASLInitialResponse")))
    }

    @Test func saslInitialResponseWithoutLengthIsProtocolViolation() {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let action = sm.receivedPassword(Payload().cstring("SCRAM-SHA-256").raw([0, 0]).buffer)
        #expect(action == .fail(.fatal(.protocolViolation, "malformed SASLInitialResponse")))
    }

    /// BUG: bytes after the declared initial-response length are ignored (ClientStartupStateMachine.swift:136);
    /// PostgreSQL checks the message end (pq_getmsgend) and fails with 08P01 "invalid message format".
    @Test func saslInitialResponseWithTrailingBytesIsProtocolViolation() {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let client = SCRAMClientExchange(password: "secret", clientNonce: "abc")
        var payload = saslInitialResponse(client.clientFirstMessage())
        payload.writeBytes(bytes("junk"))
        #expect(failureState(sm.receivedPassword(payload)) == "08P01")
    }

    @Test(arguments: [
        "p=tls-server-end-point,,n=,r=abc",  // channel binding we never offered
        "n,a=admin,n=,r=abc",                // authzid
        "n,,n=,r=",                          // empty nonce
        "hello",
    ])
    func malformedClientFirstMessageIsProtocolViolation(message: String) {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        #expect(failureState(sm.receivedPassword(saslInitialResponse(bytes(message)))) == "08P01")
    }

    /// BUG: every error from the client-final-message is reported as a wrong password (28P01)
    /// (ClientStartupStateMachine.swift:153-155), though `SCRAMServerExchange` documents 28P01 only for
    /// `.invalidCredentials` and 08P01 otherwise, as PostgreSQL does ("malformed SCRAM message").
    @Test func malformedClientFinalMessageIsProtocolViolation() throws {
        var sm = machine(.scramSHA256, ["alice": UserCredential(stored: .scram(aliceVerifier))])
        _ = sm.received(startup([("user", "alice")]))
        let client = SCRAMClientExchange(password: "secret", clientNonce: "abc")
        _ = try #require(serverFirst(of: sm.receivedPassword(saslInitialResponse(client.clientFirstMessage()))))
        #expect(failureState(sm.receivedPassword(saslResponse(bytes("c=biws,r=wrongnonce,p=AAAA")))) == "08P01")
    }
}
