#if canImport(Glibc)
import Glibc
#endif
import CEventShim

/// A listening socket on an event loop: accepts every pending connection when it is readable and hands each new
/// descriptor (non-blocking, close-on-exec) to `accepted`.
public final class Listener: EventHandler, @unchecked Sendable {  // used on its loop only
    public let descriptor: CInt
    /// What `describe` printed: `127.0.0.1:6432` or the socket's path.
    public let address: String
    private let accepted: (CInt, EventLoop) -> Void
    private var token: EventLoop.Token?
    /// A Unix socket's path, removed when the listener closes.
    private let socketPath: String?

    private init(descriptor: CInt, address: String, socketPath: String?, accepted: @escaping (CInt, EventLoop) -> Void) {
        self.descriptor = descriptor
        self.address = address
        self.socketPath = socketPath
        self.accepted = accepted
    }

    /// Listens on a TCP address (`host` is a numeric IPv4 or IPv6 address; port 0 picks a free one).
    public static func tcp(host: String, port: Int, backlog: CInt = 1024,
                           accepted: @escaping (CInt, EventLoop) -> Void) throws(DataPlaneError) -> Listener {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else {
            throw .invalidAddress("\(host):\(port)")
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system("socket", errno) }
        var one: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        guard bind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw .system("bind \(host):\(port)", code)
        }
        guard listen(descriptor, backlog) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw .system("listen", code)
        }
        return Listener(descriptor: descriptor, address: "\(host):\(Self.boundPort(descriptor))", socketPath: nil,
                        accepted: accepted)
    }

    /// Listens on a Unix-domain socket at `path` (a stale socket file left by a process that died is replaced).
    public static func unix(path: String, backlog: CInt = 1024, mode: mode_t = 0o777,
                            accepted: @escaping (CInt, EventLoop) -> Void) throws(DataPlaneError) -> Listener {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .invalidAddress(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system("socket", errno) }
        var existing = stat()
        if lstat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw .system("bind \(path)", code)
        }
        chmod(path, mode)
        guard listen(descriptor, backlog) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            unlink(path)
            throw .system("listen", code)
        }
        return Listener(descriptor: descriptor, address: path, socketPath: path, accepted: accepted)
    }

    private static func boundPort(_ descriptor: CInt) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard ok == 0 else { return 0 }
        let family = storage.ss_family
        return withUnsafeBytes(of: &storage) { raw -> Int in
            if family == sa_family_t(AF_INET6) {
                return Int(UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)!, as: UInt16.self)))
            }
            return Int(UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: UInt16.self)))
        }
    }

    /// The TCP port bound (useful with port 0); 0 for a Unix socket.
    public var port: Int { self.socketPath == nil ? Self.boundPort(self.descriptor) : 0 }

    public func start(on loop: EventLoop) throws(DataPlaneError) {
        self.token = try loop.register(self.descriptor, handler: self)
    }

    /// Stops listening (on the loop it was started on).
    public func close(on loop: EventLoop) {
        if let token { loop.deregister(token) }
        self.token = nil
        Glibc.close(self.descriptor)
        if let socketPath { unlink(socketPath) }
    }

    public func handle(_ events: UInt32, on loop: EventLoop) {
        // Level-triggered: a backlog longer than this batch is seen again at the next wait.
        for _ in 0..<64 {
            let descriptor = spx_accept(self.descriptor)
            guard descriptor >= 0 else {
                if errno == EMFILE || errno == ENFILE, let token {
                    // Out of descriptors: the backlog would wake the loop at once, forever. Pause accepting for
                    // a moment; connections that close meanwhile give descriptors back.
                    loop.setInterest(token, 0)
                    loop.schedule(in: 100_000_000) { [weak self] in
                        guard let self, let token = self.token else { return }
                        loop.setInterest(token, EventLoop.readable)
                    }
                }
                return  // EAGAIN, or an error of that one connection (ECONNABORTED)
            }
            self.accepted(descriptor, loop)
        }
    }
}

extension Listener {
    /// The peer of an accepted socket as `address:port` (`[v6]:port`), or `unix` for a Unix-domain socket.
    public static func peerDescription(_ descriptor: CInt) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let family = storage.ss_family
        if family == sa_family_t(AF_UNIX) { return "unix" }
        let found = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                            NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard found == 0 else { return "?" }
        let address = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == sa_family_t(AF_INET6) ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Whether this listener accepts TCP connections (for TCP_NODELAY on them).
    public var isTCP: Bool { self.socketPath == nil }
}
