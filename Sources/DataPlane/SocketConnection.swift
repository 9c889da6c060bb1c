#if canImport(Glibc)
import Glibc
#endif

/// One non-blocking stream socket on an event loop: receives into the loop's buffer, sends straight to the kernel,
/// and queues only what the kernel does not take, asking the loop for a writable event until it has gone.
///
/// `receive` and `send` are the only places that touch the descriptor's bytes. A TLS session will sit there
/// (SSL_read/SSL_write on the same descriptor), with the rest of the data plane unchanged.
///
/// Backpressure is the owner's decision, made from `isOverHighWater`: while this connection's queue is over the
/// bound, the owner stops reading the peer whose bytes it relays here, and resumes when `sendQueued()` reports it
/// drained below the bound.
public final class SocketConnection {
    public let descriptor: CInt
    public unowned(unsafe) let loop: EventLoop
    public private(set) var token: EventLoop.Token?
    private var queue = OutboundQueue()
    private var interest: UInt32 = EventLoop.readable
    private var readingWanted = true
    /// Queued bytes above which the owner should stop feeding this connection.
    public var highWater = 256 * 1024
    public private(set) var isClosed = false

    /// Takes ownership of `descriptor` (made non-blocking here); closed by `close()`.
    public init(descriptor: CInt, loop: EventLoop) {
        self.descriptor = descriptor
        self.loop = loop
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0, flags & O_NONBLOCK == 0 { _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
    }

    deinit {
        if !self.isClosed { Glibc.close(self.descriptor) }
    }

    /// Starts receiving events for `handler` (the connection's owner).
    public func register(handler: any EventHandler) throws(DataPlaneError) {
        self.token = try self.loop.register(self.descriptor, handler: handler, interest: self.interest)
    }

    public var queuedBytes: Int { self.queue.count }
    public var isOverHighWater: Bool { self.queue.count > self.highWater }

    // MARK: Receiving

    /// One receive into `buffer` (normally the loop's `readBuffer`).
    @inline(__always)
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let result = recv(self.descriptor, buffer.baseAddress, buffer.count, 0)
            if result > 0 { return .bytes(result) }
            if result == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno)
            }
        }
    }

    /// Stops or resumes readable events (backpressure from the peer this connection's bytes go to).
    public func setReading(_ on: Bool) {
        guard self.readingWanted != on else { return }
        self.readingWanted = on
        self.updateInterest()
    }

    public var isReading: Bool { self.readingWanted }

    // MARK: Sending

    /// Sends `bytes` after anything queued: what the kernel takes now goes now, the rest is queued and the loop
    /// asked for a writable event. Returns false if the socket failed (the owner closes the connection).
    @discardableResult
    @inline(__always)
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !self.isClosed else { return false }
        guard bytes.count > 0 else { return true }
        guard self.queue.isEmpty else {
            self.queue.append(bytes)
            return true
        }
        switch Self.sendNow(self.descriptor, bytes) {
        case .bytes(let sent) where sent == bytes.count:
            return true
        case .bytes(let sent):
            self.queue.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        case .wouldBlock:
            self.queue.append(bytes)
        case .closed, .failed:
            return false
        }
        self.updateInterest()
        return true
    }

    /// On a writable event: sends what is queued. Returns false if the socket failed.
    public func sendQueued() -> Bool {
        guard !self.queue.isEmpty else {
            self.updateInterest()
            return true
        }
        let result = self.queue.withQueuedBytes { Self.sendNow(self.descriptor, $0) }
        switch result {
        case .bytes(let sent): self.queue.consume(sent)
        case .wouldBlock: break
        case .closed, .failed: return false
        }
        self.updateInterest()
        return true
    }

    @inline(__always)
    private static func sendNow(_ descriptor: CInt, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let result = Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if result >= 0 { return result == 0 ? .wouldBlock : .bytes(result) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno)
            }
        }
    }

    private func updateInterest() {
        var interest: UInt32 = 0
        if self.readingWanted { interest |= EventLoop.readable }
        if !self.queue.isEmpty { interest |= EventLoop.writable }
        guard interest != self.interest else { return }
        self.interest = interest
        if let token { self.loop.setInterest(token, interest) }
    }

    // MARK: Closing

    /// Deregisters and closes the descriptor now; queued bytes are dropped.
    public func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        if let token { self.loop.deregister(token) }
        self.token = nil
        Glibc.close(self.descriptor)
    }
}
