/// The pool of server connections of one service, as a value type: events in, actions out.
///
/// Invariants: `leased + idle + connecting + closing + probing <= maxConnections` (the hard bound users configure);
/// waiters are served first in, first out; a connection is in exactly one of the states below.
/// Time is passed in as nanoseconds of a monotonic clock so tests can move it by hand.
///
/// Each connection lives on one event loop and is only ever lent to clients of that loop, so a client and
/// its server connection never need a thread hop. The bound is global: when a client on one loop waits
/// while the pool is full of idle connections of another loop, one of those is closed and a new one opened
/// (a trade). Trades stop once every loop holds its share of the bound, proportional to its clients
/// (`clientJoined`): each one costs a backend start, and under load they would otherwise pass connections
/// back and forth between the loops.
public struct PoolStateMachine: Sendable {
    public typealias ConnectionID = Int
    public typealias WaiterID = Int

    enum ConnectionState: Sendable, Equatable {
        case connecting
        case idle(since: UInt64)
        case leased
        case closing
    }

    struct Connection: Sendable {
        var state: ConnectionState
        var createdAt: UInt64
        var generation: Int
        /// The event loop the connection lives on, so a client can be given one on its own loop.
        var loop: Int
    }

    struct Waiter: Sendable {
        var id: WaiterID
        var deadline: UInt64
        var loop: Int
    }

    public private(set) var configuration: PoolConfiguration
    private var connections: [ConnectionID: Connection] = [:]
    /// Idle connections, most recently used last (LIFO keeps the warm ones busy and lets the rest time out).
    private var idle: [ConnectionID] = []
    private var waiters = FIFOQueue<Waiter>()
    private var leasedCount = 0
    private var connectingCount = 0
    /// Closing connections still hold a server backend, so they count against the bound until closed.
    private var closingCount = 0
    /// Health probes' own connections, which count against the bound too (`reserveProbe`).
    private var probingCount = 0
    private var nextConnectionID = 1
    private var generation = 0
    private var isClosed = false

    private var consecutiveFailures = 0
    private var lastConnectError = ""
    /// While set, no new connection is opened before this time (backoff after a failed attempt).
    private var retryNotBefore: UInt64 = 0
    /// Set when a whole round of `retryAttempts` failed. Until `retryNotBefore`, a client that would need a new
    /// connection gets this error at once instead of waiting for a round that cannot start yet.
    private var unavailable: PoolError?
    private var random: SplitMix64
    /// The service's clients per event loop, as the owner reports them; they decide each loop's share.
    private var clientsPerLoop: [Int: Int] = [:]
    private var clientTotal = 0

    public init(configuration: PoolConfiguration, seed: UInt64 = 0x5EED) {
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    public var statistics: PoolStatistics {
        PoolStatistics(
            idle: self.idle.count, leased: self.leasedCount, connecting: self.connectingCount, closing: self.closingCount,
            waiting: self.waiters.count, consecutiveConnectFailures: self.consecutiveFailures,
            probing: self.probingCount
        )
    }

    private var total: Int {
        self.idle.count + self.leasedCount + self.connectingCount + self.closingCount + self.probingCount
    }

    // MARK: Checkout and release (the hot path)

    public enum CheckoutResult: Sendable, Equatable {
        case leased(ConnectionID)
        /// Lent, but it sat idle for `checkDelay` or longer: the owner verifies it, then hands it over, or
        /// releases it as not reusable and checks out again for the same client.
        case check(ConnectionID)
        /// The client waits; the owner opens `open` and closes `close` when they are set.
        case queued(open: ConnectionID?, close: ConnectionID?)
        case failed(PoolError)
    }

    /// A client asks for a server connection. `loop` names the client's event loop (affinity).
    public mutating func checkout(waiter: WaiterID, loop: Int, now: UInt64) -> CheckoutResult {
        if self.isClosed { return .failed(.poolClosed) }
        if !self.hasWaiter(on: loop), let id = self.popIdle(on: loop) {
            let wasIdle = self.connections[id]!.state
            self.connections[id]!.state = .leased
            self.leasedCount += 1
            if case .idle(let since) = wasIdle, let delay = self.configuration.checkDelay, now &- since >= delay {
                return .check(id)
            }
            return .leased(id)
        }
        // The backend failed a whole round of attempts a moment ago and nothing could come back to serve this
        // client: say so now rather than after checkout_timeout.
        if let unavailable = self.unavailable, now < self.retryNotBefore, self.leasedCount == 0,
           self.connectingCount == 0 {
            return .failed(unavailable)
        }
        let deadline = self.configuration.checkoutTimeout == 0 ? UInt64.max : now &+ self.configuration.checkoutTimeout
        self.waiters.append(Waiter(id: waiter, deadline: deadline, loop: loop))
        if let open = self.openIfNeeded(now: now, loop: loop) { return .queued(open: open, close: nil) }
        // Full, but idle connections sit on other loops: trade one for a connection on this loop.
        if self.total >= self.configuration.maxConnections, !self.idle.isEmpty,
           case let held = self.heldPerLoop(),
           let position = self.idle.firstIndex(where: { self.mayTrade(self.connections[$0]!.loop, to: loop, held: held) }) {
            let other = self.idle.remove(at: position)
            self.connections[other]!.state = .closing
            self.closingCount += 1
            return .queued(open: nil, close: other)  // its place opens when it has closed
        }
        return .queued(open: nil, close: nil)
    }

    public enum ReleaseResult: Sendable, Equatable {
        case parked
        case lease(ConnectionID, to: WaiterID)
        /// Close the connection; if `open` is set, also open that one for the waiters.
        case close(ConnectionID, open: ConnectionID?)
    }

    /// A client gives a connection back. `reusable` is false when its state is unknown (broken, mid-query).
    public mutating func release(_ id: ConnectionID, reusable: Bool, now: UInt64) -> ReleaseResult {
        guard var connection = self.connections[id], connection.state == .leased else {
            // Already closed underneath its client (the server went away): nothing to give back.
            return .close(id, open: nil)
        }
        self.leasedCount -= 1
        if !reusable || self.mustRetire(connection, now: now) || self.total >= self.configuration.maxConnections {
            connection.state = .closing
            self.closingCount += 1
            self.connections[id] = connection
            return .close(id, open: self.openIfNeeded(now: now, loop: connection.loop))
        }
        if let waiter = self.waiters.popFirst(where: { $0.loop == connection.loop }) {
            self.leasedCount += 1
            return .lease(id, to: waiter.id)
        }
        if !self.waiters.isEmpty, self.connectingCount + self.closingCount < self.waiters.count,
           case let held = self.heldPerLoop(),
           self.waiters.contains(where: { self.mayTrade(connection.loop, to: $0.loop, held: held) }) {
            // Only clients of other loops wait, and one of them lacks its share: give it this connection's place.
            connection.state = .closing
            self.closingCount += 1
            self.connections[id] = connection
            return .close(id, open: nil)  // connectionClosed opens one for the waiter
        }
        connection.state = .idle(since: now)
        self.connections[id] = connection
        self.idle.append(id)
        return .parked
    }

    /// A waiting client gave up (disconnected). Returns whether it was still waiting.
    public mutating func cancelWaiter(_ waiter: WaiterID) -> Bool {
        !self.waiters.removeAll(where: { $0.id == waiter }).isEmpty
    }

    // MARK: Connection lifecycle events

    public mutating func connectionOpened(_ id: ConnectionID, now: UInt64) -> PoolAction? {
        guard var connection = self.connections[id], connection.state == .connecting else { return nil }
        self.connectingCount -= 1
        self.consecutiveFailures = 0
        self.retryNotBefore = 0
        self.unavailable = nil
        if self.isClosed || connection.generation != self.generation {
            connection.state = .closing
            self.closingCount += 1
            self.connections[id] = connection
            return .closeConnection(id)
        }
        if let waiter = self.waiters.popFirst(where: { $0.loop == connection.loop }) {
            connection.state = .leased
            self.connections[id] = connection
            self.leasedCount += 1
            return .lease(id, to: waiter.id)
        }
        connection.state = .idle(since: now)
        self.connections[id] = connection
        self.idle.append(id)
        return nil
    }

    /// Opening a connection failed. Backs off before the next attempt; after `retryAttempts` failures in a
    /// row every waiting client is told the backend is unavailable.
    public mutating func connectionFailed(_ id: ConnectionID, error: String, now: UInt64) -> [PoolAction] {
        guard let connection = self.connections[id], connection.state == .connecting else { return [] }
        self.connections[id] = nil
        _ = connection
        self.connectingCount -= 1
        self.consecutiveFailures += 1
        self.lastConnectError = error
        var actions: [PoolAction] = []
        if self.consecutiveFailures >= self.configuration.retryAttempts {
            let failure = PoolError.backendUnavailable(attempts: self.consecutiveFailures, lastError: error)
            while let waiter = self.waiters.popFirst() {
                actions.append(.failWaiter(waiter.id, failure))
            }
            // The next client starts a fresh round of attempts, at the slowest pace; until then clients that
            // need a new connection fail at once.
            self.consecutiveFailures = 0
            self.retryNotBefore = now &+ self.configuration.maxBackoff
            self.unavailable = failure
            return actions
        }
        self.retryNotBefore = now &+ self.backoff(afterFailures: self.consecutiveFailures)
        return actions
    }

    /// A connection is gone (closed by us, by the server, or broken while idle or leased).
    public mutating func connectionClosed(_ id: ConnectionID, now: UInt64) -> PoolAction? {
        guard let connection = self.connections.removeValue(forKey: id) else { return nil }
        switch connection.state {
        case .idle: self.idle.removeAll(where: { $0 == id })
        case .leased: self.leasedCount -= 1
        case .connecting: self.connectingCount -= 1
        case .closing: self.closingCount -= 1
        }
        if let open = self.openIfNeeded(now: now, loop: self.loopForNewConnection ?? connection.loop) {
            return .openConnection(open)
        }
        return nil
    }

    // MARK: Health probes

    /// A health probe wants a short-lived connection of its own. It gets a place while the bound has room and no
    /// client waits (clients come first), and holds it until `probeFinished`.
    public mutating func reserveProbe() -> Bool {
        guard !self.isClosed, self.waiters.isEmpty, self.total < self.configuration.maxConnections else { return false }
        self.probingCount += 1
        return true
    }

    /// A probe's connection is closed: its place is free again, maybe for a client that started waiting meanwhile.
    public mutating func probeFinished(now: UInt64) -> PoolAction? {
        guard self.probingCount > 0 else { return nil }
        self.probingCount -= 1
        return self.openIfNeeded(now: now, loop: self.loopForNewConnection ?? 0).map { .openConnection($0) }
    }

    /// A backend host answered again (a health probe saw it come back): forget the failures and the backoff, so
    /// the next client connects at once instead of failing fast. Waiting clients get connections at the next tick.
    public mutating func backendRecovered() {
        self.consecutiveFailures = 0
        self.retryNotBefore = 0
        self.unavailable = nil
    }

    // MARK: Time, configuration, shutdown

    /// Periodic housekeeping: expired waits, idle timeouts, lifetimes, min pool size, due retries.
    public mutating func tick(now: UInt64) -> [PoolAction] {
        var actions: [PoolAction] = []
        for waiter in self.waiters.removeAll(where: { $0.deadline <= now }) {
            actions.append(.failWaiter(waiter.id, .checkoutTimeout))
        }
        var keptIdle: [ConnectionID] = []
        var closed = 0
        for id in self.idle {  // oldest first: only the surplus above min_pool_size times out
            let connection = self.connections[id]!
            guard case .idle(let since) = connection.state else { continue }
            // Connections that will remain open (not counting those already on their way out).
            let remaining = self.total - self.closingCount - self.probingCount - closed
            let idleExpired = self.configuration.idleTimeout > 0 && now &- since >= self.configuration.idleTimeout
            if self.mustRetire(connection, now: now) || remaining > self.configuration.maxConnections
                || (idleExpired && remaining > self.configuration.minConnections) {
                self.connections[id]!.state = .closing
                self.closingCount += 1
                actions.append(.closeConnection(id))
                closed += 1
            } else {
                keptIdle.append(id)
            }
        }
        self.idle = keptIdle
        // Full pool, idle connections on other loops, and clients waiting on a loop with nothing on the way:
        // trade an idle connection for a new one on the waiting loop (it opens once the old one closed).
        if !self.isClosed, self.total >= self.configuration.maxConnections, self.connectingCount == 0,
           let position = self.firstTrade() {
            let id = self.idle.remove(at: position)
            self.connections[id]!.state = .closing
            self.closingCount += 1
            actions.append(.closeConnection(id))
        }
        if !self.isClosed {
            while self.waiters.count > self.connectingCount || self.total < self.configuration.minConnections,
                  let id = self.openIfNeeded(now: now, loop: self.loopForNewConnection ?? 0, forMinimum: true) {
                actions.append(.openConnection(id))
            }
        }
        return actions
    }

    /// Applies new limits in place (reload). Surplus idle connections close at the next tick.
    public mutating func updateConfiguration(_ configuration: PoolConfiguration) {
        self.configuration = configuration
    }

    /// A reload changed the backend: connections made before this call retire. Idle ones close now (none of them is
    /// lent again), leased ones when released, and those still connecting as soon as they open.
    public mutating func retireAllConnections() -> [PoolAction] {
        self.generation += 1
        var actions: [PoolAction] = []
        self.closeIdleConnections(into: &actions)
        return actions
    }

    /// Stops the pool: waiters fail, idle connections close now, leased ones when released.
    public mutating func close() -> [PoolAction] {
        self.isClosed = true
        var actions: [PoolAction] = []
        while let waiter = self.waiters.popFirst() { actions.append(.failWaiter(waiter.id, .poolClosed)) }
        self.closeIdleConnections(into: &actions)
        return actions
    }

    private mutating func closeIdleConnections(into actions: inout [PoolAction]) {
        for id in self.idle {
            self.connections[id]!.state = .closing
            self.closingCount += 1
            actions.append(.closeConnection(id))
        }
        self.idle.removeAll()
    }

    public var isEmpty: Bool { self.connections.isEmpty }

    // MARK: Clients per loop

    /// A client of the service arrived on `loop` (it may check out from now on).
    public mutating func clientJoined(loop: Int) {
        self.clientsPerLoop[loop, default: 0] += 1
        self.clientTotal += 1
    }

    /// A client that joined on `loop` left.
    public mutating func clientLeft(loop: Int) {
        guard let count = self.clientsPerLoop[loop], count > 0 else { return }
        self.clientsPerLoop[loop] = count == 1 ? nil : count - 1
        self.clientTotal -= 1
    }

    /// How many connections `loop` may hold of a full pool: the bound split in proportion to the clients,
    /// at least one for a loop with clients. Nil when the owner reports no clients for the loop.
    func share(of loop: Int) -> Int? {
        guard let clients = self.clientsPerLoop[loop], clients > 0, self.clientTotal > 0 else { return nil }
        return max(1, self.configuration.maxConnections * clients / self.clientTotal)
    }

    /// Connections per loop that serve or will serve its clients (all but the closing ones).
    private func heldPerLoop() -> [Int: Int] {
        var held: [Int: Int] = [:]
        for connection in self.connections.values where connection.state != .closing {
            held[connection.loop, default: 0] += 1
        }
        return held
    }

    /// Whether a connection of loop `donor` may be closed so that one opens for a waiter of loop `needy`:
    /// always when the needy loop holds none; otherwise while it holds less than its share and the donor
    /// more than its own, so trades settle instead of moving connections back and forth.
    private func mayTrade(_ donor: Int, to needy: Int, held: [Int: Int]) -> Bool {
        guard donor != needy else { return false }
        let needyHeld = held[needy] ?? 0
        guard needyHeld > 0, let needyShare = self.share(of: needy) else { return true }
        return needyHeld < needyShare && held[donor] ?? 0 > self.share(of: donor) ?? 0
    }

    /// The position in `idle` of a connection that may be traded for a waiter, the first waiter in queue order
    /// that has one.
    private func firstTrade() -> Int? {
        let held = self.heldPerLoop()
        var position: Int?
        _ = self.waiters.first(where: { waiter in
            position = self.idle.firstIndex(where: { self.mayTrade(self.connections[$0]!.loop, to: waiter.loop, held: held) })
            return position != nil
        })
        return position
    }

    /// Where a connection opened for the waiters goes: the loop of the first waiter whose loop holds less than its
    /// share (or none), else the first waiter's.
    private var loopForNewConnection: Int? {
        guard let first = self.waiters.first else { return nil }
        let held = self.heldPerLoop()
        let short = self.waiters.first(where: { waiter in
            let count = held[waiter.loop] ?? 0
            return count == 0 || count < self.share(of: waiter.loop) ?? Int.max
        })
        return (short ?? first).loop
    }

    // MARK: Helpers

    private func hasWaiter(on loop: Int) -> Bool {
        guard let first = self.waiters.first else { return false }
        return first.loop == loop || self.waiters.contains(where: { $0.loop == loop })
    }

    /// The most recently used idle connection on `loop`.
    private mutating func popIdle(on loop: Int) -> ConnectionID? {
        var index = self.idle.count - 1
        while index >= 0 {
            if self.connections[self.idle[index]]!.loop == loop { return self.idle.remove(at: index) }
            index -= 1
        }
        return nil
    }

    /// Opens a connection when a waiter needs one, the bound allows it and no backoff is pending.
    private mutating func openIfNeeded(now: UInt64, loop: Int, forMinimum: Bool = false) -> ConnectionID? {
        guard !self.isClosed, self.total < self.configuration.maxConnections,
              now >= self.retryNotBefore else {
            return nil
        }
        let wanted = self.waiters.count > self.connectingCount
            || (forMinimum && self.total < self.configuration.minConnections)
        guard wanted else { return nil }
        // While failing, probe with one connection at a time.
        if self.consecutiveFailures > 0 && self.connectingCount > 0 { return nil }
        self.unavailable = nil  // a new round starts
        let id = self.nextConnectionID
        self.nextConnectionID += 1
        self.connections[id] = Connection(state: .connecting, createdAt: now, generation: self.generation, loop: loop)
        self.connectingCount += 1
        return id
    }

    private func mustRetire(_ connection: Connection, now: UInt64) -> Bool {
        if connection.generation != self.generation || self.isClosed { return true }
        return self.configuration.maxLifetime > 0 && now &- connection.createdAt >= self.configuration.maxLifetime
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, capped at max_backoff.
    private mutating func backoff(afterFailures failures: Int) -> UInt64 {
        let exponent = failures - 1
        let initial = self.configuration.initialBackoff
        let base = exponent >= initial.leadingZeroBitCount
            ? self.configuration.maxBackoff : min(self.configuration.maxBackoff, initial << UInt64(exponent))
        let half = base / 2
        return half + (half == 0 ? 0 : self.random.next() % (half + 1))
    }

    /// The earliest time a retry may start, for the owner's timer (0 when none is pending).
    public var nextRetryTime: UInt64 { self.retryNotBefore }
    public var lastError: String { self.lastConnectError }

    /// The loop a connection lives on.
    public func loop(of id: ConnectionID) -> Int? { self.connections[id]?.loop }
}

/// A tiny deterministic random generator so backoff jitter is reproducible in tests.
struct SplitMix64: Sendable {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
