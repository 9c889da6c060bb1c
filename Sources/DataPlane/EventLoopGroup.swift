#if canImport(Glibc)
import Glibc
#endif

/// Event loops, each on a thread of its own, started together and stopped together.
public final class EventLoopGroup: @unchecked Sendable {
    public let loops: [EventLoop]
    private var threads: [pthread_t] = []

    public init(count: Int) throws(DataPlaneError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, count) { loops.append(try EventLoop(index: index)) }
        self.loops = loops
    }

    /// Starts one thread per loop.
    public func start() {
        for loop in self.loops {
            let box = Unmanaged.passRetained(loop)
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { argument in
                let loop = Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue()
                loop.run()
                return nil
            }, box.toOpaque())
            precondition(created == 0, "pthread_create failed: \(created)")
            self.threads.append(thread)
        }
    }

    /// Stops every loop and waits for its thread to end.
    public func stop() {
        for loop in self.loops { loop.stop() }
        for thread in self.threads { pthread_join(thread, nil) }
        self.threads.removeAll()
    }
}
