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
    /// Usually the messages of a transaction arrive in one read: one slice, kept without an array.
    private var first: ByteBuffer?
    private var more: [ByteBuffer] = []
    public private(set) var size = 0
    /// A stale cached plan was retried already in this transaction (at most once).
    public var retriedStalePlan = false

    public init(session: TransactionPoolingSession.Snapshot, tracker: TransactionTracker) {
        self.session = session
        self.tracker = tracker
    }

    /// Logs `bytes`; false when the log grew past `maximumSize` and must be given up.
    public mutating func append(_ bytes: ByteBuffer) -> Bool {
        if self.first == nil { self.first = bytes } else { self.more.append(bytes) }
        self.size += bytes.readableBytes
        return self.size <= Self.maximumSize
    }

    /// The logged bytes, then `unread` (what the client sent since, not consumed yet), as one buffer to read again.
    public func bytesToReplay(followedBy unread: ByteBuffer?) -> ByteBuffer {
        var again = ByteBuffer()
        again.reserveCapacity(self.size + (unread?.readableBytes ?? 0))
        if let first = self.first { again.writeImmutableBuffer(first) }
        for part in self.more { again.writeImmutableBuffer(part) }
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
