#if canImport(Glibc)
import Glibc
#endif

/// Non-blocking outgoing connections on an event loop: TCP (a numeric address at once, a host name resolved on a
/// thread of its own so the loop never blocks on DNS; its addresses tried in order) or a Unix-domain socket path.
public final class Connector: EventHandler, @unchecked Sendable {  // used on its loop only
    public typealias Completion = (Result<CInt, DataPlaneError>) -> Void

    private unowned(unsafe) let loop: EventLoop
    private var completion: Completion?
    private var candidates: [Candidate] = []
    private var descriptor: CInt = -1
    private var token: EventLoop.Token?
    private var lastError: DataPlaneError = .invalidAddress("no address")

    private struct Candidate {
        var family: CInt
        var address: [UInt8]
        var isTCP: Bool
    }

    private init(loop: EventLoop, completion: @escaping Completion) {
        self.loop = loop
        self.completion = completion
    }

    /// Connects to `host:port`; `completion` runs on `loop` with a connected non-blocking descriptor (the caller
    /// owns it) or the error. Call on the loop. The returned connector can `cancel()` until then.
    @discardableResult
    public static func connect(host: String, port: Int, on loop: EventLoop, completion: @escaping Completion) -> Connector {
        let connector = Connector(loop: loop, completion: completion)
        if let numeric = Self.resolve(host: host, port: port, numericOnly: true) {
            connector.candidates = numeric
            loop.execute { connector.next() }
        } else {
            Self.resolveOnThread(host: host, port: port) { result in
                loop.execute {
                    connector.candidates = result ?? []
                    if result == nil { connector.lastError = .invalidAddress("\(host): name not resolved") }
                    connector.next()
                }
            }
        }
        return connector
    }

    /// Connects to the Unix-domain socket at `path`.
    @discardableResult
    public static func connect(unixPath path: String, on loop: EventLoop, completion: @escaping Completion) -> Connector {
        let connector = Connector(loop: loop, completion: completion)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        if path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) {
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path.utf8)
                raw[path.utf8.count] = 0
            }
            let bytes = withUnsafeBytes(of: &address) { Array($0) }
            connector.candidates = [Candidate(family: AF_UNIX, address: bytes, isTCP: false)]
        } else {
            connector.lastError = .invalidAddress(path)
        }
        loop.execute { connector.next() }
        return connector
    }

    /// Stops a connect in progress: the completion is never called, the descriptor closed.
    public func cancel() {
        self.completion = nil
        self.cleanUp(closing: true)
    }

    // MARK: Attempts

    private func next() {
        guard self.completion != nil else { return }
        guard !self.candidates.isEmpty else { return self.finish(.failure(self.lastError)) }
        let candidate = self.candidates.removeFirst()
        let descriptor = socket(candidate.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            self.lastError = .system("socket", errno)
            return self.next()
        }
        if candidate.isTCP {
            var one: CInt = 1
            setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        self.descriptor = descriptor
        let result = candidate.address.withUnsafeBytes { raw in
            Glibc.connect(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if result == 0 { return self.finish(.success(descriptor)) }
        guard errno == EINPROGRESS else {
            self.lastError = .system("connect", errno)
            self.cleanUp(closing: true)
            return self.next()
        }
        do {
            self.token = try self.loop.register(descriptor, handler: self, interest: EventLoop.writable)
        } catch {
            self.lastError = error
            self.cleanUp(closing: true)
            self.next()
        }
    }

    public func handle(_ events: UInt32, on loop: EventLoop) {
        var code: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        getsockopt(self.descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
        if code == 0, events & EventLoop.error == 0 {
            if let token { loop.deregister(token) }
            self.token = nil
            return self.finish(.success(self.descriptor))
        }
        self.lastError = .system("connect", code == 0 ? ECONNREFUSED : code)
        self.cleanUp(closing: true)
        self.next()
    }

    private func finish(_ result: Result<CInt, DataPlaneError>) {
        if case .success = result { self.descriptor = -1 }  // the caller's now
        let completion = self.completion
        self.completion = nil
        self.cleanUp(closing: true)
        completion?(result)
    }

    private func cleanUp(closing: Bool) {
        if let token { self.loop.deregister(token) }
        self.token = nil
        if closing, self.descriptor >= 0 { close(self.descriptor) }
        self.descriptor = -1
    }

    // MARK: Resolution

    private static func resolve(host: String, port: Int, numericOnly: Bool) -> [Candidate]? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        if numericOnly { hints.ai_flags = AI_NUMERICHOST }
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0 else { return nil }
        defer { freeaddrinfo(found) }
        var candidates: [Candidate] = []
        var entry = found
        while let info = entry {
            let bytes = Array(UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            candidates.append(Candidate(family: info.pointee.ai_family, address: bytes, isTCP: true))
            entry = info.pointee.ai_next
        }
        return candidates
    }

    private final class Resolution: @unchecked Sendable {
        let host: String
        let port: Int
        let done: ([Candidate]?) -> Void
        init(host: String, port: Int, done: @escaping ([Candidate]?) -> Void) {
            self.host = host
            self.port = port
            self.done = done
        }
    }

    /// getaddrinfo blocks: it runs on a short-lived thread, never on a loop.
    private static func resolveOnThread(host: String, port: Int, done: @escaping ([Candidate]?) -> Void) {
        let job = Unmanaged.passRetained(Resolution(host: host, port: port, done: done))
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, CInt(PTHREAD_CREATE_DETACHED))
        let created = pthread_create(&thread, &attributes, { argument in
            let job = Unmanaged<Resolution>.fromOpaque(argument!).takeRetainedValue()
            job.done(Connector.resolve(host: job.host, port: job.port, numericOnly: false))
            return nil
        }, job.toOpaque())
        pthread_attr_destroy(&attributes)
        if created != 0 {
            job.release()
            done(nil)
        }
    }
}
