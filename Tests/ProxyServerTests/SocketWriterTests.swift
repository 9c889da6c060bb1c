#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Testing
@testable import ProxyServer

/// SocketWriter on a real socket: one end of a Unix socket pair as a NIO channel, the other end read here.
@Suite(.serialized) struct SocketWriterTests {
    final class WritingHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let writer = SocketWriter()
        var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func channelActive(context: ChannelHandlerContext) { self.writer.attach(to: context) }
    }

    struct Pair {
        let channel: Channel
        let handler: WritingHandler
        let peer: CInt
        let group: MultiThreadedEventLoopGroup

        /// Writes `pieces` and flushes once, on the channel's loop; `direct` when the kernel took everything at once.
        func send(_ pieces: [ByteBuffer]) throws -> (direct: Bool, queued: EventLoopFuture<Void>?) {
            try self.channel.eventLoop.submit {
                for piece in pieces { self.handler.writer.write(piece) }
                let queued = self.handler.writer.flush(context: self.handler.context!)
                return (queued == nil, queued)
            }.wait()
        }

        func send(_ chunks: [String]) throws -> (direct: Bool, queued: EventLoopFuture<Void>?) {
            try self.send(chunks.map { ByteBuffer(string: $0) })
        }

        func send(bytes count: Int) throws -> (direct: Bool, queued: EventLoopFuture<Void>?) {
            try self.send([ByteBuffer(repeating: UInt8(ascii: "x"), count: count)])
        }

        /// Everything the peer can read within `seconds` of the last byte, up to `limit`.
        func receive(atMost limit: Int, seconds: Int = 2) -> [UInt8] {
            self.receiveUntilEnd(atMost: limit, seconds: seconds).bytes
        }

        /// Like `receive`, and whether the peer then read end-of-stream (the writer closed), rather than running
        /// out of time or reaching `limit`.
        func receiveUntilEnd(atMost limit: Int, seconds: Int = 2) -> (bytes: [UInt8], ended: Bool) {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            var poller = pollfd(fd: self.peer, events: Int16(POLLIN), revents: 0)
            while received.count < limit, poll(&poller, 1, Int32(seconds * 1000)) > 0 {
                let count = read(self.peer, &chunk, min(chunk.count, limit - received.count))
                if count == 0 { return (received, true) }
                if count < 0 { break }
                received.append(contentsOf: chunk[0..<count])
            }
            return (received, false)
        }

        func close() throws {
            try? self.channel.close().wait()
            Glibc.close(self.peer)
            try self.group.syncShutdownGracefully()
        }
    }

    func makePair(sendBuffer: Int32? = nil) throws -> Pair {
        var fds: [CInt] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        if var size = sendBuffer {
            setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = WritingHandler()
        let channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .withConnectedSocket(fds[0]).wait()
        return Pair(channel: channel, handler: handler, peer: fds[1], group: group)
    }

    @Test func gatheredPiecesGoOutInOrderStraightToTheSocket() throws {
        let pair = try makePair()
        defer { try? pair.close() }
        #expect(try pair.send(["Q", "uery ", "one"]).direct)
        #expect(try pair.send(["; two"]).direct)
        #expect(String(decoding: pair.receive(atMost: 14), as: UTF8.self) == "Query one; two")
    }

    @Test func whatTheKernelCannotTakeGoesToNIOAndLaterBytesQueueBehindIt() throws {
        let pair = try makePair(sendBuffer: 4096)
        defer { try? pair.close() }
        let big = 1 << 20
        let first = try pair.send(bytes: big)
        #expect(!first.direct)  // far more than the socket buffer: NIO has the rest
        // While NIO still holds bytes, a small write must not overtake them.
        let second = try pair.send(["TAIL"])
        #expect(!second.direct)
        let received = pair.receive(atMost: big + 4)
        #expect(received.count == big + 4)
        #expect(received.prefix(big).allSatisfy { $0 == UInt8(ascii: "x") })
        #expect(String(decoding: received.suffix(4), as: UTF8.self) == "TAIL")
        try first.queued?.wait()
        try second.queued?.wait()
        // NIO is done: the short way is open again.
        #expect(try pair.send(["again"]).direct)
        #expect(String(decoding: pair.receive(atMost: 5), as: UTF8.self) == "again")
    }

    @Test func closingWaitsForWhatNIOStillHolds() throws {
        let pair = try makePair(sendBuffer: 4096)
        defer { try? pair.close() }
        let big = 1 << 20
        #expect(try !pair.send(bytes: big).direct)
        // Nothing new gathered, but NIO holds most of the megabyte: the close must come after it.
        try pair.channel.eventLoop.submit { pair.handler.writer.flushAndClose(context: pair.handler.context!) }.wait()
        let (received, ended) = pair.receiveUntilEnd(atMost: big + 1)
        #expect(received.count == big)
        #expect(ended, "the peer read no end-of-stream after the megabyte: the socket was not closed")
    }

    @Test func aClosedChannelsDescriptorIsNeverWritten() throws {
        let pair = try makePair()
        defer { try? pair.close() }
        try pair.channel.close().wait()
        // The descriptor number may already belong to another socket: the write goes to NIO, which refuses it.
        let result = try pair.send(["late"])
        #expect(!result.direct)
        #expect(throws: (any Error).self) { try result.queued?.wait() }
    }
}
