#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// send(2) rather than write(2): the kernel's socket path without the file layer, and no SIGPIPE.
@inline(__always)
private func systemSend(_ descriptor: CInt, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.send(descriptor, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    Darwin.send(descriptor, bytes, count, 0)
    #endif
}

/// Everything a handler sends on its channel goes through one of these. Bytes are gathered until `flush`,
/// then handed to the kernel with one send(2) on the socket NIO owns, skipping NIO's outbound pipeline and
/// pending-writes queue, a good part of the relay's user-space CPU per transaction (benchmarks/pgbench_compare.md,
/// "Session 3: writing past NIO").
///
/// Whatever the kernel does not take at once (a full socket buffer, an error) goes to NIO, which then owns the
/// order of this channel's bytes: until it reports all of it written, later flushes go through NIO as well.
/// So backpressure (`isWritable`, `channelWritabilityChanged`) and errors (the write fails, the channel closes)
/// behave exactly as with NIO alone; only bytes the kernel accepted at once take the short way.
///
/// The socket is used only on the channel's event loop and only while `channel.isActive`: NIO clears that flag
/// in the same step that closes the descriptor, before any handler code can run, so a descriptor number that
/// the kernel has since given to another connection is never written to.
final class SocketWriter: @unchecked Sendable {  // used on its channel's event loop only
    /// The channel's socket, or nil where the channel has none to offer (tests' embedded channels).
    private var descriptor: CInt?
    private var gathered: ByteBuffer?
    private var moreGathered: [ByteBuffer] = []
    /// Where several gathered pieces are joined; kept, so joining allocates only while NIO holds the last one.
    private var joined: ByteBuffer?
    /// Writes handed to NIO that it has not reported done.
    private var writesQueuedInNIO = 0

    /// Call from `channelActive`.
    func attach(to context: ChannelHandlerContext) {
        guard self.descriptor == nil else { return }
        self.descriptor = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(
            of: NIOBSDSocket.Handle.self
        ) { $0 }
    }

    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        if self.gathered == nil { self.gathered = buffer } else { self.moreGathered.append(buffer) }
    }

    /// Sends what was gathered. Returns a future only when NIO took over part of it: it completes once NIO has
    /// written that part (or failed to); nil means the kernel has all of it.
    @inline(__always)
    @discardableResult
    func flush(context: ChannelHandlerContext) -> EventLoopFuture<Void>? {
        guard var bytes = self.gathered else { return nil }
        self.gathered = nil
        if !self.moreGathered.isEmpty {
            // Several pieces (a rewritten statement between untouched runs): one buffer, one send(2).
            var joined = self.joined ?? context.channel.allocator.buffer(capacity: 512)
            self.joined = nil  // not shared while it is written to, so clear() keeps its storage
            joined.clear()
            joined.writeImmutableBuffer(bytes)
            for piece in self.moreGathered { joined.writeImmutableBuffer(piece) }
            self.moreGathered.removeAll(keepingCapacity: true)
            if joined.capacity <= 65_536 { self.joined = joined }  // a huge statement's buffer is not kept
            bytes = joined
        }
        if self.writesQueuedInNIO == 0, let descriptor = self.descriptor, context.channel.isActive {
            let written = Self.writeNow(bytes, to: descriptor)
            if written == bytes.readableBytes { return nil }
            bytes.moveReaderIndex(forwardBy: written)
        }
        self.writesQueuedInNIO += 1
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(bytes), promise: promise)
        promise.futureResult.whenComplete { _ in self.writesQueuedInNIO -= 1 }
        return promise.futureResult
    }

    /// `write` and `flush`: sends `buffer`, after whatever was gathered before it, now.
    @discardableResult
    func send(_ buffer: ByteBuffer, context: ChannelHandlerContext) -> EventLoopFuture<Void>? {
        self.write(buffer)
        return self.flush(context: context)
    }

    /// Sends what was gathered, then closes the channel once every byte written before has gone out.
    func flushAndClose(context: ChannelHandlerContext) {
        let channel = context.channel
        var last = self.flush(context: context)
        if last == nil, self.writesQueuedInNIO > 0 {
            // Nothing new, but NIO still holds earlier bytes: an empty write completes after them.
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(channel.allocator.buffer(capacity: 0)), promise: promise)
            last = promise.futureResult
        }
        if let last {
            last.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    /// Bytes the kernel accepted now: 0 when it took none (EAGAIN) or failed; the caller hands the rest to NIO,
    /// which then sees the same condition and deals with it as it always does.
    @inline(__always)
    private static func writeNow(_ bytes: ByteBuffer, to descriptor: CInt) -> Int {
        bytes.withUnsafeReadableBytes { pointer in
            while true {
                let result = systemSend(descriptor, pointer.baseAddress, pointer.count)
                if result >= 0 { return result }
                if errno != EINTR { return 0 }
            }
        }
    }
}
