#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import PostgresWire
import SchemaRouting

/// The schema-routing step of one client's relay: Query and Parse messages with their table names qualified,
/// built from the bytes in place. It remembers the client's last rewritten message as it came and as it went:
/// drivers send one statement again and again (the extended protocol's Parse of every query), and a repeat is
/// one comparison, not a rewrite. Its buffers are reused for the next rewrite (they are the stage's alone again
/// once the bytes went out).
public struct RewriteStage {
    /// Messages longer than this are rewritten but not remembered (big statements rarely repeat).
    public static let maximumRemembered = 4096

    private var last: RepeatedStatement?
    /// The shape of the client's last statement rewritten from a template (see `SchemaRewriter.ShapeMemo`).
    private var shapeMemo: SchemaRewriter.ShapeMemo?
    /// The unmapped table references of the client's last rewritten statement, counted again when it repeats.
    private var lastUnmapped = UnmappedSlots()

    public init() {}

    /// The statement text at `text` in `buffer` with table names rewritten; nil when it stays as it is.
    public mutating func rewrittenText(
        _ text: Range<Int>, in buffer: ByteBuffer, with rewriter: SchemaRewriter
    ) -> [UInt8]? {
        let outcome = buffer.withBytes(of: text) {
            rewriter.rewrite($0, memo: &self.shapeMemo, unmapped: &self.lastUnmapped)
        }
        guard case .rewritten(let newText) = outcome else { return nil }
        return newText
    }

    /// The Query or Parse message `frame` (with its text at `text`) rewritten; nil when it stays as it is.
    public mutating func rewrittenMessage(
        _ frame: Frame, text: Range<Int>, in buffer: ByteBuffer, with rewriter: SchemaRewriter
    ) -> ByteBuffer? {
        let message = frame.start..<(frame.start + frame.totalLength)
        if let last = self.last, last.rewriter == rewriter.identity,
           buffer.withBytes(of: message, { last.came(as: $0) }) {
            rewriter.countRepeatedRewrite(unmapped: last.unmapped)
            return last.sent
        }
        guard let newText = self.rewrittenText(text, in: buffer, with: rewriter) else { return nil }
        guard message.count <= Self.maximumRemembered else {
            return Self.replacing(text, of: frame, in: buffer, with: newText)
        }
        var memo = self.last ?? RepeatedStatement()
        self.last = nil  // so that clear() below finds the buffers unshared and keeps their storage
        memo.rewriter = rewriter.identity
        memo.unmapped = self.lastUnmapped
        memo.received.clear()
        // A copy: a slice would pin the buffer the read arrived in.
        memo.received.writeImmutableBuffer(buffer.getSlice(at: frame.start, length: message.count)!)
        memo.sent.clear()
        Self.replacing(text, of: frame, in: buffer, with: newText, into: &memo.sent)
        self.last = memo
        return memo.sent
    }

    /// The Query or Parse message `frame` with its text at `text` replaced by `newText`.
    public static func replacing(
        _ text: Range<Int>, of frame: Frame, in buffer: ByteBuffer, with newText: [UInt8]
    ) -> ByteBuffer {
        var message = ByteBuffer()
        message.reserveCapacity(frame.totalLength + newText.count + 16)
        Self.replacing(text, of: frame, in: buffer, with: newText, into: &message)
        return message
    }

    private static func replacing(
        _ text: Range<Int>, of frame: Frame, in buffer: ByteBuffer, with newText: [UInt8],
        into message: inout ByteBuffer
    ) {
        var writer = MessageWriter(buffer: message)
        message = ByteBuffer()  // the writer holds the only reference while it writes
        writer.writeMessage(frame.id) { out in
            if frame.id == FrontendMessageID.parse {
                let name = buffer.getSlice(at: frame.payloadStart, length: text.lowerBound - frame.payloadStart)!
                out.writeImmutableBuffer(name)
            }
            out.writeBytes(newText)
            // The NUL and, for Parse, the parameter type OIDs.
            let end = frame.start + frame.totalLength
            out.writeImmutableBuffer(buffer.getSlice(at: text.upperBound, length: end - text.upperBound)!)
        }
        message = writer.buffer
    }
}

/// A client's last rewritten message: by which rewriter (its `identity`: a reference would keep an old mapping's
/// alive, and count references on an object every thread shares), as it came, as it went.
struct RepeatedStatement {
    var rewriter: UInt64 = 0
    var received = ByteBuffer()
    var sent = ByteBuffer()
    var unmapped = UnmappedSlots()

    init() {
        self.received.reserveCapacity(256)
        self.sent.reserveCapacity(256)
    }

    func came(as message: UnsafeRawBufferPointer) -> Bool {
        self.received.readableBytes == message.count
            && self.received.withUnsafeReadableBytes {
                memcmp($0.baseAddress!, message.baseAddress!, message.count) == 0
            }
    }
}

extension ByteBuffer {
    /// The bytes at absolute indices `range`, without copying them.
    @inlinable
    public func withBytes<T>(of range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        self.withUnsafeReadableBytes { bytes in
            let start = range.lowerBound - self.readerIndex
            return body(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + range.count)]))
        }
    }
}
