/// The proxy's side of a client's SASL SCRAM-SHA-256 login, as PostgreSQL runs it (RFC 5802, RFC 7677).
///
/// Feed it the client's `SASLInitialResponse` data, send back the returned server-first-message in
/// `AuthenticationSASLContinue`, feed it the `SASLResponse` data, and send the returned server-final-message in
/// `AuthenticationSASLFinal` — or, if it throws, the error (`28P01` for ``AuthError/Kind/invalidCredentials``,
/// `08P01` otherwise). Like PostgreSQL: channel binding `tls-server-end-point` when the connection is TLS and the
/// client chose `SCRAM-SHA-256-PLUS` (RFC 5929, RFC 9266's rules for the flags), no authorization identity, and
/// the username inside the message is ignored (the startup message's `user` counts; libpq sends it empty).
public struct SCRAMServerExchange: Sendable {
    private enum State: Sendable {
        case awaitingClientFirst
        /// `binding`: what the client-final-message's `c=` must decode to (the GS2 header, plus the channel
        /// binding data when the client uses it).
        case awaitingClientFinal(binding: [UInt8], clientFirstBare: String, serverFirst: String, nonce: String)
        case authenticated
        case failed
    }

    private let verifier: SCRAMVerifier
    private let serverNonce: String
    private var state: State = .awaitingClientFirst
    /// The connection's `tls-server-end-point` data; nil without TLS (then `SCRAM-SHA-256-PLUS` is not offered).
    private let channelBinding: [UInt8]?

    /// - Parameters:
    ///   - verifier: the user's verifier (for a plain-text password, one derived at config load).
    ///   - serverNonce: the server's half of the nonce; random by default, injectable for tests.
    ///   - channelBinding: the TLS connection's `tls-server-end-point` data, when `SCRAM-SHA-256-PLUS` is offered.
    public init(verifier: SCRAMVerifier, serverNonce: String = SCRAM.makeNonce(), channelBinding: [UInt8]? = nil) {
        self.channelBinding = channelBinding
        precondition(SCRAM.isValidNonce(serverNonce[...]), "a SCRAM nonce must be printable ASCII without commas")
        self.verifier = verifier
        self.serverNonce = serverNonce
    }

    /// `true` once the client's proof was accepted.
    public var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// Takes the client-first-message (`n,,n=,r=<nonce>`) and returns the server-first-message
    /// (`r=<client nonce><server nonce>,s=<salt>,i=<iterations>`).
    /// `plus`: the client selected `SCRAM-SHA-256-PLUS`.
    public mutating func receiveClientFirst(_ message: [UInt8], plus: Bool = false) throws(AuthError) -> [UInt8] {
        guard case .awaitingClientFirst = state else {
            state = .failed
            throw .malformed("unexpected SCRAM client-first-message")
        }
        state = .failed
        let text = try message.scramText("client-first-message")
        // gs2-header = gs2-cbind-flag "," [authzid] ","
        let fields = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            throw .malformed("malformed SCRAM client-first-message: missing GS2 header")
        }
        var bindingData: [UInt8] = []
        switch fields[0] {
        case "n":
            guard !plus else { throw .malformed("SCRAM-SHA-256-PLUS selected without channel binding") }
        case "y":
            // The client could bind but thinks we cannot: with TLS we offered PLUS, so someone removed it.
            guard !plus else { throw .malformed("SCRAM-SHA-256-PLUS selected without channel binding") }
            guard self.channelBinding == nil else {
                throw .malformed("SCRAM channel binding negotiation error")
            }
        case "p=tls-server-end-point":
            guard let channelBinding = self.channelBinding else {
                throw AuthError(.unsupported, "SCRAM channel binding needs TLS; connect with sslmode=require "
                                + "(or channel_binding=disable or prefer)")
            }
            guard plus else { throw .malformed("SCRAM channel binding requested without selecting SCRAM-SHA-256-PLUS") }
            bindingData = channelBinding
        case let flag where flag.hasPrefix("p="):
            throw AuthError(.unsupported, "unsupported SCRAM channel binding type \"\(flag.dropFirst(2))\"")
        default:
            throw .malformed("malformed SCRAM client-first-message: unexpected channel binding flag")
        }
        guard fields[1].isEmpty else {
            throw AuthError(.unsupported, "SCRAM authorization identity (authzid) is not supported")
        }
        let bare = fields[2]
        let attributes = try SCRAMAttributes(parsing: bare, what: "client-first-message")
        if attributes.pairs.first?.name == "m" {
            throw AuthError(.unsupported, "SCRAM mandatory extensions are not supported")
        }
        _ = try attributes.require("n", at: 0, in: "client-first-message")
        let clientNonce = try attributes.require("r", at: 1, in: "client-first-message")
        guard SCRAM.isValidNonce(clientNonce) else {
            throw .malformed("malformed SCRAM client-first-message: the nonce must be printable characters")
        }
        let nonce = String(clientNonce) + serverNonce
        let serverFirst = "r=\(nonce),s=\(Base64.encode(verifier.salt)),i=\(verifier.iterations)"
        state = .awaitingClientFinal(
            binding: Array("\(fields[0]),,".utf8) + bindingData, clientFirstBare: String(bare), serverFirst: serverFirst,
            nonce: nonce
        )
        return Array(serverFirst.utf8)
    }

    /// Takes the client-final-message (`c=biws,r=<nonce>,p=<proof>`), checks the proof against the verifier, and
    /// returns the server-final-message (`v=<server signature>`) that proves to the client we know the verifier.
    public mutating func receiveClientFinal(_ message: [UInt8]) throws(AuthError) -> [UInt8] {
        guard case .awaitingClientFinal(let binding, let clientFirstBare, let serverFirst, let nonce) = state else {
            state = .failed
            throw .malformed("unexpected SCRAM client-final-message")
        }
        state = .failed
        let text = try message.scramText("client-final-message")
        let attributes = try SCRAMAttributes(parsing: text[...], what: "client-final-message")
        let channelBinding = try attributes.require("c", at: 0, in: "client-final-message")
        let receivedNonce = try attributes.require("r", at: 1, in: "client-final-message")
        let proofText = try attributes.require("p", at: attributes.pairs.count - 1, in: "client-final-message")
        guard let decoded = Base64.decode(channelBinding), ConstantTime.equals(decoded, binding) else {
            throw .malformed("SCRAM channel binding data does not match the client-first-message")
        }
        guard receivedNonce == nonce else {
            throw .malformed("SCRAM nonce does not match the one of this exchange")
        }
        guard let proof = Base64.decode(proofText), proof.count == 32 else {
            throw .malformed("malformed SCRAM client proof")
        }
        // client-final-message-without-proof is everything before the last ",p=".
        let withoutProof = Substring(text.utf8.dropLast(proofText.utf8.count + 3))
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = SCRAM.hmac(key: verifier.storedKey, authMessage)
        let clientKey = SCRAM.xor(proof, clientSignature)
        guard ConstantTime.equals(SCRAM.hash(clientKey), verifier.storedKey) else {
            throw AuthError(.invalidCredentials, "password authentication failed")
        }
        state = .authenticated
        let serverSignature = SCRAM.hmac(key: verifier.serverKey, authMessage)
        return Array("v=\(Base64.encode(serverSignature))".utf8)
    }
}
