import Testing
@testable import ProxyAuth

/// SCRAM-SHA-256-PLUS with tls-server-end-point data (RFC 5929): the client's `c=` carries the GS2 header and
/// the binding data, and the proof covers both.
@Suite struct SCRAMChannelBindingTests {
    private let binding: [UInt8] = Array(1...32)
    private let verifier = SCRAMVerifier.make(password: "pencil", salt: Array(1...16), iterations: 4096)

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The client side of a bound exchange, computed here from the RFC's formulas.
    private func clientFinal(serverFirst: String, clientFirstBare: String, cbindInput: [UInt8]) -> String {
        let nonce = String(serverFirst.split(separator: ",")[0].dropFirst(2))
        let withoutProof = "c=\(Base64.encode(cbindInput)),r=\(nonce)"
        let authMessage = "\(clientFirstBare),\(serverFirst),\(withoutProof)"
        let salted = SCRAM.saltedPassword(password: "pencil", salt: Array(1...16), iterations: 4096)
        let clientKey = SCRAM.clientKey(saltedPassword: salted)
        let signature = SCRAM.hmac(key: SCRAM.hash(clientKey), Array(authMessage.utf8))
        return "\(withoutProof),p=\(Base64.encode(SCRAM.xor(clientKey, signature)))"
    }

    @Test func boundLoginSucceedsAndWrongBindingDataFails() throws {
        let header = "p=tls-server-end-point,,"
        var server = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        let serverFirst = String(decoding: try server.receiveClientFirst(bytes(header + "n=,r=abc"), plus: true),
                                 as: UTF8.self)
        let final = clientFinal(serverFirst: serverFirst, clientFirstBare: "n=,r=abc",
                                cbindInput: bytes(header) + binding)
        _ = try server.receiveClientFinal(bytes(final))
        #expect(server.isAuthenticated)

        // a man in the middle terminates TLS with another certificate: its hash differs
        var other = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        let otherFirst = String(decoding: try other.receiveClientFirst(bytes(header + "n=,r=abc"), plus: true),
                                as: UTF8.self)
        let forged = clientFinal(serverFirst: otherFirst, clientFirstBare: "n=,r=abc",
                                 cbindInput: bytes(header) + Array(repeating: 9, count: 32))
        #expect(throws: AuthError.self) { try other.receiveClientFinal(bytes(forged)) }
        #expect(!other.isAuthenticated)
    }

    @Test func negotiationRules() {
        // "y" over TLS: the client thinks we cannot bind, though we offered PLUS (a downgrade)
        var downgraded = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        #expect(throws: AuthError.self) { try downgraded.receiveClientFirst(bytes("y,,n=,r=abc")) }
        // PLUS chosen but no binding asked for, or binding asked for under the plain mechanism
        var plusWithoutBinding = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        #expect(throws: AuthError.self) { try plusWithoutBinding.receiveClientFirst(bytes("n,,n=,r=abc"), plus: true) }
        var bindingWithoutPlus = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        #expect(throws: AuthError.self) {
            try bindingWithoutPlus.receiveClientFirst(bytes("p=tls-server-end-point,,n=,r=abc"))
        }
        var unknownType = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        #expect(throws: AuthError.self) { try unknownType.receiveClientFirst(bytes("p=tls-unique,,n=,r=abc"), plus: true) }
        // "n" over TLS with the plain mechanism is fine (channel_binding=disable)
        var plain = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        #expect(throws: Never.self) { try plain.receiveClientFirst(bytes("n,,n=,r=abc")) }
    }

    @Test func theProxysClientSideBindsAndOurServerSideAcceptsIt() throws {
        var server = SCRAMServerExchange(verifier: verifier, channelBinding: binding)
        var client = SCRAMClientExchange(password: "pencil", channelBinding: binding)
        #expect(String(decoding: client.clientFirstMessage(), as: UTF8.self).hasPrefix("p=tls-server-end-point,,"))
        let serverFirst = try server.receiveClientFirst(client.clientFirstMessage(), plus: true)
        let serverFinal = try server.receiveClientFinal(try client.receiveServerFirst(serverFirst))
        try client.verifyServerFinal(serverFinal)
        #expect(server.isAuthenticated)

        // bound to another certificate than the server's: refused
        var otherServer = SCRAMServerExchange(verifier: verifier, channelBinding: Array(repeating: 0, count: 32))
        var otherClient = SCRAMClientExchange(password: "pencil", channelBinding: binding)
        let otherFirst = try otherServer.receiveClientFirst(otherClient.clientFirstMessage(), plus: true)
        let otherFinal = try otherClient.receiveServerFirst(otherFirst)
        #expect(throws: AuthError.self) { try otherServer.receiveClientFinal(otherFinal) }
    }
}
