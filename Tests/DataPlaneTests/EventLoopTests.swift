#if canImport(Glibc)
import Glibc
#endif
import DataPlane
import Synchronization
import Testing

/// A connected pair of non-blocking Unix stream sockets.
private func socketPair() -> (CInt, CInt) {
    var descriptors: [CInt] = [0, 0]
    let result = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &descriptors)
    precondition(result == 0)
    return (descriptors[0], descriptors[1])
}

/// Reads what is there now from a non-blocking descriptor.
private func drain(_ descriptor: CInt, into bytes: inout [UInt8]) {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return }
        bytes += chunk.prefix(count)
    }
}

/// Relays what arrives on `connection` to `peer` (when set), or keeps it; sends queued bytes when writable.
private final class Pump: EventHandler {
    let connection: SocketConnection
    var peer: SocketConnection?
    var received: [UInt8] = []
    var sawClose = false

    init(_ connection: SocketConnection) {
        self.connection = connection
    }

    func handle(_ events: UInt32, on loop: EventLoop) {
        if events & EventLoop.writable != 0 { _ = self.connection.sendQueued() }
        guard events & (EventLoop.readable | EventLoop.hangup) != 0 else { return }
        switch self.connection.receive(into: loop.readBuffer) {
        case .bytes(let count):
            let bytes = UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count])
            if let peer { peer.send(bytes) } else { self.received += bytes }
        case .closed:
            self.sawClose = true
            self.connection.close()
        case .wouldBlock, .failed:
            break
        }
    }
}

private func pattern(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
}

@Suite struct EventLoopTests {
    @Test func partialWritesAreQueuedInOrderAndSentWhenThePeerReads() throws {
        let loop = try EventLoop()
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        var small: CInt = 4096
        setsockopt(mine, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<CInt>.size))
        let connection = SocketConnection(descriptor: mine, loop: loop)
        let pump = Pump(connection)
        try connection.register(handler: pump)

        let payload = pattern(1 << 20)
        payload.withUnsafeBytes { #expect(connection.send($0)) }
        #expect(connection.queuedBytes > 0, "a 1 MiB send cannot fit a 4 KiB socket buffer")
        #expect(connection.isOverHighWater)
        // A second send must not overtake the queued bytes.
        let tail = pattern(1000).reversed().map { $0 }
        tail.withUnsafeBytes { #expect(connection.send($0)) }

        // The peer does not read: the queue stays, the loop does not spin on it.
        let queued = connection.queuedBytes
        loop.runOnce(timeoutMilliseconds: 0)
        #expect(connection.queuedBytes == queued)

        var received: [UInt8] = []
        for _ in 0..<100_000 where received.count < payload.count + tail.count {
            drain(theirs, into: &received)
            loop.runOnce(timeoutMilliseconds: 10)
        }
        #expect(received.count == payload.count + tail.count)
        #expect(received == payload + tail)
        #expect(connection.queuedBytes == 0)
        #expect(!connection.isOverHighWater)
        connection.close()
    }

    @Test func bytesAreRelayedBetweenTwoConnectionsAndACloseIsSeen() throws {
        let loop = try EventLoop()
        let (clientOuter, clientInner) = socketPair()
        let (serverInner, serverOuter) = socketPair()
        defer { close(clientOuter); close(serverOuter) }
        let client = Pump(SocketConnection(descriptor: clientInner, loop: loop))
        let server = Pump(SocketConnection(descriptor: serverInner, loop: loop))
        client.peer = server.connection
        server.peer = client.connection
        try client.connection.register(handler: client)
        try server.connection.register(handler: server)
        #expect(loop.registrationCount == 2)

        /// Sends `bytes` into one outer end and collects what the loop relays to the other.
        func relayed(_ bytes: [UInt8], from sender: CInt, to receiver: CInt) -> [UInt8] {
            _ = bytes.withUnsafeBytes { send(sender, $0.baseAddress, $0.count, 0) }
            var received: [UInt8] = []
            for _ in 0..<100 where received.count < bytes.count {
                loop.runOnce(timeoutMilliseconds: 10)
                drain(receiver, into: &received)
            }
            return received
        }
        let query = Array("Q\u{0}\u{0}\u{0}\u{d}SELECT 1\u{0}".utf8)
        #expect(relayed(query, from: clientOuter, to: serverOuter) == query)
        let reply = Array("Z\u{0}\u{0}\u{0}\u{5}I".utf8)
        #expect(relayed(reply, from: serverOuter, to: clientOuter) == reply)

        shutdown(clientOuter, Int32(SHUT_WR))
        for _ in 0..<100 where !client.sawClose { loop.runOnce(timeoutMilliseconds: 10) }
        #expect(client.sawClose)
        loop.runOnce(timeoutMilliseconds: 0)
        #expect(loop.registrationCount == 1)
        server.connection.close()
        #expect(loop.registrationCount == 0)
    }

    @Test func stoppingReadingLeavesBytesInTheKernel() throws {
        let loop = try EventLoop()
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let pump = Pump(SocketConnection(descriptor: mine, loop: loop))
        try pump.connection.register(handler: pump)
        pump.connection.setReading(false)
        let bytes: [UInt8] = [1, 2, 3]
        _ = bytes.withUnsafeBytes { send(theirs, $0.baseAddress, $0.count, 0) }
        loop.runOnce(timeoutMilliseconds: 20)
        #expect(pump.received.isEmpty, "paused: level-triggered readiness must not call the handler")
        pump.connection.setReading(true)
        loop.runOnce(timeoutMilliseconds: 100)
        #expect(pump.received == bytes)
        pump.connection.close()
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        loop.schedule(in: 20_000_000) { fired.append(20) }
        loop.schedule(in: 1_000_000) { fired.append(1) }
        let cancelled = loop.schedule(in: 5_000_000) { fired.append(5) }
        loop.schedule(in: 10_000_000) { fired.append(10) }
        loop.cancel(cancelled)
        let start = MonotonicTime.now()
        while fired.count < 3, MonotonicTime.now() - start < 2_000_000_000 {
            loop.runOnce(timeoutMilliseconds: 5)
        }
        #expect(fired == [1, 10, 20])
        #expect(MonotonicTime.now() - start >= 20_000_000, "no timer fires before its deadline")
    }

    @Test func anotherThreadWakesTheLoopThroughTheMailbox() throws {
        let group = try EventLoopGroup(count: 1)
        let loop = group.loops[0]
        group.start()
        defer { group.stop() }
        let ran = Atomic<Int>(0)
        let onLoop = Atomic<Bool>(false)
        // The loop sleeps in epoll_wait with no timer armed: only the eventfd can wake it.
        for _ in 0..<100 {
            loop.execute {
                ran.add(1, ordering: .relaxed)
                if loop.isInLoop { onLoop.store(true, ordering: .relaxed) }
            }
        }
        let start = MonotonicTime.now()
        while ran.load(ordering: .relaxed) < 100, MonotonicTime.now() - start < 5_000_000_000 {
            usleep(1000)
        }
        let count = ran.load(ordering: .relaxed)
        let ranOnLoop = onLoop.load(ordering: .relaxed)
        #expect(count == 100)
        #expect(ranOnLoop)
        #expect(!loop.isInLoop, "the test thread is not the loop's")
    }

    @Test func listenersAcceptOverTCPAndUnixSockets() throws {
        let loop = try EventLoop()
        var accepted: [CInt] = []
        let tcp = try Listener.tcp(host: "127.0.0.1", port: 0) { descriptor, _ in accepted.append(descriptor) }
        try tcp.start(on: loop)
        let path = "/tmp/spx-dataplane-test-\(getpid()).sock"
        let unixListener = try Listener.unix(path: path) { descriptor, _ in accepted.append(descriptor) }
        try unixListener.start(on: loop)
        #expect(tcp.port > 0)

        let tcpClient = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(tcp.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(tcpClient, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)

        let unixClient = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var unixAddress = sockaddr_un()
        unixAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &unixAddress.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let unixConnected = withUnsafePointer(to: &unixAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(unixClient, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(unixConnected == 0)

        for _ in 0..<100 where accepted.count < 2 { loop.runOnce(timeoutMilliseconds: 10) }
        #expect(accepted.count == 2)
        for descriptor in accepted {
            #expect(fcntl(descriptor, F_GETFL) & O_NONBLOCK != 0, "accepted sockets are non-blocking")
            close(descriptor)
        }
        close(tcpClient)
        close(unixClient)
        tcp.close(on: loop)
        unixListener.close(on: loop)
        #expect(access(path, F_OK) != 0, "the socket file is removed on close")
    }
}
