import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig
import ProxySession
import Synchronization

/// TLS towards the server (the backend URL's `sslmode`): an SSLRequest before the StartupMessage, then the
/// handshake on the connection's own socket. The StartupMessage is sent right after the handshake starts; the
/// socket holds it until the handshake is done. The health prober opens its connections here too.
extension ServerConnection {
    /// Sends the SSLRequest when the backend's sslmode asks for TLS. False: go on in plaintext.
    func requestTLSIfConfigured() -> Bool {
        guard self.service.settings.backend.tls.mode != .disable, let socket = self.socket else { return false }
        var request = socket.allocator.buffer(capacity: 8)
        request.writeInteger(UInt32(8))
        request.writeInteger(UInt32(80_877_103))
        self.awaitingTLSAnswer = true
        socket.send(request)
        return true
    }

    /// The server's answer to the SSLRequest: 'S' (handshake), 'N' (plaintext, if sslmode allows it), or an
    /// ErrorResponse from a server that does not know SSLRequest.
    func receivedTLSAnswer(_ buffer: ByteBuffer) {
        guard let socket = self.socket, let answer = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
            return
        }
        self.awaitingTLSAnswer = false
        let tls = self.service.settings.backend.tls
        switch answer {
        case UInt8(ascii: "S"):
            // Bytes after the 'S' came before the handshake: a man in the middle's (CVE-2021-23222).
            guard buffer.readableBytes == 1 else {
                return self.failStartup(.tls("the server sent unencrypted data after accepting SSL"))
            }
            guard let context = BackendTLSContexts.shared.context(for: tls) else {
                return self.failStartup(.tls("no TLS context for sslmode \(tls.mode.rawValue)"))
            }
            do {
                let session = try context.makeSession(descriptor: socket.connection.descriptor, hostName: self.host.host)
                guard socket.connection.startTLS(session) else {
                    return self.failStartup(.tls(session.failureReason ?? "the handshake could not start"))
                }
            } catch {
                return self.failStartup(.tls(error.description))
            }
            self.run(self.startup.connected())
        case UInt8(ascii: "N"):
            guard !tls.mode.requiresTLS else {
                return self.failStartup(.tls("the server does not support SSL, but sslmode=\(tls.mode.rawValue) requires it"))
            }
            guard buffer.readableBytes == 1 else {
                return self.failStartup(.protocolViolation("unexpected data after the server refused SSL"))
            }
            self.run(self.startup.connected())
        default:
            self.failStartup(.tls("the server answered the SSLRequest with \(answer) (not S or N)"))
        }
    }

    /// Hands the established session's channel binding data to the login (channel_binding=require), once.
    func noteServerTLS() {
        guard self.startup.channelBinding == nil, let tls = self.socket?.connection.tls, tls.isEstablished else { return }
        self.startup.channelBinding = tls.serverEndPoint
    }

    /// Why the socket closed during startup: a TLS failure names OpenSSL's reason (a certificate that does not
    /// match the host name, an unknown CA, ...).
    var closedDuringStartupError: any Error {
        if let reason = self.socket?.tlsFailureReason { return ServerStartupError.tls(reason) }
        return ServerConnectionError.closedDuringStartup
    }
}

/// The backend TLS contexts, by settings: loaded with each configuration (so a reload re-reads the files) and
/// published when the configuration is applied.
final class BackendTLSContexts: Sendable {
    static let shared = BackendTLSContexts()
    private let contexts = Mutex<[BackendTLSSettings: TLSContext]>([:])

    func context(for settings: BackendTLSSettings) -> TLSContext? { self.contexts.withLock { $0[settings] } }

    func publish(_ contexts: [BackendTLSSettings: TLSContext]) { self.contexts.withLock { $0 = contexts } }

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
                    caFile: settings.rootCertificateFile, verification: verification)
            } catch {
                throw ConfigError(key: "services.\(name).backend", message: error.description)
            }
        }
        return contexts
    }
}
