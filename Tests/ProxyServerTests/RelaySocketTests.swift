#if canImport(Glibc)
import Glibc
#endif
import DataPlane
import NIOCore
@testable import ProxyServer
import Testing

private func socketPair() -> (CInt, CInt) {
    var descriptors: [CInt] = [0, 0]
    precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &descriptors) == 0)
    return (descriptors[0], descriptors[1])
}

/// Reads what is there now; returns false at end-of-stream.
@discardableResult
private func drain(_ descriptor: CInt, into bytes: inout [UInt8]) -> Bool {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        guard count > 0 else { return true }
        bytes += chunk.prefix(count)
    }
}

private final class Recorder: RelaySocketDelegate {
    var socket: RelaySocket<Recorder>!
    var received: [UInt8] = []
    var readCompletes = 0
    var writability: [Bool] = []
    var closed = 0

    func socketRead(_ buffer: ByteBuffer) { self.received += buffer.readableBytesView }
    func socketReadComplete() { self.readCompletes += 1 }
    func socketWritabilityChanged(_ writable: Bool) { self.writability.append(writable) }
    func socketClosed() { self.closed += 1 }

    /// A recorder whose socket runs on `loop`; `sendBuffer` shrinks the kernel's send buffer so writes queue.
    static func started(on descriptor: CInt, loop: RelayLoop, sendBuffer: CInt? = nil) -> Recorder {
        if var size = sendBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        let recorder = Recorder()
        recorder.socket = RelaySocket(descriptor: descriptor, loop: loop, delegate: recorder)
        recorder.socket.start()
        return recorder
    }
}

private func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    return buffer
}

@Suite struct RelaySocketTests {
    @Test func gatheredPiecesGoOutInOrderOnFlushAndReadsReachTheDelegate() throws {
        let loop = try RelayLoop()
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let recorder = Recorder.started(on: mine, loop: loop)

        recorder.socket.write(buffer([1, 2]))
        recorder.socket.write(buffer([3]))
        recorder.socket.write(buffer([4, 5, 6]))
        var atPeer: [UInt8] = []
        drain(theirs, into: &atPeer)
        #expect(atPeer.isEmpty, "nothing leaves before flush")
        recorder.socket.flush()
        drain(theirs, into: &atPeer)
        #expect(atPeer == [1, 2, 3, 4, 5, 6])

        let query: [UInt8] = Array("Q\u{0}\u{0}\u{0}\u{5}".utf8)
        _ = query.withUnsafeBytes { send(theirs, $0.baseAddress, $0.count, 0) }
        for _ in 0..<100 where recorder.received.count < query.count { loop.runOnce(timeoutMilliseconds: 10) }
        #expect(recorder.received == query)
        #expect(recorder.readCompletes == 1)
        recorder.socket.close()
        loop.runOnce(timeoutMilliseconds: 10)
        #expect(recorder.closed == 1)
    }

    @Test func aSlowPeerTurnsTheSocketUnwritableUntilItReads() throws {
        let loop = try RelayLoop()
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let recorder = Recorder.started(on: mine, loop: loop, sendBuffer: 4096)

        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        recorder.socket.send(buffer(big))
        #expect(recorder.writability == [false])
        #expect(!recorder.socket.isWritable)
        var atPeer: [UInt8] = []
        for _ in 0..<100_000 where atPeer.count < big.count {
            drain(theirs, into: &atPeer)
            loop.runOnce(timeoutMilliseconds: 5)
        }
        #expect(atPeer == big)
        #expect(recorder.writability == [false, true])
        recorder.socket.close()
    }

    @Test func flushAndCloseClosesOnlyOnceEveryQueuedByteHasGone() throws {
        let loop = try RelayLoop()
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let recorder = Recorder.started(on: mine, loop: loop, sendBuffer: 4096)

        let big = [UInt8](repeating: 0x45, count: 1 << 20)
        recorder.socket.write(buffer(big))
        recorder.socket.flushAndClose()
        #expect(!recorder.socket.isClosed, "a megabyte is still queued")
        var atPeer: [UInt8] = []
        var open = true
        for _ in 0..<100_000 where open {
            open = drain(theirs, into: &atPeer)
            loop.runOnce(timeoutMilliseconds: 5)
        }
        #expect(!open, "the peer reads end-of-stream")
        #expect(atPeer.count == big.count, "after every byte")
        #expect(recorder.closed == 1)
    }

    @Test func aPeerThatClosesIsReportedOnce() throws {
        let loop = try RelayLoop()
        let (mine, theirs) = socketPair()
        let recorder = Recorder.started(on: mine, loop: loop)
        close(theirs)
        for _ in 0..<100 where recorder.closed == 0 { loop.runOnce(timeoutMilliseconds: 10) }
        #expect(recorder.closed == 1)
        #expect(recorder.socket.isClosed)
        recorder.socket.send(buffer([1]))  // harmless after the close
        loop.runOnce(timeoutMilliseconds: 10)
        #expect(recorder.closed == 1)
    }
}
