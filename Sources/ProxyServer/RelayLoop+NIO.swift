import DataPlane
import Dispatch
import NIOCore

/// The relay's event loops (DataPlane, epoll) are what the proxy's connections run on.
typealias RelayLoop = DataPlane.EventLoop

/// The relay loop speaks NIO's `EventLoop` protocol, so the pool, connector and health checks keep using
/// `EventLoopFuture`s, promises and `scheduleTask` for their rare, non-hot-path work (connects, logins, checks,
/// timeouts) while the sockets themselves are the loop's own. Off the loop, each call hops through the mailbox.
extension DataPlane.EventLoop: NIOCore.EventLoopGroup, NIOCore.EventLoop {
    public var inEventLoop: Bool { self.isInLoop }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let now = NIODeadline.now()
        let delay = deadline > now ? UInt64((deadline - now).nanoseconds) : 0
        return self.scheduleTask(in: .nanoseconds(Int64(delay)), task)
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = self.makePromise()
        let nanoseconds = UInt64(max(0, delay.nanoseconds))
        let timer = TimerSlot()
        let arm: @Sendable () -> Void = {
            guard !timer.cancelled else { return }
            timer.id = self.schedule(in: nanoseconds) {
                timer.id = nil
                // On the loop: the value never crosses a thread, whatever T is.
                let isolated = promise.assumeIsolatedUnsafeUnchecked()
                do { isolated.succeed(try task()) } catch { promise.fail(error) }
            }
        }
        if self.isInLoop { arm() } else { self.execute(arm) }
        return Scheduled(promise: promise, cancellationTask: {
            let cancel: @Sendable () -> Void = {
                timer.cancelled = true
                if let id = timer.id { self.cancel(id) }
                timer.id = nil
            }
            if self.isInLoop { cancel() } else { self.execute(cancel) }
        })
    }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        self.stop()
        queue.async { callback(nil) }
    }
}

/// A scheduled task's timer, touched only on its loop.
private final class TimerSlot: @unchecked Sendable {
    var id: DataPlane.EventLoop.TimerID?
    var cancelled = false
}
