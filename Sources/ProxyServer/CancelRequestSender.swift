import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig

/// Sends a CancelRequest to a backend host: its own short connection (TCP or the server's Unix socket), the
/// 16-byte packet, then close; PostgreSQL answers nothing.
enum CancelRequestSender {
    static func send(_ key: BackendKey, to host: HostAndPort, on loop: RelayLoop, done: @escaping () -> Void = {}) {
        let connected: Connector.Completion = { result in
            guard case .success(let descriptor) = result else { return done() }
            let connection = SocketConnection(descriptor: descriptor, loop: loop)
            var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 16))
            writer.writeCancelRequest(key)
            // 16 bytes always fit an empty socket buffer; the server reads them before it sees the close.
            _ = writer.buffer.withUnsafeReadableBytes { connection.send($0) }
            connection.close()
            done()
        }
        if host.isSocketDirectory {
            Connector.connect(unixPath: host.socketPath, on: loop, completion: connected)
        } else {
            Connector.connect(host: host.host, port: host.port, on: loop, completion: connected)
        }
    }
}
