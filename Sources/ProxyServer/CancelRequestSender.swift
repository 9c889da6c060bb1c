import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig

/// Sends a CancelRequest to a backend host: its own short connection (TCP or the server's Unix socket), the
/// 16-byte packet, then a wait for the server to close it, which it does once it has handled the request (at
/// most 5 s). `done` runs on `loop` when it is over, whatever happened.
enum CancelRequestSender {
    static let timeout: UInt64 = 5_000_000_000

    static func send(_ key: BackendKey, to host: HostAndPort, on loop: RelayLoop, done: @escaping () -> Void = {}) {
        let connected: Connector.Completion = { result in
            guard case .success(let descriptor) = result else { return done() }
            let request = CancelConnection(connection: SocketConnection(descriptor: descriptor, loop: loop), done: done)
            var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 16))
            writer.writeCancelRequest(key)
            // 16 bytes always fit an empty socket buffer.
            let sent = writer.buffer.withUnsafeReadableBytes { request.connection.send($0) }
            guard sent else { return request.finish() }
            do { try request.connection.register(handler: request) } catch { return request.finish() }
            request.timer = loop.schedule(in: Self.timeout) { request.finish() }
        }
        Connector.connect(to: host, on: loop, completion: connected)
    }
}

/// One cancel request's connection, waiting for the server to close it.
private final class CancelConnection: EventHandler {
    let connection: SocketConnection
    var timer: RelayLoop.TimerID?
    private var done: (() -> Void)?

    init(connection: SocketConnection, done: @escaping () -> Void) {
        self.connection = connection
        self.done = done
    }

    func handle(_ events: UInt32, on loop: RelayLoop) {
        switch self.connection.receive(into: loop.readBuffer) {
        case .bytes: break  // the server answers nothing; ignore whatever it is
        case .wouldBlock: if events & (RelayLoop.hangup | RelayLoop.error) != 0 { self.finish() }
        case .closed, .failed: self.finish()
        }
    }

    func finish() {
        guard let done else { return }
        self.done = nil
        if let timer { self.connection.loop.cancel(timer) }
        self.connection.close()
        done()
    }
}
