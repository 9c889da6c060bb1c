import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig
import ProxySession

/// Sends a CancelRequest to a backend host on a short connection of its own (TCP or the server's Unix socket), with
/// the backend's TLS settings as the pool's connections use them (`CancelRequestStateMachine` decides; this is its
/// I/O shell). `done` runs on `loop` when it is over, whatever happened; the whole request takes at most 5 s.
enum CancelRequestSender {
    static let timeout: UInt64 = 5_000_000_000

    static func send(_ key: BackendKey, to host: HostAndPort, tls: BackendTLSSettings, on loop: RelayLoop,
                     log: @escaping (String) -> Void = { _ in }, done: @escaping () -> Void = {}) {
        let machine = CancelRequestStateMachine(policy: tls.policy, overUnixSocket: host.isSocketDirectory,
                                                settingText: "sslmode=\(tls.mode.rawValue)")
        let request = CancelConnection(key: key, host: host, tls: tls, loop: loop, machine: machine, log: log,
                                       done: done)
        request.timer = loop.schedule(in: Self.timeout) { request.run(request.machine.timedOut()) }
        request.run(machine.start())
    }
}

/// One cancel request's connection(s): runs the machine's actions on a `SocketConnection`.
private final class CancelConnection: EventHandler {
    let key: BackendKey
    let host: HostAndPort
    let tls: BackendTLSSettings
    unowned(unsafe) let loop: RelayLoop
    var machine: CancelRequestStateMachine
    var timer: RelayLoop.TimerID?
    private var connection: SocketConnection?
    private var connector: Connector?
    private let log: (String) -> Void
    private var done: (() -> Void)?

    init(key: BackendKey, host: HostAndPort, tls: BackendTLSSettings, loop: RelayLoop,
         machine: CancelRequestStateMachine, log: @escaping (String) -> Void, done: @escaping () -> Void) {
        self.key = key
        self.host = host
        self.tls = tls
        self.loop = loop
        self.machine = machine
        self.log = log
        self.done = done
    }

    func run(_ action: CancelRequestStateMachine.Action) {
        switch action {
        case .connect:
            self.connection?.close()
            self.connection = nil
            self.connector = Connector.connect(to: self.host, on: self.loop) { result in
                self.connector = nil
                switch result {
                case .success(let descriptor):
                    let connection = SocketConnection(descriptor: descriptor, loop: self.loop)
                    self.connection = connection
                    do { try connection.register(handler: self) } catch {
                        return self.run(self.machine.connectFailed("\(error)"))
                    }
                    self.run(self.machine.connected())
                case .failure(let error):
                    self.run(self.machine.connectFailed("\(error)"))
                }
            }
        case .sendSSLRequest:
            var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 8))
            writer.writeSSLRequest()
            self.send(writer.buffer)
        case .startHandshake:
            guard let connection else { return }
            if let failure = BackendTLSContexts.startHandshake(on: connection, host: self.host, settings: self.tls) {
                return self.run(self.machine.handshakeFailed(failure))
            }
            self.noteHandshakeProgress()
        case .sendCancelRequest:
            var writer = MessageWriter(buffer: ByteBufferAllocator().buffer(capacity: 16))
            writer.writeCancelRequest(self.key)
            self.send(writer.buffer)
        case .wait:
            break
        case .finish(let failure):
            self.finish(failure)
        }
    }

    private func send(_ buffer: ByteBuffer) {
        guard let connection else { return }
        let sent = buffer.withUnsafeReadableBytes { connection.send($0) }
        if !sent { self.run(self.machine.closed()) }
    }

    /// The handshake may finish on any event (or at once): tell the machine when it has.
    private func noteHandshakeProgress() {
        guard let tls = self.connection?.tls, tls.isEstablished, !(self.connection?.isHandshaking ?? true) else {
            return
        }
        self.run(self.machine.handshakeCompleted(negotiatedALPN: tls.negotiatedPostgresALPN))
    }

    func handle(_ events: UInt32, on loop: RelayLoop) {
        guard let connection else { return }
        let wasHandshaking = connection.isHandshaking
        if events & RelayLoop.writable != 0, !connection.sendQueued() {
            return self.connectionEnded(connection)
        }
        if wasHandshaking { self.noteHandshakeProgress() }
        guard self.connection === connection, !connection.isClosed else { return }
        let result = connection.receive(into: loop.readBuffer)
        if wasHandshaking, self.connection === connection { self.noteHandshakeProgress() }
        guard self.connection === connection else { return }
        switch result {
        case .bytes(let count):
            var bytes = ByteBufferAllocator().buffer(capacity: count)
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count]))
            self.run(self.machine.received(bytes))
        case .wouldBlock:
            if events & (RelayLoop.hangup | RelayLoop.error) != 0 { self.connectionEnded(connection) }
        case .closed, .failed:
            self.connectionEnded(connection)
        }
    }

    /// The server closed the connection, or it failed: during the handshake that is the handshake failing.
    private func connectionEnded(_ connection: SocketConnection) {
        if let tls = connection.tls, !tls.isEstablished {
            return self.run(self.machine.handshakeFailed(tls.failureReason ?? "the server closed the connection"))
        }
        self.run(self.machine.closed())
    }

    func finish(_ failure: String?) {
        guard let done else { return }
        self.done = nil
        if let timer { self.loop.cancel(timer) }
        self.connector?.cancel()
        self.connector = nil
        self.connection?.close()
        self.connection = nil
        if let failure { self.log(failure) }
        done()
    }
}
