import NIOCore

/// Follows message boundaries in the byte stream a server sends while it is being relayed, without
/// buffering it: the bytes go on to the client untouched, and the scanner only reports the type of each
/// message (and the transaction status of each ReadyForQuery). Frames may be split anywhere across reads.
public struct BackendStreamScanner: Sendable {
    /// Payload bytes of the current message that have not been seen yet.
    private var remaining: Int = 0
    /// A header split across reads: up to 5 bytes collected so far.
    private var partialHeader: UInt64 = 0
    private var partialHeaderCount: Int = 0
    /// A ReadyForQuery header was seen and its status byte has not arrived yet.
    private var awaitingStatus = false
    /// Relay mode: the rest of the current message is dropped.
    private var droppingRemaining = false
    /// Relay mode: the start of a message whose header (and, for ReadyForQuery, status) is incomplete;
    /// held back until it is complete, since its fate depends on its type.
    private var held: ByteBuffer?

    public init() {}

    /// Whether the scanner stands between two messages.
    public var isAtMessageBoundary: Bool {
        self.remaining == 0 && self.partialHeaderCount == 0 && !self.awaitingStatus
    }

    /// Whether the next buffer must go through `relay` whatever the caller's filter says: a message is
    /// being dropped, or a header is held back.
    public var needsRelay: Bool { self.droppingRemaining || self.held != nil }

    /// Scans the readable bytes of `buffer`. `onMessage(id, status)` is called once per message, when its
    /// header is complete; for ReadyForQuery `status` is its transaction status byte, else nil.
    @inlinable
    public mutating func scan(_ buffer: ByteBuffer, onMessage: (UInt8, UInt8?) throws -> Void) throws {
        try self._scan(buffer, onMessage: onMessage)
    }

    @usableFromInline
    mutating func _scan(_ buffer: ByteBuffer, onMessage: (UInt8, UInt8?) throws -> Void) throws {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            if self.awaitingStatus {
                let status = buffer.getInteger(at: index, as: UInt8.self)!
                self.awaitingStatus = false
                try onMessage(BackendMessageID.readyForQuery, status)
                // The status byte is part of the payload; skip the rest of it below.
            }
            if self.remaining > 0 {
                let skip = min(self.remaining, end - index)
                index += skip
                self.remaining -= skip
                continue
            }
            // At a message boundary: fast path when a whole header is in this buffer.
            if self.partialHeaderCount == 0, end - index >= 5 {
                let (id, length) = buffer.getMultipleIntegers(at: index, as: (UInt8, UInt32).self)!
                index += 5
                try self.beginMessage(id: id, length: length, buffer: buffer, index: &index, end: end, onMessage)
                continue
            }
            // Slow path: collect the header byte by byte.
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            index += 1
            self.partialHeader = (self.partialHeader << 8) | UInt64(byte)
            self.partialHeaderCount += 1
            if self.partialHeaderCount == 5 {
                let id = UInt8(truncatingIfNeeded: self.partialHeader >> 32)
                let length = UInt32(truncatingIfNeeded: self.partialHeader)
                self.partialHeader = 0
                self.partialHeaderCount = 0
                try self.beginMessage(id: id, length: length, buffer: buffer, index: &index, end: end, onMessage)
            }
        }
    }

    @inline(__always)
    private mutating func beginMessage(
        id: UInt8, length: UInt32, buffer: ByteBuffer, index: inout Int, end: Int,
        _ onMessage: (UInt8, UInt8?) throws -> Void
    ) throws {
        guard length >= 4, length <= ProtocolLimits.maxMessageLength else {
            throw FrameError.invalidLength(messageID: id, length: Int(length))
        }
        self.remaining = Int(length) - 4
        if id == BackendMessageID.readyForQuery {
            guard self.remaining >= 1 else { throw FrameError.invalidLength(messageID: id, length: Int(length)) }
            if index < end {
                let status = buffer.getInteger(at: index, as: UInt8.self)!
                try onMessage(id, status)
            } else {
                self.awaitingStatus = true
            }
        } else {
            try onMessage(id, nil)
        }
    }

    /// Relay mode: like `scan`, but each message's fate is decided by `decide(id, status)` once its header
    /// (and, for ReadyForQuery, its status byte) is complete, and the bytes to keep are handed to `forward`
    /// as slices, in order. Costs more than `scan` (slices, held-back headers), so callers use it only while
    /// they have something to drop or translate. May follow `scan` mid-message: what `scan` already let
    /// through of a message is let through whole.
    public mutating func relay(
        _ input: ByteBuffer,
        decide: (UInt8, UInt8?) throws -> MessageDisposition,
        forward: (ByteBuffer) -> Void
    ) throws {
        var buffer = input
        if var held = self.held {
            self.held = nil
            held.writeImmutableBuffer(input)
            buffer = held
        }
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        var runStart = index

        // A header `scan` left incomplete was forwarded in part: finish it the same way, a byte at a time.
        while index < end, self.partialHeaderCount > 0 || self.awaitingStatus {
            let step = self.awaitingStatus ? 1 : 5 - self.partialHeaderCount
            let length = min(step, end - index)
            try self._scan(buffer.getSlice(at: index, length: length)!) { id, status in
                _ = try decide(id, status)
            }
            index += length
        }

        while index < end {
            if self.remaining > 0 {
                let skip = min(self.remaining, end - index)
                if self.droppingRemaining {
                    if index > runStart { forward(buffer.getSlice(at: runStart, length: index - runStart)!) }
                    runStart = index + skip
                }
                index += skip
                self.remaining -= skip
                if self.remaining == 0 { self.droppingRemaining = false }
                continue
            }
            let available = end - index
            guard available >= 5 else { break }
            let (id, length) = buffer.getMultipleIntegers(at: index, as: (UInt8, UInt32).self)!
            guard length >= 4, length <= ProtocolLimits.maxMessageLength else {
                throw FrameError.invalidLength(messageID: id, length: Int(length))
            }
            var status: UInt8?
            if id == BackendMessageID.readyForQuery {
                guard length >= 5 else { throw FrameError.invalidLength(messageID: id, length: Int(length)) }
                guard available >= 6 else { break }
                status = buffer.getInteger(at: index + 5, as: UInt8.self)
            }
            switch try decide(id, status) {
            case .forward:
                break
            case .drop:
                if index > runStart { forward(buffer.getSlice(at: runStart, length: index - runStart)!) }
                self.droppingRemaining = true
                runStart = index + 5
            case .translate(let newID):
                if index > runStart { forward(buffer.getSlice(at: runStart, length: index - runStart)!) }
                var header = ByteBufferAllocator().buffer(capacity: 5)
                header.writeMultipleIntegers(newID, length)
                forward(header)
                runStart = index + 5
            }
            index += 5
            self.remaining = Int(length) - 4
            if self.remaining == 0 { self.droppingRemaining = false }
        }
        if index < end {
            // An incomplete header: hold it back until the next read completes it.
            self.held = buffer.getSlice(at: index, length: end - index)
        }
        if index > runStart { forward(buffer.getSlice(at: runStart, length: index - runStart)!) }
    }
}
