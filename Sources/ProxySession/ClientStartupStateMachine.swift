import NIOCore
import PostgresWire
import ProxyAuth

/// A client connecting to the proxy: encryption requests, the StartupMessage, and authentication
/// against `auth.users`, up to the moment the client is known and may be attached to a service.
public struct ClientStartupStateMachine: Sendable {
    /// What an SSLRequest gets, and whether a plaintext client may log in (`client_tls.mode`).
    public enum EncryptionPolicy: Sendable, Equatable {
        /// Answer `N` (no TLS configured).
        case refuse
        /// Answer `S` and start TLS; plaintext clients may log in too.
        case allow
        /// Answer `S`; a StartupMessage that did not come over TLS is refused with 28000.
        case require
    }

    public enum AuthenticationRequest: Sendable, Equatable {
        case md5(salt: [UInt8])
        case sasl(mechanisms: [String])
        case saslContinue([UInt8])
    }

    public enum Action: Sendable, Equatable {
        /// Answer an SSLRequest or GSSENCRequest with the single byte 'N' and wait for the real startup.
        case refuseEncryption
        /// Answer an SSLRequest with 'S' and start the TLS handshake; any plaintext byte that followed the request
        /// is a protocol violation, never data.
        case acceptEncryption
        /// A CancelRequest: forward it and close the connection without a reply.
        case cancel(BackendKey)
        /// Tell the client which protocol options we do not support (before anything else).
        case negotiateProtocolVersion(newestMinor: UInt32, unsupportedOptions: [String])
        case requestAuthentication(AuthenticationRequest)
        /// Authentication succeeded. `saslFinal` (SCRAM server signature) goes out before AuthenticationOk.
        case authenticated(user: String, database: String, startup: StartupMessage, saslFinal: [UInt8]?)
        /// Send this error and close the connection.
        case fail(ErrorFields)
    }

    enum State: Sendable {
        case awaitingStartup(sslRefused: Bool, gssRefused: Bool)
        case awaitingMD5(StartupMessage, user: String, database: String, salt: [UInt8])
        case awaitingSCRAMFirst(StartupMessage, user: String, database: String, exchange: SCRAMServerExchange)
        case awaitingSCRAMFinal(StartupMessage, user: String, database: String, exchange: SCRAMServerExchange)
        case done
    }

    private var state: State = .awaitingStartup(sslRefused: false, gssRefused: false)
    private let method: LoginMethod
    private let credentials: [String: UserCredential]
    private let random: @Sendable (Int) -> [UInt8]
    private let unknownUserSecret: [UInt8]
    private let encryption: EncryptionPolicy
    /// The connection is TLS from here on (after `acceptEncryption`).
    public private(set) var isEncrypted = false
    /// The CN of the client's verified certificate, set by the connection once the handshake is done.
    public var clientCertificateName: String?
    /// The TLS connection's `tls-server-end-point` data, set by the connection once the handshake is done:
    /// `SCRAM-SHA-256-PLUS` is offered with it.
    public var channelBinding: [UInt8]?
    /// The client began with a TLS ClientHello, without an SSLRequest (PostgreSQL 17's `sslnegotiation=direct`).
    public private(set) var isDirectTLS = false
    /// The handshake agreed on ALPN `postgresql`, which direct TLS requires; set by the connection.
    public var negotiatedPostgresALPN = false

    /// The connection started TLS directly (a ClientHello as its first bytes): only allowed where TLS is
    /// configured, before anything else.
    public mutating func directTLSStarted() -> Bool {
        guard self.encryption != .refuse, case .awaitingStartup(false, false) = self.state else { return false }
        self.state = .awaitingStartup(sslRefused: true, gssRefused: false)
        self.isEncrypted = true
        self.isDirectTLS = true
        return true
    }

    /// Drawn once per process: an unknown user must be offered the same salt at every attempt, as a real
    /// user is, or the salt would tell who exists.
    public static let processUnknownUserSecret = SCRAM.randomBytes(count: 32)

    /// `credentials` maps user names to what `auth.users` holds; `random` gives n random bytes (salts, nonces).
    public init(
        method: LoginMethod, credentials: [String: UserCredential],
        random: @escaping @Sendable (Int) -> [UInt8] = { SCRAM.randomBytes(count: $0) },
        unknownUserSecret: [UInt8] = ClientStartupStateMachine.processUnknownUserSecret,
        encryption: EncryptionPolicy = .refuse
    ) {
        self.encryption = encryption
        self.unknownUserSecret = unknownUserSecret
        self.method = method
        self.credentials = credentials
        self.random = random
    }

    public var isAwaitingStartupPacket: Bool {
        if case .awaitingStartup = self.state { return true }
        return false
    }

    public mutating func received(_ request: StartupRequest) -> [Action] {
        guard case .awaitingStartup(let sslRefused, let gssRefused) = self.state else {
            return [self.fail(.protocolViolation, "unexpected startup packet")]
        }
        switch request {
        case .sslRequest:
            guard !sslRefused else { return [self.fail(.protocolViolation, "SSL requested twice")] }
            self.state = .awaitingStartup(sslRefused: true, gssRefused: gssRefused)
            guard self.encryption != .refuse else { return [.refuseEncryption] }
            self.isEncrypted = true
            return [.acceptEncryption]
        case .gssEncryptionRequest:
            guard !gssRefused else { return [self.fail(.protocolViolation, "GSS encryption requested twice")] }
            self.state = .awaitingStartup(sslRefused: sslRefused, gssRefused: true)
            return [.refuseEncryption]
        case .cancel(let key):
            self.state = .done
            return [.cancel(key)]
        case .startup(let startup):
            guard let user = startup.user, !user.isEmpty else {
                return [self.fail(.invalidAuthorizationSpecification, "no PostgreSQL user name specified in startup packet")]
            }
            let database = startup.database ?? user
            if self.isDirectTLS, !self.negotiatedPostgresALPN {
                return [self.fail(.protocolViolation, "direct TLS connection without ALPN \"postgresql\"")]
            }
            if self.encryption == .require, !self.isEncrypted {
                return [self.fail(.invalidAuthorizationSpecification,
                                  "TLS is required for user \"\(user)\" (client_tls.mode require); connect with sslmode=require")]
            }
            var actions: [Action] = []
            if startup.minorVersion > 0 || !startup.protocolOptions.isEmpty {
                actions.append(.negotiateProtocolVersion(newestMinor: 0, unsupportedOptions: startup.protocolOptions))
            }
            actions.append(self.beginAuthentication(startup, user: user, database: database))
            return actions
        }
    }

    private mutating func beginAuthentication(_ startup: StartupMessage, user: String, database: String) -> Action {
        let credential = self.credentials[user]
        switch self.method {
        case .trust:
            // With trust, an empty users list admits anyone; otherwise the user must be listed.
            guard credential != nil || self.credentials.isEmpty else { return self.passwordFailed(user) }
            self.state = .done
            return .authenticated(user: user, database: database, startup: startup, saslFinal: nil)
        case .md5:
            // As PostgreSQL does: a user whose stored secret is a SCRAM verifier can only use SCRAM.
            if case .scram = credential?.stored {
                return self.beginSCRAM(startup, user: user, database: database, credential: credential)
            }
            let salt = self.random(4)
            self.state = .awaitingMD5(startup, user: user, database: database, salt: salt)
            return .requestAuthentication(.md5(salt: salt))
        case .scramSHA256:
            return self.beginSCRAM(startup, user: user, database: database, credential: credential)
        case .cert:
            // The handshake checked the certificate against the CA; its CN must name the user.
            guard self.isEncrypted, let name = self.clientCertificateName, name == user,
                  credential != nil || self.credentials.isEmpty else {
                return self.fail(.invalidAuthorizationSpecification,
                                 "certificate authentication failed for user \"\(user)\"")
            }
            self.state = .done
            return .authenticated(user: user, database: database, startup: startup, saslFinal: nil)
        }
    }

    private mutating func beginSCRAM(
        _ startup: StartupMessage, user: String, database: String, credential: UserCredential?
    ) -> Action {
        // Unknown users (and md5-only secrets) get a full exchange against a random verifier, so the reply
        // does not reveal whether the user exists.
        let verifier = credential?.scramVerifier ?? SCRAMVerifier.unknownUser(user, secret: self.unknownUserSecret)
        let binding = self.isEncrypted ? self.channelBinding : nil
        let exchange = SCRAMServerExchange(verifier: verifier, serverNonce: Base64.encode(self.random(18)),
                                           channelBinding: binding)
        self.state = .awaitingSCRAMFirst(startup, user: user, database: database, exchange: exchange)
        // As PostgreSQL: the PLUS variant first, when the connection can bind.
        return .requestAuthentication(.sasl(mechanisms: binding == nil ? ["SCRAM-SHA-256"]
                                                                       : ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]))
    }

    /// A PasswordMessage / SASLInitialResponse / SASLResponse payload (after the 'p' and length).
    public mutating func receivedPassword(_ payload: ByteBuffer) -> Action {
        var payload = payload
        switch self.state {
        case .awaitingMD5(let startup, let user, let database, let salt):
            guard let response = payload.readNullTerminatedString() else {
                return self.fail(.protocolViolation, "malformed password message")
            }
            guard let credential = self.credentials[user],
                  credential.stored.verifyMD5(response: response, user: user, salt: salt) else {
                return self.passwordFailed(user)
            }
            self.state = .done
            return .authenticated(user: user, database: database, startup: startup, saslFinal: nil)
        case .awaitingSCRAMFirst(let startup, let user, let database, var exchange):
            guard let mechanism = payload.readNullTerminatedString(),
                  let length = payload.readInteger(as: Int32.self) else {
                return self.fail(.protocolViolation, "malformed SASLInitialResponse")
            }
            let plus = mechanism == "SCRAM-SHA-256-PLUS" && self.isEncrypted && self.channelBinding != nil
            guard mechanism == "SCRAM-SHA-256" || plus else {
                return self.fail(.protocolViolation, "client selected an invalid SASL authentication mechanism")
            }
            guard length >= 0, let data = payload.readBytes(length: Int(length)), payload.readableBytes == 0 else {
                return self.fail(.protocolViolation, "malformed SASLInitialResponse")
            }
            do {
                let serverFirst = try exchange.receiveClientFirst(data, plus: plus)
                self.state = .awaitingSCRAMFinal(startup, user: user, database: database, exchange: exchange)
                return .requestAuthentication(.saslContinue(serverFirst))
            } catch {
                return self.fail(.protocolViolation, "malformed SCRAM message: \(error)")
            }
        case .awaitingSCRAMFinal(let startup, let user, let database, var exchange):
            let data = payload.readBytes(length: payload.readableBytes) ?? []
            do {
                let serverFinal = try exchange.receiveClientFinal(data)
                guard self.credentials[user] != nil else { return self.passwordFailed(user) }
                self.state = .done
                return .authenticated(user: user, database: database, startup: startup, saslFinal: serverFinal)
            } catch where error.kind == .invalidCredentials {
                return self.passwordFailed(user)
            } catch {
                return self.fail(.protocolViolation, "malformed SCRAM message: \(error)")
            }
        case .awaitingStartup, .done:
            return self.fail(.protocolViolation, "unexpected password message")
        }
    }

    private mutating func passwordFailed(_ user: String) -> Action {
        let what = self.method == .trust ? "authentication" : "password authentication"
        return self.fail(.invalidPassword, "\(what) failed for user \"\(user)\"")
    }

    private mutating func fail(_ state: SQLState, _ message: String) -> Action {
        self.state = .done
        return .fail(.fatal(state, message))
    }
}
