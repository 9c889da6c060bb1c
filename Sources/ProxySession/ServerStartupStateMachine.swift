import NIOCore
import PostgresWire
import ProxyAuth

/// The proxy logging in to a real PostgreSQL server: StartupMessage, then whatever authentication the
/// server asks for (trust, cleartext, md5, SCRAM-SHA-256), then ParameterStatus/BackendKeyData until the
/// first ReadyForQuery. Events are the server's messages; actions say what to send or how it ended.
///
/// With `learnSearchPath` the login goes one step further: `SHOW search_path`, whose answer (the server's own
/// search_path, which PostgreSQL 15 does not report in a ParameterStatus) comes with `.ready`.
public struct ServerStartupStateMachine: Sendable {
    public struct Login: Sendable {
        public var user: String
        public var password: String?
        public var database: String
        /// Extra startup parameters (application_name, search_path, options, ...).
        public var parameters: [(name: String, value: String)]
        /// libpq's `require_auth`: the methods a server may ask for (`password`, `md5`, `scram-sha-256`, `none`
        /// for no authentication at all); nil allows any. `requireAuthText` is the setting as written, for errors.
        public var allowedMethods: Set<String>?
        public var requireAuthText: String
        /// `channel_binding=require`: only SCRAM-SHA-256-PLUS bound to the TLS connection will do.
        public var requireChannelBinding: Bool
        /// Ask the server for its search_path once logged in (`search_path: auto` before it is known).
        public var learnSearchPath: Bool

        public init(user: String, password: String?, database: String, parameters: [(name: String, value: String)],
                    allowedMethods: Set<String>? = nil, requireAuthText: String = "",
                    requireChannelBinding: Bool = false, learnSearchPath: Bool = false) {
            self.learnSearchPath = learnSearchPath
            self.requireChannelBinding = requireChannelBinding
            self.allowedMethods = allowedMethods
            self.requireAuthText = requireAuthText
            self.user = user
            self.password = password
            self.database = database
            self.parameters = parameters
        }
    }

    public enum Outbound: Sendable, Equatable {
        case startup([String])  // flattened name, value, name, value...
        case password(String)
        case saslInitialResponse(mechanism: String, data: [UInt8])
        case saslResponse([UInt8])
        /// A simple Query (the proxy's own, answered before the login counts as done).
        case query(String)
    }

    /// The query that learns the server's own search_path.
    public static let searchPathQuery = "SHOW search_path"

    public enum Action: Sendable, Equatable {
        case send(Outbound)
        case wait
        /// Logged in: the server's run-time parameters (in the order received) and its cancel key; with
        /// `learnSearchPath`, the server's search_path as `SHOW search_path` printed it.
        case ready(parameters: [ServerParameter], backendKey: BackendKey?, searchPath: String? = nil)
        case fail(ServerStartupError)
    }

    enum State: Sendable {
        case initial
        case waitingForAuthentication
        case scram(SCRAMClientExchange, sentFinal: Bool)
        /// The server proved it knows the password (SASLFinal verified); only AuthenticationOk may follow.
        case scramVerified
        case waitingForReady
        /// `SHOW search_path` went out; `value` is its row once it came.
        case learningSearchPath(value: String?)
        case done
    }

    private var state: State = .initial
    private let login: Login
    private var parameters: [ServerParameter] = []
    private var backendKey: BackendKey?
    /// The server asked for a password or SASL: an AuthenticationOk now ends that exchange (it is not `none`).
    private var authenticationRequested = false
    /// The server accepted the credentials (AuthenticationOk came): an error from now on is not a refused login.
    public private(set) var isAuthenticated = false
    /// The TLS connection's `tls-server-end-point` data (the server certificate's hash), set by the connection once
    /// its handshake is done; used with `channel_binding=require`.
    public var channelBinding: [UInt8]?
    private let makeNonce: @Sendable () -> String

    public init(login: Login, makeNonce: @escaping @Sendable () -> String = { SCRAM.makeNonce() }) {
        self.login = login
        self.makeNonce = makeNonce
    }

    public mutating func connected() -> Action {
        guard case .initial = self.state else { return .fail(.protocolViolation("connected twice")) }
        self.state = .waitingForAuthentication
        var flat = ["user", self.login.user, "database", self.login.database]
        for (name, value) in self.login.parameters { flat += [name, value] }
        return .send(.startup(flat))
    }

    /// Feed one complete message from the server (type byte and payload, without the length).
    public mutating func received(_ id: UInt8, payload: ByteBuffer) -> Action {
        var payload = payload
        switch id {
        case BackendMessageID.errorResponse:
            self.state = .done
            let fields = ErrorFields.decode(from: &payload)
            return .fail(.serverError(fields ?? ErrorFields.fatal(.connectionFailure, "unreadable error from server")))
        case BackendMessageID.noticeResponse, BackendMessageID.negotiateProtocolVersion:
            return .wait
        case BackendMessageID.authentication:
            return self.receivedAuthentication(&payload)
        case BackendMessageID.parameterStatus:
            guard let name = payload.readNullTerminatedString(), let value = payload.readNullTerminatedString() else {
                return self.violation("malformed ParameterStatus")
            }
            self.parameters.append(ServerParameter(name: name, value: value))
            return .wait
        case BackendMessageID.backendKeyData:
            guard let (pid, secret) = payload.readMultipleIntegers(as: (Int32, Int32).self) else {
                return self.violation("malformed BackendKeyData")
            }
            self.backendKey = BackendKey(processID: pid, secretKey: secret)
            return .wait
        case BackendMessageID.readyForQuery:
            switch self.state {
            case .waitingForReady where self.login.learnSearchPath:
                self.state = .learningSearchPath(value: nil)
                return .send(.query(Self.searchPathQuery))
            case .waitingForReady:
                self.state = .done
                return .ready(parameters: self.parameters, backendKey: self.backendKey)
            case .learningSearchPath(let value):
                guard let value else { return self.violation("SHOW search_path returned no row") }
                self.state = .done
                return .ready(parameters: self.parameters, backendKey: self.backendKey, searchPath: value)
            default:
                return self.violation("ReadyForQuery before authentication")
            }
        case BackendMessageID.rowDescription, BackendMessageID.commandComplete:
            guard case .learningSearchPath = self.state else {
                return self.violation("unexpected message type \(id) during startup")
            }
            return .wait
        case BackendMessageID.dataRow:
            guard case .learningSearchPath(value: nil) = self.state else {
                return self.violation("unexpected message type \(id) during startup")
            }
            guard payload.readInteger(as: Int16.self) == 1, let length = payload.readInteger(as: Int32.self),
                  length >= 0, let value = payload.readString(length: Int(length)) else {
                return self.violation("malformed row for SHOW search_path")
            }
            self.state = .learningSearchPath(value: value)
            return .wait
        default:
            return self.violation("unexpected message type \(id) during startup")
        }
    }

    private mutating func receivedAuthentication(_ payload: inout ByteBuffer) -> Action {
        guard let code = payload.readInteger(as: UInt32.self) else { return self.violation("empty Authentication") }
        if let refusal = self.refusedByRequireAuth(code) { return refusal }
        // channel_binding=require: anything but the SCRAM exchange (a password, md5, or no authentication) is refused.
        if self.login.requireChannelBinding, case .waitingForAuthentication = self.state, code != 10 {
            self.state = .done
            return .fail(.unsupportedAuthentication(
                "channel_binding=require, but the server asked for authentication request \(code) instead of SCRAM"))
        }
        switch (code, self.state) {
        case (0, .waitingForAuthentication), (0, .scramVerified):
            self.state = .waitingForReady
            self.isAuthenticated = true
            return .wait
        case (3, .waitingForAuthentication):
            guard let password = self.login.password else { return .fail(.passwordRequired) }
            return .send(.password(password))
        case (5, .waitingForAuthentication):
            guard let password = self.login.password else { return .fail(.passwordRequired) }
            guard let salt = payload.readBytes(length: 4) else { return self.violation("md5 request without salt") }
            return .send(.password(MD5Password.response(user: self.login.user, password: password, salt: salt)))
        case (10, .waitingForAuthentication):
            var mechanisms: [String] = []
            while let mechanism = payload.readNullTerminatedString(), !mechanism.isEmpty { mechanisms.append(mechanism) }
            guard let password = self.login.password else { return .fail(.passwordRequired) }
            if self.login.requireChannelBinding {
                guard mechanisms.contains("SCRAM-SHA-256-PLUS"), let binding = self.channelBinding else {
                    self.state = .done
                    return .fail(.unsupportedAuthentication(
                        "channel_binding=require, but the server offered \(mechanisms.joined(separator: ","))"
                        + (self.channelBinding == nil ? " and the connection has no TLS certificate to bind to" : "")))
                }
                let exchange = SCRAMClientExchange(password: password, clientNonce: self.makeNonce(),
                                                   channelBinding: binding)
                self.state = .scram(exchange, sentFinal: false)
                return .send(.saslInitialResponse(mechanism: "SCRAM-SHA-256-PLUS", data: exchange.clientFirstMessage()))
            }
            guard mechanisms.contains("SCRAM-SHA-256") else { return .fail(.unsupportedAuthentication(mechanisms.joined(separator: ","))) }
            let exchange = SCRAMClientExchange(password: password, clientNonce: self.makeNonce())
            self.state = .scram(exchange, sentFinal: false)
            return .send(.saslInitialResponse(mechanism: "SCRAM-SHA-256", data: exchange.clientFirstMessage()))
        case (11, .scram(var exchange, sentFinal: false)):
            do {
                let final = try exchange.receiveServerFirst(payload.readBytes(length: payload.readableBytes) ?? [])
                self.state = .scram(exchange, sentFinal: true)
                return .send(.saslResponse(final))
            } catch {
                self.state = .done
                return .fail(.authenticationFailed("\(error)"))
            }
        case (12, .scram(let exchange, sentFinal: true)):
            do {
                try exchange.verifyServerFinal(payload.readBytes(length: payload.readableBytes) ?? [])
                self.state = .scramVerified
                return .wait  // AuthenticationOk follows
            } catch {
                self.state = .done
                return .fail(.authenticationFailed("server signature did not verify: \(error)"))
            }
        default:
            return .fail(.unsupportedAuthentication("authentication request \(code)"))
        }
    }

    /// `require_auth`: a request for a method not allowed ends the login before any password is sent. An
    /// AuthenticationOk with no authentication before it is the method `none`.
    private mutating func refusedByRequireAuth(_ code: UInt32) -> Action? {
        guard let allowed = self.login.allowedMethods, case .waitingForAuthentication = self.state else { return nil }
        let method: String
        let what: String
        switch code {
        case 0:
            guard !self.authenticationRequested else { return nil }
            (method, what) = ("none", "no authentication")
        case 3: (method, what) = ("password", "a cleartext password")
        case 5: (method, what) = ("md5", "an md5 password")
        case 10: (method, what) = ("scram-sha-256", "SASL (SCRAM-SHA-256)")
        case 7, 8: (method, what) = ("gss", "GSSAPI")
        case 9: (method, what) = ("sspi", "SSPI")
        default: return nil
        }
        guard !allowed.contains(method) else {
            self.authenticationRequested = true
            return nil
        }
        self.state = .done
        return .fail(.unsupportedAuthentication(
            "require_auth=\(self.login.requireAuthText): the server asked for \(what) (\(method))"))
    }

    private mutating func violation(_ message: String) -> Action {
        self.state = .done
        return .fail(.protocolViolation(message))
    }
}

public struct ServerParameter: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

public enum ServerStartupError: Error, Sendable, Equatable, CustomStringConvertible {
    case serverError(ErrorFields)
    case passwordRequired
    case unsupportedAuthentication(String)
    case authenticationFailed(String)
    case protocolViolation(String)
    /// TLS towards the server failed or was refused (the backend URL's sslmode).
    case tls(String)

    public var description: String {
        switch self {
        case .tls(let why): return "TLS: \(why)"
        case .serverError(let fields): return "server refused the connection: \(fields.message) (\(fields.sqlState))"
        case .passwordRequired: return "server asked for a password but the backend URL has none"
        case .unsupportedAuthentication(let what): return "unsupported server authentication: \(what)"
        case .authenticationFailed(let why): return "server authentication failed: \(why)"
        case .protocolViolation(let why): return "protocol violation from server: \(why)"
        }
    }
}
