import NIOCore

/// How a server's replies to a client's transaction begin, judged before any of them is relayed: the
/// proxy holds back replies that precede results so it can still send the client's messages elsewhere
/// if the server turns out to be gone (or its cached plan stale).
public enum ReplyOpening: Sendable, Equatable {
    /// Only replies that precede results so far (ParseComplete, BindComplete, CloseComplete, descriptions,
    /// NoData, ParameterStatus, notices), ending at a message boundary: wait for more.
    case preambleOnly
    /// After nothing but preamble, "terminating connection": 57P01 (pg_terminate_backend, shutdown),
    /// 57P02 (crash of another backend) or 57P03 (not accepting connections). The backend went away while
    /// the connection sat idle, or it aborted the first statement before any result: a FATAL ends the
    /// transaction, and a commit that finished would have sent its CommandComplete first.
    case terminated
    /// After nothing but preamble, "cached plan must not change result type" and an idle ReadyForQuery
    /// that ends the buffer: the statement can be prepared again and the messages sent again.
    case stalePlan
    /// Anything else: results have begun (or an ordinary error); relay as usual.
    case answered

    public static func classify(_ buffer: ByteBuffer) -> ReplyOpening {
        var preambleEnd = buffer.readerIndex
        return self.classify(buffer, from: buffer.readerIndex, preambleEnd: &preambleEnd)
    }

    /// Judges `buffer` from `start`, where everything before is known to be preamble; `preambleEnd` is set to
    /// where the preamble ends, so replies held back across reads are scanned once, not from the beginning on
    /// every read (a held stale-plan error waiting for its ReadyForQuery is not preamble, and is judged again).
    public static func classify(_ buffer: ByteBuffer, from start: Int, preambleEnd: inout Int) -> ReplyOpening {
        var index = start
        preambleEnd = start
        while index < buffer.writerIndex {
            guard let frame = try? buffer.peekFrame(at: index) else { return .answered }
            switch frame.id {
            case BackendMessageID.parseComplete, BackendMessageID.bindComplete, BackendMessageID.closeComplete,
                 BackendMessageID.parameterDescription, BackendMessageID.rowDescription, BackendMessageID.noData,
                 BackendMessageID.parameterStatus, BackendMessageID.noticeResponse:
                index = frame.start + frame.totalLength
                preambleEnd = index
            case BackendMessageID.errorResponse:
                guard var body = buffer.getSlice(at: frame.payloadStart, length: frame.payloadLength),
                      let fields = ErrorFields.decode(from: &body) else { return .answered }
                if ["57P01", "57P02", "57P03"].contains(fields.sqlState) { return .terminated }
                guard fields.sqlState == "0A000", fields.message.hasPrefix("cached plan must not change result type") else {
                    return .answered
                }
                // Recoverable only when the failed sync point ends outside a transaction and nothing follows.
                let end = frame.start + frame.totalLength
                guard let ready = try? buffer.peekFrame(at: end) else {
                    return buffer.writerIndex - end < 6 ? .preambleOnly : .answered
                }
                guard ready.id == BackendMessageID.readyForQuery, ready.start + ready.totalLength == buffer.writerIndex,
                      buffer.getInteger(at: ready.payloadStart, as: UInt8.self) == TransactionStatus.idle.rawValue else {
                    return .answered
                }
                return .stalePlan
            default:
                return .answered
            }
        }
        return .preambleOnly
    }
}
