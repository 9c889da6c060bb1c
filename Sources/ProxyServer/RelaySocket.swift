import DataPlane
import NIOCore
import ProxySession

/// What a `RelaySocket` reports to the connection that owns it; called on the socket's loop.
protocol RelaySocketDelegate: AnyObject, SendableMetatype {
    /// Bytes that arrived (one receive). The buffer may be kept; the socket then reads into a new one.
    func socketRead(_ buffer: ByteBuffer)
    /// The receive above has been handled: time to flush what it produced.
    func socketReadComplete()
    /// The socket's unsent queue crossed its bound (false) or drained below it (true).
    func socketWritabilityChanged(_ writable: Bool)
    /// The socket is closed (by the peer, an error, or `close()`); called once, after the event that closed it.
    func socketClosed()
    /// The first byte the peer sent starts a TLS handshake (direct TLS); only asked when `sniffsDirectTLS` is set.
    func socketBeginsWithTLSHandshake()
}

extension RelaySocketDelegate {
    func socketBeginsWithTLSHandshake() {}
}

/// The I/O shell of one client or server connection on a relay loop: one receive per readiness event (into the
/// loop's buffer, copied once into a `ByteBuffer` the loop's sockets share and reuse while nobody keeps it),
/// writes gathered until `flush` and sent with one send(2), what the kernel does not take queued in the
/// `SocketConnection`.
///
/// Generic over its delegate so the calls into the connection's logic are direct, and the delegate is held
/// unowned(unsafe): the delegate owns this socket, and `delegateOwner` keeps the delegate alive while the loop
/// keeps this socket registered. No reference is counted per message.
final class RelaySocket<Delegate: RelaySocketDelegate>: EventHandler, @unchecked Sendable {  // used on its loop only
    let connection: SocketConnection
    private unowned(unsafe) let delegate: Delegate
    private var delegateOwner: Delegate?
    /// The loop's buffer for received bytes, shared by its sockets: an idle connection holds none.
    unowned(unsafe) let scratch: LoopScratch
    private var gathered: ByteBuffer?
    private var moreGathered: [ByteBuffer] = []
    /// Where several gathered pieces are joined; kept, so joining allocates only while a send still holds it.
    private var joined: ByteBuffer?
    private var reportedUnwritable = false
    private var closeWhenDrained = false
    /// Look at the first byte before reading it: a TLS handshake record (0x16) goes to OpenSSL, not the delegate.
    var sniffsDirectTLS = false
    private(set) var isClosed = false
    /// Shared: an allocator is four function pointers, which every socket would otherwise carry.
    var allocator: ByteBufferAllocator { relaySocketAllocator }

    init(descriptor: CInt, loop: RelayLoop, delegate: Delegate) {
        self.connection = SocketConnection(descriptor: descriptor, loop: loop)
        self.delegate = delegate
        self.delegateOwner = delegate
        self.scratch = LoopScratch.of(loop)
    }

    /// Starts receiving events; on failure the socket is closed (and the delegate told).
    func start() {
        do { try self.connection.register(handler: self) } catch { self.close() }
    }

    var isWritable: Bool { !self.connection.isOverHighWater }

    func setReading(_ on: Bool) {
        self.connection.setReading(on)
    }

    // MARK: Writing

    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        if self.gathered == nil { self.gathered = buffer } else { self.moreGathered.append(buffer) }
    }

    /// Sends what was gathered: one send(2) for all of it.
    @inline(__always)
    func flush() {
        guard var bytes = self.gathered else { return }
        self.gathered = nil
        if !self.moreGathered.isEmpty {
            var joined = self.joined ?? self.allocator.buffer(capacity: 512)
            self.joined = nil  // not shared while it is written to, so clear() keeps its storage
            joined.clear()
            joined.writeImmutableBuffer(bytes)
            for piece in self.moreGathered { joined.writeImmutableBuffer(piece) }
            self.moreGathered.removeAll(keepingCapacity: true)
            bytes = joined
            if joined.capacity <= 65_536 { self.joined = joined }  // a huge statement's buffer is not kept
        }
        let sent = bytes.withUnsafeReadableBytes { self.connection.send($0) }
        guard sent else { return self.close() }
        if !self.reportedUnwritable, self.connection.isOverHighWater {
            self.reportedUnwritable = true
            self.delegate.socketWritabilityChanged(false)
        }
    }

    /// `write` and `flush`.
    func send(_ buffer: ByteBuffer) {
        self.write(buffer)
        self.flush()
    }

    /// Sends what was gathered, then closes once every byte has gone to the kernel.
    func flushAndClose() {
        self.flush()
        guard !self.isClosed else { return }
        // Mid-handshake nothing queued can go (it waits for the handshake): close now.
        if self.connection.queuedBytes == 0 || self.connection.isHandshaking { return self.close() }
        self.closeWhenDrained = true
        self.connection.setReading(false)
    }

    // MARK: Events

    func handle(_ events: UInt32, on loop: DataPlane.EventLoop) {
        if events & RelayLoop.writable != 0 {
            guard self.connection.sendQueued() else { return self.close() }
            if self.connection.queuedBytes == 0, self.closeWhenDrained { return self.close() }
            if self.reportedUnwritable, !self.connection.isOverHighWater {
                self.reportedUnwritable = false
                self.delegate.socketWritabilityChanged(true)
            }
        }
        if events & (RelayLoop.hangup | RelayLoop.error) != 0, !self.connection.isReading {
            return self.close()  // the peer is gone; paused reading would otherwise see this event forever
        }
        // With TLS any event may have made input readable (a handshake finished by a writable event, a read that
        // waited for one), and OpenSSL may hold decrypted bytes the socket will not signal again.
        if self.sniffsDirectTLS, events & (RelayLoop.readable | RelayLoop.hangup | RelayLoop.error) != 0,
           let first = self.connection.peekByte() {
            self.sniffsDirectTLS = false
            if first == 0x16 {
                self.delegate.socketBeginsWithTLSHandshake()
                if self.isClosed { return }
            }
        }
        let tls = self.connection.isTLS
        guard events & (RelayLoop.readable | RelayLoop.hangup | RelayLoop.error) != 0 || tls,
              self.connection.isReading else {
            return
        }
        repeat {
            switch self.connection.receive(into: loop.readBuffer) {
            case .bytes(let count):
                // Reused while no connection keeps it (a partial frame): then clear() gives the loop a new one.
                self.scratch.buffer.clear()
                self.scratch.buffer.writeBytes(UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count]))
                self.delegate.socketRead(self.scratch.buffer)
                if !self.isClosed { self.delegate.socketReadComplete() }
            case .closed:
                return self.close()
            case .failed:
                if tls, let reason = self.connection.tls?.failureReason { self.tlsFailureReason = reason }
                return self.close()
            case .wouldBlock:
                return
            }
        } while tls && !self.isClosed && self.connection.isReading && self.connection.hasBufferedInput
    }

    /// Why TLS failed on this socket (OpenSSL's reason), for the owner's log when it hears `socketClosed`.
    private(set) var tlsFailureReason: String?

    // MARK: Closing

    /// Closes now (queued bytes are dropped); the delegate hears `socketClosed` after the current event, as a
    /// NIO handler heard `channelInactive`, so code that closes and goes on is not re-entered.
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.gathered = nil
        self.moreGathered.removeAll()
        self.connection.close()
        self.connection.loop.execute { [self] in self.reportClosed() }
    }

    private func reportClosed() {
        self.delegate.socketClosed()
        self.delegateOwner = nil
    }
}

private let relaySocketAllocator = ByteBufferAllocator()

/// Per-loop state of the relay's sockets.
final class LoopScratch {
    var buffer = ByteBufferAllocator().buffer(capacity: 4096)
    /// Storage for the replay logs of the loop's clients (see `ReplayLog`).
    var replayBuffers = ReplayBufferPool()

    /// The loop's scratch, made on first use (on the loop).
    static func of(_ loop: RelayLoop) -> LoopScratch {
        if let existing = loop.attachment as? LoopScratch { return existing }
        let made = LoopScratch()
        loop.attachment = made
        return made
    }
}
