#if canImport(Glibc)
import Glibc
#endif

/// One non-blocking stream socket on an event loop: receives into the loop's buffer, sends straight to the kernel,
/// and queues only what the kernel does not take, asking the loop for a writable event until it has gone.
///
/// `receive` and `send` are the only places that touch the descriptor's bytes. After `startTLS` a `TLSSession`
/// sits there (SSL_read/SSL_write on the same descriptor), with the rest of the data plane unchanged; a plaintext
/// connection pays one nil check per call for it.
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
    /// TLS, once started; nil for plaintext.
    public private(set) var tls: TLSSession?
    /// True from `startTLS` until the handshake is done: what is sent meanwhile waits in the queue.
    private var handshaking = false
    /// What the handshake waits for (readable or writable), which is then the whole interest.
    private var handshakeWants: UInt32 = 0
    /// An SSL_read needed the socket writable: the next writable event lets the owner read again.
    private var tlsReadWantsWrite = false

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
        if let tls = self.tls { return self.receiveTLS(tls, into: buffer) }
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

    /// The next byte the socket will give, without taking it; nil when none has arrived (or the peer closed).
    public func peekByte() -> UInt8? {
        var byte: UInt8 = 0
        let result = recv(self.descriptor, &byte, 1, Int32(MSG_PEEK))
        return result == 1 ? byte : nil
    }

    /// Stops or resumes readable events (backpressure from the peer this connection's bytes go to).
    public func setReading(_ on: Bool) {
        guard self.readingWanted != on else { return }
        self.readingWanted = on
        self.updateInterest()
    }

    public var isReading: Bool { self.readingWanted }

    // MARK: TLS

    /// Starts TLS on this connection (after the plaintext SSLRequest exchange): the handshake begins now and
    /// advances on each event; bytes sent before it is done are queued and go encrypted after it. Returns false if
    /// bytes are still queued in plaintext or the handshake failed at once.
    public func startTLS(_ session: TLSSession) -> Bool {
        guard self.tls == nil, self.queue.isEmpty, !self.isClosed else { return false }
        self.tls = session
        self.handshaking = true
        let step = self.advanceHandshake(session)
        return step != .failed && step != .closed
    }

    /// Bytes OpenSSL has already taken from the socket but not handed out: the owner receives again now, as the
    /// loop will not signal them.
    public var hasBufferedInput: Bool { self.tls?.hasBufferedInput ?? false }

    public var isTLS: Bool { self.tls != nil }

    /// TLS started and its handshake not finished.
    public var isHandshaking: Bool { self.handshaking }

    private func advanceHandshake(_ tls: TLSSession) -> TLSSession.Step {
        let step = tls.handshake()
        switch step {
        case .done:
            self.handshaking = false
            self.handshakeWants = 0
            if !self.queue.isEmpty { _ = self.sendQueued() }  // a failure shows again at the next receive
        case .wantRead: self.handshakeWants = EventLoop.readable
        case .wantWrite: self.handshakeWants = EventLoop.writable
        case .closed, .failed: break
        }
        self.updateInterest()
        return step
    }

    private func receiveTLS(_ tls: TLSSession, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        if self.handshaking {
            switch self.advanceHandshake(tls) {
            case .done: break
            case .wantRead, .wantWrite: return .wouldBlock
            case .closed: return .closed
            case .failed: return .failed(EPROTO)
            }
        }
        if self.tlsReadWantsWrite {
            self.tlsReadWantsWrite = false
            self.updateInterest()
        }
        // Several records may fit the buffer; OpenSSL hands out one per call.
        var total = 0
        reading: while total < buffer.count {
            let (count, step) = tls.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if count > 0 {
                total += count
                continue
            }
            switch step {
            case .done, .wantRead: break reading
            case .wantWrite:
                self.tlsReadWantsWrite = true
                self.updateInterest()
                break reading
            case .closed: if total == 0 { return .closed }
            case .failed: if total == 0 { return .failed(EPROTO) }
            }
            break reading
        }
        return total > 0 ? .bytes(total) : .wouldBlock
    }

    // MARK: Sending

    /// Sends `bytes` after anything queued: what the kernel takes now goes now, the rest is queued and the loop
    /// asked for a writable event. Returns false if the socket failed (the owner closes the connection).
    @discardableResult
    @inline(__always)
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !self.isClosed else { return false }
        guard bytes.count > 0 else { return true }
        guard self.queue.isEmpty, !self.handshaking else {
            self.queue.append(bytes)
            self.updateInterest()
            return true
        }
        switch self.sendNow(bytes) {
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
        if self.handshaking, let tls = self.tls {
            let step = self.advanceHandshake(tls)
            return step != .failed && step != .closed
        }
        guard !self.queue.isEmpty else {
            self.updateInterest()
            return true
        }
        let result = self.queue.withQueuedBytes { self.sendNow($0) }
        switch result {
        case .bytes(let sent): self.queue.consume(sent)
        case .wouldBlock: break
        case .closed, .failed: return false
        }
        self.updateInterest()
        return true
    }

    @inline(__always)
    private func sendNow(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        if let tls = self.tls {
            let (count, step) = tls.write(bytes)
            if count > 0 { return .bytes(count) }
            switch step {
            case .done, .wantRead, .wantWrite: return .wouldBlock
            case .closed, .failed: return .failed(EPROTO)
            }
        }
        while true {
            let result = Glibc.send(self.descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
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
        if self.handshaking {
            interest = self.handshakeWants
        } else {
            if self.readingWanted { interest |= EventLoop.readable }
            if !self.queue.isEmpty || self.tlsReadWantsWrite { interest |= EventLoop.writable }
        }
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
        self.tls?.shutdown()
        self.tls = nil
        Glibc.close(self.descriptor)
    }
}
