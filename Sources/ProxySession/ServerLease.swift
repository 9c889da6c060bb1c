import NIOCore

/// A client session's hold on a server connection, kept in one place: none, waiting for the pool, or a
/// connection lent to it. Each event returns what the I/O shell must do, so the shell never decides on its own
/// whether a connection goes back to the pool, is reset first, or is closed.
public struct ServerLease<Server: AnyObject> {
    public enum State {
        case none
        /// Asked the pool; `since` is when, for the checkout-wait histogram (nil when durations are not kept).
        case waiting(since: NIODeadline?)
        case leased(Server)
    }

    public private(set) var state: State = .none

    public init() {}

    /// The server connection lent now.
    @inlinable
    public var server: Server? {
        if case .leased(let server) = self.state { return server }
        return nil
    }

    public var isWaiting: Bool {
        if case .waiting = self.state { return true }
        return false
    }

    /// Neither lent a connection nor waiting for one.
    public var isFree: Bool {
        if case .none = self.state { return true }
        return false
    }

    /// The client needs a server connection: true when the pool must be asked (not while one is lent or asked for).
    public mutating func request(now: NIODeadline?) -> Bool {
        guard case .none = self.state else { return false }
        self.state = .waiting(since: now)
        return true
    }

    public enum Arrival {
        /// Use it; `waitedSince` is when the wait began.
        case use(waitedSince: NIODeadline?)
        /// Nobody waits for it any more (the client left or no longer needs it): it goes back to the pool as it is.
        case giveBack
    }

    /// The pool lent `server`.
    public mutating func arrived(_ server: Server) -> Arrival {
        guard case .waiting(let since) = self.state else { return .giveBack }
        self.state = .leased(server)
        return .use(waitedSince: since)
    }

    /// The pool could not lend one: true when the client was waiting (and must be told).
    public mutating func checkoutFailed() -> Bool {
        guard case .waiting = self.state else { return false }
        self.state = .none
        return true
    }

    /// The transaction (transaction pooling) is over, or the server connection is lost or gone for a retry:
    /// the connection lent, if it is `server` (any when nil), is no longer the client's.
    public mutating func end(_ server: Server? = nil) -> Server? {
        guard case .leased(let lent) = self.state, server == nil || lent === server else { return nil }
        self.state = .none
        return lent
    }

    /// How a server connection is given back when its client goes away (or is closed with an error).
    public enum GiveBack: Equatable {
        /// Nothing was lent.
        case nothing
        /// The client was waiting: withdraw from the pool's queue.
        case cancelWaiting
        /// Back to the pool: clean, or (not reusable) to be closed because a statement is in flight.
        case release(reusable: Bool)
        /// These statements run first (ROLLBACK of an open transaction, DISCARD ALL in session pooling).
        case reset([String])
    }

    /// The client is gone: what happens to its lease, by where its transaction stands.
    public mutating func clientGone(tracker: TransactionTracker, sessionPooling: Bool) -> (GiveBack, Server?) {
        switch self.state {
        case .none:
            return (.nothing, nil)
        case .waiting:
            self.state = .none
            return (.cancelWaiting, nil)
        case .leased(let server):
            self.state = .none
            if tracker.isAtTransactionBoundary {
                return (sessionPooling ? .reset(["DISCARD ALL"]) : .release(reusable: true), server)
            }
            if tracker.isQuiet {
                return (.reset(sessionPooling ? ["ROLLBACK", "DISCARD ALL"] : ["ROLLBACK"]), server)
            }
            return (.release(reusable: false), server)
        }
    }
}
