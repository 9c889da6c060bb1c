import NIOConcurrencyHelpers
import NIOCore
import PostgresWire

/// Maps the BackendKeyData the proxy gave each client to that client, so a CancelRequest (which arrives
/// on a new connection) reaches the server connection currently serving exactly that client.
final class CancelRegistry: @unchecked Sendable {
    private let lock = NIOLock()
    private var clients: [BackendKey: ClientConnectionHandler] = [:]

    /// A fresh key with a random secret; the process id part is random too, so keys do not reveal counts.
    func makeKey() -> BackendKey {
        BackendKey(processID: Int32.random(in: 1...Int32.max), secretKey: Int32.random(in: Int32.min...Int32.max))
    }

    /// A key with a given process ID (session pooling: the real one of the server connection the client keeps)
    /// and a random secret of the proxy's own, so the server's secret never leaves the proxy.
    func makeKey(processID: Int32) -> BackendKey {
        BackendKey(processID: processID, secretKey: Int32.random(in: Int32.min...Int32.max))
    }

    func register(_ client: ClientConnectionHandler) {
        self.lock.withLock { self.clients[client.proxyKey] = client }
    }

    func unregister(_ client: ClientConnectionHandler) {
        self.lock.withLock {
            if self.clients[client.proxyKey] === client { self.clients[client.proxyKey] = nil }
        }
    }

    /// Forwards a cancel for `key` to the server connection serving that client, if any. Unknown keys are
    /// ignored silently, as PostgreSQL does. The server connection stays out of the pool until the server has
    /// handled the cancel (it closes the cancel connection after signalling the backend), so a statement that
    /// ends meanwhile cannot hand the cancel to the next client of that connection.
    func cancel(_ key: BackendKey, runtime: ProxyRuntime) {
        guard let client = self.lock.withLock({ self.clients[key] }) else { return }
        client.eventLoop.execute {
            guard let server = client.server, let serverKey = server.backendKey else { return }
            server.cancelStarted()
            let service = server.service
            let host = server.host
            let log = { (reason: String) in
                service.logger.info("cancel request failed", metadata: [
                    "service": "\(service.name)", "host": "\(host)", "reason": "\(reason)",
                ])
            }
            // The TLS settings the connection logged in with: the server expects its cancel the same way.
            CancelRequestSender.send(serverKey, to: host, tls: server.backend.tls, on: server.eventLoop,
                                     log: log) { server.cancelFinished() }
        }
    }
}
