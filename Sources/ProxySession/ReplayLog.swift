import NIOCore

/// What a transparent retry needs: the client's bytes since it was last between transactions without a server
/// connection, and the parts of its session (and its transaction tracking) those bytes may have changed. If the
/// server connection lent for them is terminated before answering anything, the session is restored and the
/// bytes are read again, as if they had just arrived, for another connection.
public struct ReplayLog: Sendable {
    /// Past this many bytes (COPY data, huge statements) a retry is given up: the log is not worth its memory.
    public static let maximumSize = 65_536

    public let session: TransactionPoolingSession.Snapshot
    public let tracker: TransactionTracker
    /// The logged bytes, copied: a slice would keep the read buffer the relay's loop reuses, and the loop would
    /// have to allocate another for its next read.
    public private(set) var storage: ByteBuffer
    public var size: Int { self.storage.readableBytes }
    /// A stale cached plan was retried already in this transaction (at most once).
    public var retriedStalePlan = false

    /// `storage`: a buffer to log into (see `ReplayBufferPool`); it is cleared.
    public init(
        session: TransactionPoolingSession.Snapshot, tracker: TransactionTracker, storage: ByteBuffer = ByteBuffer()
    ) {
        self.session = session
        self.tracker = tracker
        self.storage = storage
        // Not clear(): the caller's copy still holds the storage here, and clear() would allocate a new one.
        self.storage.moveReaderIndex(to: 0)
        self.storage.moveWriterIndex(to: 0)
    }

    /// Logs `bytes`; false when the log grew past `maximumSize` and must be given up.
    public mutating func append(_ bytes: ByteBuffer) -> Bool {
        guard self.storage.readableBytes + bytes.readableBytes <= Self.maximumSize else { return false }
        self.storage.writeImmutableBuffer(bytes)
        return true
    }

    /// The logged bytes, then `unread` (what the client sent since, not consumed yet), as one buffer to read again.
    public func bytesToReplay(followedBy unread: ByteBuffer?) -> ByteBuffer {
        var again = ByteBuffer()
        again.reserveCapacity(self.size + (unread?.readableBytes ?? 0))
        again.writeImmutableBuffer(self.storage)
        if let unread { again.writeImmutableBuffer(unread) }
        return again
    }

    /// An empty log from the same starting point (the bytes are read again and logged anew).
    public var emptied: ReplayLog {
        var log = ReplayLog(session: self.session, tracker: self.tracker)
        log.retriedStalePlan = self.retriedStalePlan
        return log
    }
}

/// Buffers for replay logs, kept for reuse by one event loop's clients: a client needs one only from its first
/// message between transactions until the server starts answering, so a few serve a whole loop, and a replay log
/// costs no allocation in the steady state. Used on its loop only.
public struct ReplayBufferPool {
    /// At most this many are kept, each of at most `maximumKeptCapacity` bytes.
    public static let maximumKept = 256
    public static let maximumKeptCapacity = 16 * 1024

    private var spare: [ByteBuffer] = []

    public init() {}

    public var count: Int { self.spare.count }

    public mutating func take() -> ByteBuffer {
        self.spare.popLast() ?? ByteBuffer()
    }

    /// Keeps `buffer` for `take` (when not full, and the buffer is not a big statement's).
    public mutating func giveBack(_ buffer: ByteBuffer) {
        guard self.spare.count < Self.maximumKept, buffer.capacity > 0,
              buffer.capacity <= Self.maximumKeptCapacity else { return }
        self.spare.append(buffer)
    }
}
