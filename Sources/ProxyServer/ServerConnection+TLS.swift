import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig
import ProxySession
import Synchronization

/// TLS towards the server (the backend URL's `sslmode`): an SSLRequest before the StartupMessage when the attempt
/// asks for it (`ServerTLSNegotiation` decides), then the handshake on the connection's own socket. The
/// StartupMessage is sent right after the handshake starts; the socket holds it until the handshake is done. The
/// health prober opens its connections here too.
extension ServerConnection {
    func run(_ action: ServerTLSNegotiation.Action) {
        guard let socket = self.socket else { return }
        switch action {
        case .sendSSLRequest:
            var writer = MessageWriter(buffer: socket.allocator.buffer(capacity: 8))
            writer.writeSSLRequest()
            socket.send(writer.buffer)
        case .startHandshake:
            // The settings this connection logs in with, not the service's current ones (a reload may be under way).
            let settings = self.backend.tls
            if let failure = BackendTLSContexts.startHandshake(on: socket.connection, host: self.host,
                                                                settings: settings) {
                return self.failStartup(.tls(failure))
            }
            self.run(self.startup.connected())
        case .proceedInPlaintext:
            self.run(self.startup.connected())
        case .fail(let reason):
            self.failStartup(.tls(reason))
        }
    }

    /// Once the handshake is done (the server's first bytes over TLS): checks ALPN for direct TLS, and hands the
    /// channel binding data to the login (channel_binding=require). False when the connection must not go on; then
    /// it is closed. The StartupMessage went out already (it waited in the socket for the handshake), but nothing
    /// the server asks for is answered before this check.
    func noteServerTLS() -> Bool {
        guard self.tlsNegotiation.isHandshaking, let tls = self.socket?.connection.tls, tls.isEstablished else {
            return true
        }
        if let failure = self.tlsNegotiation.handshakeCompleted(negotiatedALPN: tls.negotiatedPostgresALPN) {
            self.failStartup(.tls(failure))
            return false
        }
        self.startup.channelBinding = tls.serverEndPoint
        return true
    }

    /// Why the socket closed during startup: a TLS failure names OpenSSL's reason (a certificate that does not
    /// match the host name, an unknown CA, ...).
    var closedDuringStartupError: any Error {
        if let reason = self.socket?.tlsFailureReason { return ServerStartupError.tls(reason) }
        return ServerConnectionError.closedDuringStartup
    }

    /// How this attempt failed, for the choice of a second one (libpq's `allow` and `prefer`): nil when no second
    /// attempt could help.
    func tlsAttemptFailure(_ error: any Error) -> ServerTLSAttemptFailure? {
        switch error {
        case ServerStartupError.tls, ServerConnectionError.closedDuringStartup:
            return self.tlsNegotiation.isHandshaking ? .handshakeFailed : nil
        case ServerStartupError.serverError where !self.startup.isAuthenticated:
            return .refusedBeforeAuthentication(overTLS: self.tlsNegotiation.isEstablished)
        default:
            return nil
        }
    }
}

extension BackendTLSSettings {
    /// libpq's rules for this sslmode (the certificate checks are the context's).
    var policy: ServerTLSPolicy {
        switch self.mode {
        case .disable: return .disable
        case .allow: return .allow
        case .prefer: return .prefer
        case .require, .verifyCA, .verifyFull: return self.directNegotiation ? .requireDirect : .require
        }
    }
}

/// The backend TLS contexts, by settings: loaded with each configuration (so a reload re-reads the files) and
/// published when the configuration is applied.
final class BackendTLSContexts: Sendable {
    static let shared = BackendTLSContexts()
    private let contexts = Mutex<[BackendTLSSettings: TLSContext]>([:])

    func context(for settings: BackendTLSSettings) -> TLSContext? { self.contexts.withLock { $0[settings] } }

    func publish(_ contexts: [BackendTLSSettings: TLSContext]) { self.contexts.withLock { $0 = contexts } }

    /// Starts the TLS handshake towards `host` on `connection` with the context for `settings`: the one way pool
    /// connections, health probes and cancel requests start TLS. Returns the reason when it cannot start.
    static func startHandshake(on connection: SocketConnection, host: HostAndPort,
                               settings: BackendTLSSettings) -> String? {
        guard let context = Self.shared.context(for: settings) else {
            return "no TLS context for sslmode \(settings.mode.rawValue)"
        }
        do {
            let session = try context.makeSession(descriptor: connection.descriptor, hostName: host.host)
            guard connection.startTLS(session) else { return session.failureReason ?? "the handshake could not start" }
        } catch {
            return error.description
        }
        return nil
    }

    /// One context per distinct settings of the configuration's services.
    static func load(_ configuration: ProxyConfiguration) throws(ConfigError) -> [BackendTLSSettings: TLSContext] {
        var contexts: [BackendTLSSettings: TLSContext] = [:]
        for (name, service) in configuration.services.sorted(by: { $0.key < $1.key }) {
            let settings = service.backend.tls
            guard settings.mode != .disable, contexts[settings] == nil else { continue }
            let verification: TLSPeerVerification
            switch settings.mode {
            case .verifyCA: verification = .chain
            case .verifyFull: verification = .chainAndHost
            default: verification = .none
            }
            do {
                contexts[settings] = try TLSContext(
                    role: .client, certificateFile: settings.certificateFile, keyFile: settings.keyFile,
                    caFile: settings.rootCertificateFile, verification: verification, keyPassword: settings.keyPassword,
                    crlFile: settings.crlFile, crlDirectory: settings.crlDirectory)
            } catch {
                throw ConfigError(key: "services.\(name).backend", message: error.description)
            }
        }
        return contexts
    }
}
