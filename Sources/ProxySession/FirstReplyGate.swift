import NIOCore
import PostgresWire

/// The server side of transparent retry: from the start of a lease until results begin, a server connection's
/// replies are judged before any of them reaches the client (`ReplyOpening`). Replies that only precede results
/// (ParseComplete, descriptions, ...) may be held back, bounded, so that the client's messages can still go to
/// another connection if the server turns out to be gone, or be sent again if a cached plan went stale. Once
/// results begin, every read passes through untouched.
public struct FirstReplyGate: Sendable {
    /// Held replies are bounded: past this, they go to the client and no retry is possible.
    public static let maximumHeld = 64 * 1024

    /// Whether the first result is still awaited (reads are judged).
    public private(set) var isJudging = false
    private var held: ByteBuffer?
    /// How much of `held`, from its start, is known to be preamble (scanned once, not on every read).
    private var heldPreambleLength = 0

    public init() {}

    /// A lease begins, or a retry sends the client's messages again on this connection: judge replies again.
    public mutating func begin() {
        self.isJudging = true
        self.held = nil
        self.heldPreambleLength = 0
    }

    public enum Verdict {
        /// Kept back: nothing goes to the client yet.
        case held
        /// The replies so far (held ones first) and how they open: the caller may retry on `.terminated` or
        /// `.stalePlan`, or else relay them and call `resultsBegan()`.
        case judged(ReplyOpening, ByteBuffer)
        /// Results began earlier: relay as it is.
        case pass(ByteBuffer)
    }

    /// A read from the server. `mayHold`: the client can still be retried, and waits for no reply before its
    /// sync point (a Flush would make it wait for held replies).
    @inlinable
    public mutating func received(_ buffer: ByteBuffer, mayHold: Bool) -> Verdict {
        guard self.isJudging else { return .pass(buffer) }
        return self.judge(buffer, mayHold: mayHold)
    }

    @usableFromInline
    mutating func judge(_ buffer: ByteBuffer, mayHold: Bool) -> Verdict {
        var buffer = buffer
        var judged = buffer.readerIndex
        if var held = self.held {
            self.held = nil
            judged = held.readerIndex + self.heldPreambleLength  // only what follows the preamble needs a look
            held.writeImmutableBuffer(buffer)
            buffer = held
        }
        var preambleEnd = judged
        let opening = ReplyOpening.classify(buffer, from: judged, preambleEnd: &preambleEnd)
        if opening == .preambleOnly, mayHold, buffer.readableBytes <= Self.maximumHeld {
            self.held = buffer
            self.heldPreambleLength = preambleEnd - buffer.readerIndex
            return .held
        }
        return .judged(opening, buffer)
    }

    /// The replies were relayed to the client: no retry any more, later reads pass.
    public mutating func resultsBegan() {
        self.isJudging = false
    }
}
