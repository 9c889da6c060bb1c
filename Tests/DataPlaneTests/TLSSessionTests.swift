#if canImport(Glibc)
import Glibc
#endif
import DataPlane
import Foundation
import Testing

/// A CA and a server certificate for "localhost", made with the openssl CLI in a temporary directory.
private let certificates: URL = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dataplane-tls-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    func openssl(_ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
    }
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test ca",
             "-keyout", "ca.key", "-out", "ca.crt"])
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr"])
    try? "subjectAltName=DNS:localhost\n".write(to: directory.appendingPathComponent("ext"), atomically: true,
                                                encoding: .utf8)
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "7",
             "-days", "1", "-extfile", "ext", "-out", "server.crt"])
    return directory
}()

private func path(_ name: String) -> String { certificates.appendingPathComponent(name).path }

/// Receives on every event while TLS is on (a handshake may finish on a writable event) and while OpenSSL holds
/// decrypted bytes; sends what is queued when writable.
private final class TLSPump: EventHandler {
    let connection: SocketConnection
    var received: [UInt8] = []
    var failed = false

    init(_ connection: SocketConnection) { self.connection = connection }

    func handle(_ events: UInt32, on loop: EventLoop) {
        if events & EventLoop.writable != 0, !self.connection.sendQueued() { self.failed = true }
        repeat {
            switch self.connection.receive(into: loop.readBuffer) {
            case .bytes(let count): self.received += UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count])
            case .closed, .failed: self.failed = true; return
            case .wouldBlock: return
            }
        } while self.connection.hasBufferedInput
    }
}

private func pair(loop: EventLoop, client: TLSContext, hostName: String) throws -> (TLSPump, TLSPump) {
    var descriptors: [CInt] = [0, 0]
    precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0)
    // Small kernel buffers: sends are partial, so SSL_write's retries and the queue are exercised.
    var size: CInt = 4096
    for descriptor in descriptors {
        setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
    }
    let serverContext = try TLSContext(role: .server, certificateFile: path("server.crt"), keyFile: path("server.key"))
    let server = TLSPump(SocketConnection(descriptor: descriptors[0], loop: loop))
    let clientPump = TLSPump(SocketConnection(descriptor: descriptors[1], loop: loop))
    try server.connection.register(handler: server)
    try clientPump.connection.register(handler: clientPump)
    #expect(server.connection.startTLS(try serverContext.makeSession(descriptor: descriptors[0])))
    #expect(clientPump.connection.startTLS(try client.makeSession(descriptor: descriptors[1], hostName: hostName)))
    return (server, clientPump)
}

@Suite struct TLSSessionTests {
    @Test func bytesCrossAVerifiedSessionBothWaysWithPartialWrites() throws {
        let loop = try EventLoop()
        let client = try TLSContext(role: .client, caFile: path("ca.crt"), verification: .chainAndHost)
        let (server, clientPump) = try pair(loop: loop, client: client, hostName: "localhost")
        // Sent before the handshake is done: queued, then encrypted after it.
        let request = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        _ = request.withUnsafeBytes { clientPump.connection.send($0) }
        for _ in 0..<2000 where server.received.count < request.count && !server.failed {
            loop.runOnce(timeoutMilliseconds: 5)
        }
        #expect(server.received == request)
        #expect(clientPump.connection.tls?.isEstablished == true)
        #expect(server.connection.tls?.serverEndPoint?.count == 32, "SHA-256 of an RSA-SHA256 certificate")
        #expect(server.connection.tls?.serverEndPoint == clientPump.connection.tls?.serverEndPoint)

        let reply = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        _ = reply.withUnsafeBytes { server.connection.send($0) }
        for _ in 0..<2000 where clientPump.received.count < reply.count && !clientPump.failed {
            loop.runOnce(timeoutMilliseconds: 5)
        }
        #expect(clientPump.received == reply)
        server.connection.close()
        clientPump.connection.close()
    }

    @Test func aWrongHostNameFailsTheHandshakeWithTheReason() throws {
        let loop = try EventLoop()
        let client = try TLSContext(role: .client, caFile: path("ca.crt"), verification: .chainAndHost)
        let (server, clientPump) = try pair(loop: loop, client: client, hostName: "db.example.com")
        for _ in 0..<500 where !clientPump.failed { loop.runOnce(timeoutMilliseconds: 5) }
        #expect(clientPump.failed)
        let reason = clientPump.connection.tls?.failureReason ?? ""
        #expect(reason.contains("certificate verify failed") && reason.contains("mismatch"), "\(reason)")
        server.connection.close()
        clientPump.connection.close()
    }

    @Test func badFilesAreRefusedWithOpenSSLsReason() {
        #expect(throws: TLSError.self) {
            try TLSContext(role: .server, certificateFile: path("server.crt"), keyFile: path("ca.key"))
        }
        #expect(throws: TLSError.self) { try TLSContext(role: .server, certificateFile: "/nonexistent.crt") }
        #expect(throws: TLSError.self) { try TLSContext(role: .client, verification: .chain) }
    }
}
